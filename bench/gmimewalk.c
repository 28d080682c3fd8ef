/*
 * gmimewalk - the bare GMime walk that mailparse is measured against.
 *
 * It does the work no MIME-to-JSON tool can avoid and nothing else: split
 * an mbox at "From " lines, parse each message with GMime 3 and decode
 * every leaf part into a null stream.  No JSON, no hashing, no spool, no
 * charset conversion, no mboxrd unescaping.
 *
 * The file is read with large read()s into one GByteArray behind a
 * GMimeStreamMem; each message goes to the parser as a substream of that
 * buffer, and GMime's persistent-stream mode makes every part's content a
 * substream of it too, so no message is copied before GMime's own reads.
 * A message is freed before the buffer moves, so no substream outlives
 * the bytes it points at.
 *
 * Two options add, one at a time or both, work mailparse cannot leave out,
 * so that bench/run can show how much of GMime's time is left for the rest:
 *   -w  a warning callback (it only counts).  mailparse needs one for its
 *       defects, and with one set GMime decodes every header it adds.
 *   -d  the digests every record carries: SHA-256 of each message, MD5,
 *       SHA-1 and SHA-256 of each leaf, decoded into memory to be hashed.
 *
 * Output, one line on stdout: "N messages B bytes P parts D decoded",
 * then " W warnings" with -w.
 */

#define _GNU_SOURCE		/* memmem(3) in glibc */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <gmime/gmime.h>
#include <openssl/evp.h>

/* Size of each read(); the buffer only grows past it for a longer message. */
#define CHUNK		(8 * 1024 * 1024)

struct walk {
	GMimeStream	*mem;		/* the whole read buffer */
	GMimeStream	*null;		/* where decoded content goes */
	unsigned long	 messages;
	unsigned long	 parts;
	unsigned long	 failed;	/* messages GMime returned NULL for */
	unsigned long	 warnings;	/* calls of the -w callback */
	unsigned long long decoded;	/* bytes decoded with -d */
	GMimeParserOptions *opts;	/* with -w, NULL without */
	int		 digests;	/* -d */
	EVP_MD		*md5, *sha1, *sha256;
	GByteArray	*leaf;		/* with -d, a leaf decoded */
};

static void	usage(void);
static void	digest(EVP_MD *, const void *, size_t);
static void	on_warning(gint64, GMimeParserWarning, const gchar *, gpointer);
static void	decode(GMimePart *, struct walk *);
static void	walk_message(struct walk *, size_t, size_t);
static void	record(struct walk *, const guint8 *, size_t, size_t);
static int	split(int, struct walk *, off_t *);

static const char *progname = "gmimewalk";

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dw] [mbox]\n", progname);
	exit(EX_USAGE);
}

static void
digest(EVP_MD *md, const void *data, size_t len)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (!EVP_Digest(data, len, out, &n, md, NULL)) {
		fprintf(stderr, "%s: digest failed\n", progname);
		exit(EX_SOFTWARE);
	}
}

static void
on_warning(gint64 offset, GMimeParserWarning code, const gchar *item,
    gpointer arg)
{
	struct walk *w = arg;

	(void)offset;
	(void)code;
	(void)item;
	w->warnings++;
}

static void
decode(GMimePart *part, struct walk *w)
{
	GMimeDataWrapper *content;

	GMimeStream *mem;

	w->parts++;
	if ((content = g_mime_part_get_content(part)) == NULL)
		return;
	if (!w->digests) {
		g_mime_data_wrapper_write_to_stream(content, w->null);
		return;
	}
	/* The stream does not own the array: it is kept for the next leaf. */
	g_byte_array_set_size(w->leaf, 0);
	mem = g_mime_stream_mem_new_with_byte_array(w->leaf);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	g_mime_data_wrapper_write_to_stream(content, mem);
	g_object_unref(mem);
	w->decoded += w->leaf->len;
	digest(w->md5, w->leaf->data, w->leaf->len);
	digest(w->sha1, w->leaf->data, w->leaf->len);
	digest(w->sha256, w->leaf->data, w->leaf->len);
}

/* Parse buf[start, end) and decode each leaf, nested messages included. */
static void
walk_message(struct walk *w, size_t start, size_t end)
{
	GMimeStream *sub;
	GMimeParser *parser;
	GMimeMessage *msg;
	GMimeObject *top, *cur;
	GMimePartIter *iter;

	sub = g_mime_stream_substream(w->mem, start, end);
	parser = g_mime_parser_new_with_stream(sub);
	msg = g_mime_parser_construct_message(parser, w->opts);
	g_object_unref(parser);
	g_object_unref(sub);
	w->messages++;
	if (msg == NULL) {
		w->failed++;
		return;
	}

	/*
	 * GMimePartIter starts at the first child of the top-level part,
	 * so a message that is one single part needs handling by hand.
	 */
	top = g_mime_message_get_mime_part(msg);
	if (top != NULL && GMIME_IS_PART(top))
		decode((GMimePart *)top, w);
	else if (top != NULL) {
		iter = g_mime_part_iter_new((GMimeObject *)msg);
		while (g_mime_part_iter_is_valid(iter)) {
			cur = g_mime_part_iter_get_current(iter);
			if (GMIME_IS_PART(cur))
				decode((GMimePart *)cur, w);
			if (!g_mime_part_iter_next(iter))
				break;
		}
		g_mime_part_iter_free(iter);
	}
	g_object_unref(msg);
}

/* One mbox record at buf[start, end): drop its From_ line, parse the rest. */
static void
record(struct walk *w, const guint8 *buf, size_t start, size_t end)
{
	const guint8 *nl;

	if (end - start >= 5 && memcmp(buf + start, "From ", 5) == 0) {
		nl = memchr(buf + start, '\n', end - start);
		start = nl == NULL ? end : (size_t)(nl - buf) + 1;
	}
	if (w->digests)
		digest(w->sha256, buf + start, end - start);
	walk_message(w, start, end);
}

/*
 * A record runs from a line beginning "From " up to the next one; bytes
 * before the first From_ line, if any, make a record of their own.
 */
static int
split(int fd, struct walk *w, off_t *total)
{
	GByteArray *buf;
	const guint8 *p;
	size_t cap = CHUNK, fill = 0, pos = 0, scan = 0;
	ssize_t n;
	int eof = 0;

	buf = g_byte_array_sized_new(cap);
	g_byte_array_set_size(buf, cap);
	w->mem = g_mime_stream_mem_new_with_byte_array(buf);

	for (;;) {
		p = NULL;
		if (fill - scan >= 6)
			p = memmem(buf->data + scan, fill - scan, "\nFrom ", 6);
		if (p != NULL) {
			scan = (size_t)(p - buf->data) + 1;
			record(w, buf->data, pos, scan);
			pos = scan;
			continue;
		}
		if (eof) {
			if (pos < fill)
				record(w, buf->data, pos, fill);
			break;
		}

		/* Keep the unfinished record, move it to the front, read on. */
		scan = fill - pos >= 5 ? fill - 5 : pos;
		if (pos > 0) {
			memmove(buf->data, buf->data + pos, fill - pos);
			fill -= pos;
			scan -= pos;
			pos = 0;
		}
		if (fill == cap) {
			if (cap > SIZE_MAX / 2 || cap * 2 > G_MAXUINT) {
				fprintf(stderr, "%s: message too large\n",
				    progname);
				goto fail;
			}
			cap *= 2;
			g_byte_array_set_size(buf, cap);
		}
		while ((n = read(fd, buf->data + fill, cap - fill)) == -1 &&
		    errno == EINTR)
			;
		if (n == -1) {
			fprintf(stderr, "%s: read: %s\n", progname,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			eof = 1;
		fill += n;
		*total += n;
	}
	g_object_unref(w->mem);
	return 0;

fail:
	g_object_unref(w->mem);
	return -1;
}

int
main(int argc, char *argv[])
{
	struct walk w;
	off_t total = 0;
	int c, fd, warn = 0;

	if (argc > 0 && argv[0] != NULL && strrchr(argv[0], '/') != NULL)
		progname = strrchr(argv[0], '/') + 1;
	memset(&w, 0, sizeof(w));
	while ((c = getopt(argc, argv, "dw")) != -1)
		switch (c) {
		case 'd':
			w.digests = 1;
			break;
		case 'w':
			warn = 1;
			break;
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();

	if (argc == 0 || strcmp(argv[0], "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(argv[0], O_RDONLY)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", progname, argv[0],
		    strerror(errno));
		return EX_NOINPUT;
	}

	g_mime_init();
	w.null = g_mime_stream_null_new();
	if (warn) {
		w.opts = g_mime_parser_options_new();
		g_mime_parser_options_set_warning_callback(w.opts, on_warning,
		    &w);
	}
	if (w.digests) {
		w.md5 = EVP_MD_fetch(NULL, "MD5", NULL);
		w.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
		w.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (w.md5 == NULL || w.sha1 == NULL || w.sha256 == NULL) {
			fprintf(stderr, "%s: MD5, SHA-1 or SHA-256 "
			    "unavailable\n", progname);
			return EX_SOFTWARE;
		}
		w.leaf = g_byte_array_new();
	}
	if (split(fd, &w, &total) == -1)
		return EX_IOERR;

	if (!w.digests)
		w.decoded = GMIME_STREAM_NULL(w.null)->written;
	printf("%lu messages %lld bytes %lu parts %llu decoded",
	    w.messages, (long long)total, w.parts, w.decoded);
	if (warn)
		printf(" %lu warnings", w.warnings);
	printf("\n");
	if (w.failed > 0)
		fprintf(stderr, "%s: %lu messages failed to parse\n",
		    progname, w.failed);
	g_object_unref(w.null);
	if (w.opts != NULL)
		g_mime_parser_options_free(w.opts);
	if (w.digests) {
		g_byte_array_free(w.leaf, TRUE);
		EVP_MD_free(w.md5);
		EVP_MD_free(w.sha1);
		EVP_MD_free(w.sha256);
	}
	g_mime_shutdown();
	return w.failed > 0 ? EX_DATAERR : 0;
}
