/*
 * The outbox: nothing mailsend accepts is lost.  A message is written to
 * outbox/new (born in tmp/, renamed into place) and made durable with the
 * rest of its batch (one syncfs, by the caller) before a server sees it;
 * once a server took it, it is renamed to outbox/cur and its result
 * written beside it, made durable at the end of the batch.  A crash
 * between a server's 250 and that sync sends it again: at least once,
 * never lost.  A temporary failure leaves it in new/
 * with its tries and the time of the next one; mailsend --flush sends
 * what is due.
 *
 * A queued file is one JSON line (envelope, case, tries) and then the
 * message's bytes.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "hash.h"
#include "jsonl.h"
#include "mailsend.h"
#include "spool.h"
#include "xalloc.h"

/* The wait before try n+1: a minute, doubling, at most six hours. */
static long
backoff(long tries)
{
	long s = 60;

	while (tries-- > 1 && s < 6 * 3600)
		s *= 2;
	return s < 6 * 3600 ? s : 6 * 3600;
}

static int
write_entry(struct spool *sp, const char *rel, json_t *meta, const char *msg,
    size_t len)
{
	size_t mlen;
	char *line = jsonl_dump(meta, &mlen), *buf;
	int r;

	buf = xmalloc(mlen + len);
	memcpy(buf, line, mlen);
	memcpy(buf + mlen, msg, len);
	r = spool_replace_lazy(sp, rel, buf, mlen + len);
	free(buf);
	free(line);
	return r;
}

int
outbox_put(struct spool *sp, const struct outmsg *m, json_t *meta, char *name,
    size_t namesz)
{
	unsigned char rnd[6];
	char hex[13], rel[128];

	randombytes_buf(rnd, sizeof(rnd));
	hash_hex(rnd, sizeof(rnd), hex);
	snprintf(name, namesz, "%lld.%d_%s.mailsend", (long long)time(NULL),
	    (int)getpid(), hex);
	json_object_set_new(meta, "from", jsonl_cstr(m->from));
	json_object_set_new(meta, "rcpt", strv_json(&m->rcpt));
	json_object_set_new(meta, "message_id", jsonl_cstr(m->message_id));
	json_object_set_new(meta, "utf8", json_boolean(m->utf8));
	json_object_set_new(meta, "tries", json_integer(0));
	json_object_set_new(meta, "next", json_integer(0));
	snprintf(rel, sizeof(rel), "outbox/new/%s", name);
	mkdirat(spool_dirfd(sp), "outbox", 0700);
	mkdirat(spool_dirfd(sp), "outbox/cur", 0700);
	return write_entry(sp, rel, meta, m->data, m->len);
}

/* Read outbox/new/name: its meta, and the message into m. */
static json_t *
read_entry(struct spool *sp, const char *name, struct outmsg *m)
{
	struct stat st;
	char rel[128], *buf, *nl;
	json_t *meta, *a, *v;
	ssize_t n;
	size_t i, got = 0;
	int fd;

	memset(m, 0, sizeof(*m));
	snprintf(rel, sizeof(rel), "outbox/new/%s", name);
	if ((fd = openat(spool_dirfd(sp), rel, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size && ((n = read(fd, buf + got,
	    (size_t)st.st_size - got)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	if ((nl = memchr(buf, '\n', got)) == NULL ||
	    (meta = jsonl_parse(buf, (size_t)(nl - buf))) == NULL) {
		free(buf);
		return NULL;
	}
	m->len = got - (size_t)(nl + 1 - buf);
	m->data = xmalloc(m->len + 1);
	memcpy(m->data, nl + 1, m->len);
	m->data[m->len] = '\0';
	free(buf);
	if ((v = json_object_get(meta, "from")) && json_is_string(v))
		m->from = xstrdup(json_string_value(v));
	if ((v = json_object_get(meta, "message_id")) && json_is_string(v))
		m->message_id = xstrdup(json_string_value(v));
	m->utf8 = json_is_true(json_object_get(meta, "utf8"));
	json_array_foreach(json_object_get(meta, "rcpt"), i, a)
		if (json_is_string(a))
			strv_add(&m->rcpt, json_string_value(a));
	if (m->from == NULL || m->rcpt.n == 0) {
		outmsg_free(m);
		json_decref(meta);
		return NULL;
	}
	return meta;
}

int
outbox_done(struct spool *sp, const char *name, json_t *result)
{
	char from[128], to[128], rel[160];
	size_t len;
	char *line;
	int r;

	snprintf(from, sizeof(from), "outbox/new/%s", name);
	snprintf(to, sizeof(to), "outbox/cur/%s", name);
	mkdirat(spool_dirfd(sp), "outbox/cur", 0700);
	if (renameat(spool_dirfd(sp), from, spool_dirfd(sp), to) == -1)
		return -1;
	snprintf(rel, sizeof(rel), "outbox/cur/%s.sent", name);
	line = jsonl_dump(result, &len);
	r = spool_replace_lazy(sp, rel, line, len);
	free(line);
	return r;
}

int
outbox_defer(struct spool *sp, const char *name, const struct strv *left,
    const char *why)
{
	struct outmsg m;
	json_t *meta;
	json_int_t tries;
	char rel[128];
	int r;

	if ((meta = read_entry(sp, name, &m)) == NULL)
		return -1;
	tries = json_integer_value(json_object_get(meta, "tries")) + 1;
	json_object_set_new(meta, "tries", json_integer(tries));
	json_object_set_new(meta, "next", json_integer((json_int_t)time(NULL) +
	    backoff((long)tries)));
	json_object_set_new(meta, "last_error", jsonl_cstr(why));
	if (left != NULL && left->n > 0)
		json_object_set_new(meta, "rcpt", strv_json(left));
	snprintf(rel, sizeof(rel), "outbox/new/%s", name);
	r = write_entry(sp, rel, meta, m.data, m.len);
	json_decref(meta);
	outmsg_free(&m);
	return r;
}

static int
queued(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

int
outbox_each(struct spool *sp, int force,
    int (*fn)(const char *, struct outmsg *, json_t *, void *), void *arg)
{
	struct dirent **names;
	struct outmsg m;
	json_t *meta;
	char dir[4096];
	int i, n, r = 0;

	snprintf(dir, sizeof(dir), "%s/outbox/new", spool_dir(sp));
	if ((n = scandir(dir, &names, queued, alphasort)) < 0)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (r == 0 && (meta = read_entry(sp, names[i]->d_name, &m)) != NULL) {
			if (force || json_integer_value(json_object_get(meta,
			    "next")) <= (json_int_t)time(NULL))
				r = fn(names[i]->d_name, &m, meta, arg);
			json_decref(meta);
			outmsg_free(&m);
		}
		free(names[i]);
	}
	free(names);
	return r;
}
