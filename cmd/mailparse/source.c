/*
 * The X-Mailcase-Source line mailfetch writes first in each message it
 * fetches (origin.h).  Anybody can write such a line into a mail, so it
 * is believed only when its signature verifies under the spool's public
 * key keys/source.pub
 * for exactly the bytes it says follow it; then the line is not part of
 * the message and the record's source is the IMAP folder and UID.  Any
 * other such line is an ordinary header of the message, kept with it,
 * and a defect says why it was not believed: a forger gets a record
 * that says it was forged.
 *
 * The key is read at the first such line, not at the start: in
 * "mailfetch | mailparse" both start at once and mailfetch makes the key
 * on its first run.  Until it is there, each such line looks again.
 * mailparse only reads the key; it never makes the spool or the key.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "diag.h"
#include "hash.h"
#include "jsonl.h"
#include "keys.h"
#include "mailparse.h"
#include "msgsrc.h"
#include "origin.h"
#include "xalloc.h"

static struct {
	pthread_mutex_t	 lock;
	char		*dir;		/* spool directory, or NULL: none */
	int		 have;		/* key holds keys/source */
	int		 warned;	/* said once that it cannot be read */
	const char	*why;		/* why there is no key, when none */
	unsigned char	 key[KEY_PUBLIC_BYTES];
} k = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
forget_key(void)
{
	sodium_memzero(k.key, sizeof(k.key));
}

void
source_init(const char *spooldir)
{
	if (sodium_init() == -1) {
		diag(NULL, "libsodium", "cannot initialise");
		exit(EX_OSERR);
	}
	k.dir = spooldir != NULL ? xstrdup(spooldir) : NULL;
	k.why = spooldir != NULL ? "the spool has no keys/source.pub" :
	    "no spool to read keys/source.pub from";
	atexit(forget_key);
}

/* The key, read now if it was not yet; NULL with *why when there is none. */
static const unsigned char *
source_key(const char **why)
{
	const char *whynot;
	int fd, saved, have;

	pthread_mutex_lock(&k.lock);
	if (!k.have && k.dir != NULL) {
		if ((fd = open(k.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
			k.have = key_read_public(fd, "source", k.key) == 0;
			saved = errno;
			close(fd);
			errno = saved;
		}
		if (!k.have && errno != ENOENT) {
			k.why = "keys/source.pub cannot be read";
			/* Not per message: once, for a key that is there. */
			if (!k.warned)
				diag(k.dir, "read keys/source.pub", "%s",
				    strerror(errno));
			k.warned = 1;
		} else if (!k.have)
			k.why = "the spool has no keys/source.pub";
	}
	have = k.have;
	whynot = k.why;
	pthread_mutex_unlock(&k.lock);
	/* have goes from 0 to 1 once, under the lock; the key stays from then. */
	if (have)
		return k.key;
	*why = whynot;
	return NULL;
}

static json_t *
imap_source(const struct origin *o)
{
	json_t *s = json_object();

	json_object_set_new(s, "kind", jsonl_cstr("imap"));
	json_object_set_new(s, "account", jsonl_cstr(o->account));
	json_object_set_new(s, "folder", jsonl_cstr(o->folder));
	json_object_set_new(s, "uidvalidity",
	    json_integer((json_int_t)o->uidvalidity));
	json_object_set_new(s, "uid", json_integer((json_int_t)o->uid));
	return s;
}

int
source_check(const struct rawmsg *m, struct fetched *f)
{
	const unsigned char *key;
	struct origin o;
	size_t skip = 0, avail, slack;
	const char *rest;
	int r;

	memset(f, 0, sizeof(*f));
	if (m->cut || (m->mbox && m->ateof && m->len == 0)) {
		snprintf(f->cut, sizeof(f->cut), "the input ends %s: its writer "
		    "was cut off", m->cut ? "inside a From_ line" :
		    "right after a From_ line");
		return 2;
	}
	/* The input ends inside mailfetch's line: cut before the message. */
	if (m->mbox && m->ateof && memchr(m->data, '\n', m->len) == NULL &&
	    m->len < ORIGIN_LINE_MAX && strncasecmp(m->data, ORIGIN_HEADER,
	    m->len < strlen(ORIGIN_HEADER) ? m->len : strlen(ORIGIN_HEADER)) == 0) {
		snprintf(f->cut, sizeof(f->cut), "the input ends inside an "
		    ORIGIN_HEADER " line: its writer was cut off");
		return 2;
	}
	if ((r = origin_parse(m->data, m->len, &o, &skip)) == 0)
		return 0;
	if (r == -1) {
		f->why = "malformed " ORIGIN_HEADER " header";
		return -1;
	}
	if ((key = source_key(&f->why)) == NULL)
		goto fail;
	if (!origin_check(key, &o)) {
		f->why = "signature does not verify";
		goto fail;
	}
	avail = m->len - skip;
	rest = m->data + skip;
	if (m->toolarge) {
		f->why = "message too large to check";
		goto fail;
	}
	if (o.size > avail) {
		/* mailfetch's own line: its writer died in the middle. */
		snprintf(f->cut, sizeof(f->cut), "cut short on its way: %zu of "
		    "%llu bytes came (mailfetch sends it again)", avail, o.size);
		f->source = imap_source(&o);
		origin_free(&o);
		return 2;
	}
	/* An mbox writer may end a message that has no line end with one. */
	slack = avail - (size_t)o.size;
	if (!(slack == 0 || (slack == 1 && rest[o.size] == '\n') ||
	    (slack == 2 && rest[o.size] == '\r' && rest[o.size + 1] == '\n'))) {
		f->why = "more bytes than its size says";
		goto fail;
	}
	hash_sha256_hex(rest, (size_t)o.size, f->sha256);
	if (strcmp(f->sha256, o.sha256) != 0) {
		f->why = "the bytes are not the ones signed";
		goto fail;
	}
	/* IMAP's are 32-bit numbers (RFC 9051): no JSON integer overflows. */
	if (o.uidvalidity > UINT32_MAX || o.uid > UINT32_MAX) {
		f->why = "uidvalidity or uid beyond 32 bits";
		goto fail;
	}
	f->verified = 1;
	f->data = rest;
	f->len = (size_t)o.size;
	f->uid = o.uid;
	f->source = imap_source(&o);
	origin_source_id(o.folder, o.uid, f->source_id, sizeof(f->source_id));
	origin_free(&o);
	return 1;
fail:
	f->sha256[0] = '\0';
	origin_free(&o);
	return -1;
}
