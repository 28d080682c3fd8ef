# mailcase - mail to cases with Unix filters.  See README.md.
#
#   make            build the tools into bin/
#   make check      install missing packages, build, run every test
#   make demo       run the pipeline on share/demo into a throwaway spool
#   make bench      benchmarks against peer tools (bench/README)
#   make install    PREFIX, DESTDIR, BINDIR, MANDIR, SYSTEMDUSERDIR
#   make clean

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
CC	?= cc
CFLAGS	?= -g -O2

WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
override CFLAGS += -std=gnu11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong \
	-D_FORTIFY_SOURCE=2 -pthread -Icommon -MMD -MP
ifneq ($(WERROR),)
override CFLAGS += -Werror
endif

PKG_COMMON	= jansson libsodium libxml-2.0 libcrypto
PKG_mailparse	= gmime-3.0 libytnef
# jemalloc: mailparse and artifactx allocate and free a tree of objects
# per record, and glibc's malloc spends a tenth of their time on it (and
# scales worse on threads).  The sanitizer build keeps its own allocator.
MALLOC	?= jemalloc

PKG_artifactx	= libpsl libidn2 libxxhash
PKG_codematch	=
PKG_mailfetch	= libcurl
PKG_mailsend	= libcurl gmime-3.0 libcmark-gfm

TOOLS	= mailparse artifactx codematch mailfetch mailsend
COMMON_SRC	= $(wildcard common/*.c)
MAILPARSE_SRC	= $(wildcard cmd/mailparse/*.c)
ARTIFACTX_SRC	= $(wildcard cmd/artifactx/*.c)
CODEMATCH_SRC	= $(wildcard cmd/codematch/*.c)
MAILFETCH_SRC	= $(wildcard cmd/mailfetch/*.c)
MAILSEND_SRC	= $(wildcard cmd/mailsend/*.c)

B	?= build
BIN	?= bin

COMMON_OBJ	= $(COMMON_SRC:%.c=$(B)/%.o)
MAILPARSE_OBJ	= $(MAILPARSE_SRC:%.c=$(B)/%.o)
ARTIFACTX_OBJ	= $(ARTIFACTX_SRC:%.c=$(B)/%.o)
CODEMATCH_OBJ	= $(CODEMATCH_SRC:%.c=$(B)/%.o)
MAILFETCH_OBJ	= $(MAILFETCH_SRC:%.c=$(B)/%.o)
MAILSEND_OBJ	= $(MAILSEND_SRC:%.c=$(B)/%.o)

pkgcflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pkglibs	  = $(shell pkg-config --libs $(1) 2>/dev/null)

all: $(TOOLS:%=$(BIN)/%)

$(B)/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkgcflags,$(PKG_COMMON) gmime-3.0) -c -o $@ $<

$(B)/cmd/mailparse/%.o: cmd/mailparse/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icmd/mailparse $(call pkgcflags,$(PKG_COMMON) $(PKG_mailparse)) -c -o $@ $<

$(B)/cmd/artifactx/%.o: cmd/artifactx/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icmd/artifactx $(call pkgcflags,$(PKG_COMMON) $(PKG_artifactx)) -c -o $@ $<

$(B)/cmd/codematch/%.o: cmd/codematch/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icmd/codematch $(call pkgcflags,$(PKG_COMMON) $(PKG_codematch)) -c -o $@ $<

$(B)/cmd/mailfetch/%.o: cmd/mailfetch/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icmd/mailfetch $(call pkgcflags,$(PKG_COMMON) $(PKG_mailfetch)) -c -o $@ $<

$(B)/cmd/mailsend/%.o: cmd/mailsend/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icmd/mailsend $(call pkgcflags,$(PKG_COMMON) $(PKG_mailsend)) -c -o $@ $<

$(B)/libcommon.a: $(COMMON_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BIN)/mailparse: $(MAILPARSE_OBJ) $(B)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
	    $(call pkglibs,$(PKG_COMMON) $(PKG_mailparse) $(MALLOC))

$(BIN)/artifactx: $(ARTIFACTX_OBJ) $(B)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
	    $(call pkglibs,$(PKG_COMMON) $(PKG_artifactx) $(MALLOC))

$(BIN)/codematch: $(CODEMATCH_OBJ) $(B)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
	    $(call pkglibs,$(PKG_COMMON) $(PKG_codematch) $(MALLOC))

# No jemalloc: mailfetch allocates one buffer per message and reuses it.
$(BIN)/mailfetch: $(MAILFETCH_OBJ) $(B)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
	    $(call pkglibs,$(PKG_COMMON) $(PKG_mailfetch))

# cmark-gfm's table extension has no pkg-config file of its own.
$(BIN)/mailsend: $(MAILSEND_OBJ) $(B)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
	    $(call pkglibs,$(PKG_COMMON) $(PKG_mailsend)) -lcmark-gfm-extensions

# The same tools with AddressSanitizer and UBSan, for the corpus tests.
asan:
	$(MAKE) B=build/asan BIN=build/asan/bin MALLOC= \
	    CFLAGS='-g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' \
	    LDFLAGS='-fsanitize=address,undefined'

# codematch with ThreadSanitizer: it parses on one thread, links on another.
tsan:
	$(MAKE) B=build/tsan BIN=build/tsan/bin MALLOC= \
	    CFLAGS='-g -O1 -fsanitize=thread' LDFLAGS='-fsanitize=thread' \
	    build/tsan/bin/codematch

# Unit tests of common/ (TAP).
UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
$(B)/tests/%: tests/unit/%.c $(B)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkgcflags,$(PKG_COMMON)) -o $@ $< $(B)/libcommon.a \
	    $(call pkglibs,$(PKG_COMMON))

# mailparse's header split on its own: the one unit test outside common/.
$(B)/tests/hdrsplit: tests/unit/hdrsplit.c $(B)/cmd/mailparse/header.o \
    $(B)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icmd/mailparse \
	    $(call pkgcflags,$(PKG_COMMON) $(PKG_mailparse)) -o $@ $< \
	    $(B)/cmd/mailparse/header.o $(B)/libcommon.a \
	    $(call pkglibs,$(PKG_COMMON))

deps:
	@scripts/deps

check: deps
	$(MAKE) all $(UNIT_BIN)
	$(MAKE) asan tsan
	mandoc -Tlint -W warning share/man/man1/*.1 share/man/man5/*.5 \
	    share/man/man7/*.7
	prove -j2 tests/*.t

demo: deps all
	@scripts/demo

bench: all
	@scripts/deps --bench
	$(MAKE) -C bench bench

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(SYSTEMDUSERDIR)
	install -m 755 $(TOOLS:%=$(BIN)/%) $(DESTDIR)$(BINDIR)/
	install -m 755 scripts/mailpoll $(DESTDIR)$(BINDIR)/mailpoll
	sed 's|^ExecStart=/usr/local/bin/mailpoll$$|ExecStart=$(BINDIR)/mailpoll|' \
	    share/systemd/mailpoll.service > $(DESTDIR)$(SYSTEMDUSERDIR)/mailpoll.service
	chmod 644 $(DESTDIR)$(SYSTEMDUSERDIR)/mailpoll.service
	install -m 644 share/systemd/mailpoll.timer $(DESTDIR)$(SYSTEMDUSERDIR)/
	install -m 644 share/man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 share/man/man5/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 share/man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/

clean:
	rm -rf build bin tests/out

.PHONY: all asan tsan deps check demo bench install clean
SHELL = /bin/bash

-include $(shell find build -name '*.d' 2>/dev/null)
