#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cases.h"
#include "hash.h"
#include "jsonl.h"
#include "spool.h"

struct cases {
	struct spool	*sp;
	int		 dirfd;		/* the spool's */
	int		 casesfd;	/* cases/ */
	int		 codefd;	/* index/code/ */
	int		 msgidfd;	/* index/msgid/ */
	int		 lockfd;
};

/* Draws before cases_new_code gives up: the space is 10^8 codes. */
#define NEW_CODE_TRIES	1000

static int	link_get(int, const char *, char *);
static int	cut_torn_tail(int, off_t);

struct cases *
cases_open(struct spool *sp)
{
	struct cases *cs;
	int saved;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	cs->sp = sp;
	cs->dirfd = spool_dirfd(sp);
	cs->lockfd = cs->casesfd = cs->codefd = cs->msgidfd = -1;
	if ((mkdirat(cs->dirfd, "cases", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(cs->dirfd, "index", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(cs->dirfd, "index/code", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(cs->dirfd, "index/msgid", 0700) == -1 && errno != EEXIST))
		goto fail;
	/* Lookups start at these: fewer path components per message. */
	if ((cs->casesfd = openat(cs->dirfd, "cases", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 ||
	    (cs->codefd = openat(cs->dirfd, "index/code", O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (cs->msgidfd = openat(cs->dirfd, "index/msgid", O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) == -1)
		goto fail;
	if ((cs->lockfd = openat(cs->dirfd, "index/lock",
	    O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		goto fail;
	return cs;
fail:
	saved = errno;
	cases_close(cs);
	errno = saved;
	return NULL;
}

void
cases_close(struct cases *cs)
{
	if (cs == NULL)
		return;
	if (cs->lockfd != -1)
		close(cs->lockfd);
	if (cs->casesfd != -1)
		close(cs->casesfd);
	if (cs->codefd != -1)
		close(cs->codefd);
	if (cs->msgidfd != -1)
		close(cs->msgidfd);
	free(cs);
}

struct spool *
cases_spool(struct cases *cs)
{
	return cs->sp;
}

int
cases_lock(struct cases *cs)
{
	while (flock(cs->lockfd, LOCK_EX) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

void
cases_unlock(struct cases *cs)
{
	flock(cs->lockfd, LOCK_UN);
}

int
cases_sync(struct cases *cs)
{
	return spool_sync(cs->sp);
}

int
cases_code_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (s[n] < '0' || s[n] > '9' || n == CASE_CODE_MAX)
			return 0;
	return n > 0;
}

/* Read the code a symlink index entry holds. */
static int
link_get(int dirfd, const char *path, char *code)
{
	ssize_t n;

	if ((n = readlinkat(dirfd, path, code, CASE_CODE_MAX + 1)) == -1)
		return -1;
	if (n > CASE_CODE_MAX) {
		errno = EBADMSG;
		return -1;
	}
	code[n] = '\0';
	if (!cases_code_ok(code)) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int
cases_owner(struct cases *cs, const char *code, char *owner)
{
	if (!cases_code_ok(code)) {
		errno = EINVAL;
		return -1;
	}
	return link_get(cs->codefd, code, owner);
}

int
cases_new_code(struct cases *cs, const char *owner, char *code)
{
	int i;

	for (i = 0; i < NEW_CODE_TRIES; i++) {
		snprintf(code, CASE_CODE_MAX + 1, "%0*u", CASE_CODE_DIGITS,
		    randombytes_uniform(99999999) + 1);
		if (symlinkat(owner ? owner : code, cs->codefd, code) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

void
cases_msgkey(const char *msgid, char hex[65])
{
	hash_sha256_hex(msgid, strlen(msgid), hex);
}

static int
msgid_path(char *buf, size_t bufsz, const char *hex)
{
	if (!hash_is_hex(hex)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(buf, bufsz, "%.2s/%s", hex, hex);
	return 0;
}

int
cases_msgid_get(struct cases *cs, const char *hex, char *code)
{
	char path[96];

	if (msgid_path(path, sizeof(path), hex) == -1)
		return -1;
	return link_get(cs->msgidfd, path, code);
}

int
cases_msgid_put(struct cases *cs, const char *hex, const char *code,
    char *code_had)
{
	char path[96], dir[32];

	if (msgid_path(path, sizeof(path), hex) == -1)
		return -1;
	if (symlinkat(code, cs->msgidfd, path) == 0)
		return 0;
	if (errno == ENOENT) {
		snprintf(dir, sizeof(dir), "%.2s", hex);
		if (mkdirat(cs->msgidfd, dir, 0700) == -1 && errno != EEXIST)
			return -1;
		if (symlinkat(code, cs->msgidfd, path) == 0)
			return 0;
	}
	if (errno != EEXIST)
		return -1;
	if (code_had != NULL && link_get(cs->msgidfd, path, code_had) == -1)
		return -1;
	return 1;
}

void
cases_now(char *buf, size_t bufsz)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t
cases_parse_time(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    strcmp(end, "Z") != 0)
		return -1;
	return timegm(&tm);
}

/*
 * Read a whole small file at path below dirfd; malloc'ed, NUL-terminated.
 * No fstat(2): a read that returns less than asked is the end of a
 * regular file, and a case file fits the first buffer.
 */
static char *
slurp(int dirfd, const char *path, size_t *lenp)
{
	char *buf, *p;
	size_t len = 0, cap = 4096;
	ssize_t n;
	int fd, saved;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if ((buf = malloc(cap)) == NULL)
		goto fail;
	for (;;) {
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		len += (size_t)n;
		if (n == 0 || len + 1 < cap)	/* the end, or a short read */
			break;
		if ((p = realloc(buf, 2 * cap)) == NULL)
			goto fail;
		buf = p;
		cap *= 2;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

json_t *
cases_read(struct cases *cs, const char *code, time_t *modified,
    struct case_thread *th)
{
	char path[64], *buf;
	struct stat st;
	json_error_t jerr;
	json_t *state;
	size_t len;
	int tfd = -1, saved;

	if (!cases_code_ok(code)) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/case", code);
	if ((buf = slurp(cs->casesfd, path, &len)) == NULL)
		return NULL;
	state = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (state == NULL || !json_is_object(state)) {
		json_decref(state);
		errno = EBADMSG;
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/thread", code);
	if (th != NULL) {
		if ((tfd = openat(cs->casesfd, path, O_RDWR | O_APPEND |
		    O_CLOEXEC)) == -1 || fstat(tfd, &st) == -1)
			goto fail;
		th->fd = tfd;
		th->size = st.st_size;
	} else if (modified != NULL && fstatat(cs->casesfd, path, &st, 0) == -1)
		st.st_mtime = 0;
	if (modified != NULL) {
		*modified = cases_parse_time(json_string_value(
		    json_object_get(state, "updated")));
		if (st.st_mtime > *modified)
			*modified = st.st_mtime;
	}
	return state;
fail:
	saved = errno;
	if (tfd != -1)
		close(tfd);
	json_decref(state);
	errno = saved;
	return NULL;
}

int
cases_write(struct cases *cs, const char *code, json_t *state)
{
	char path[64], *line;
	size_t len;
	int r;

	if (!cases_code_ok(code)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "cases/%s/case", code);
	line = jsonl_dump(state, &len);
	r = spool_replace_lazy(cs->sp, path, line, len);
	free(line);
	return r;
}

static int
write_file_at(int dirfd, const char *path, json_t *j)
{
	char *line;
	size_t len;
	int fd, r, saved;

	if ((fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	line = jsonl_dump(j, &len);
	r = spool_write_all(fd, line, len);
	saved = errno;
	free(line);
	if (close(fd) == -1 && r == 0) {
		saved = errno;
		r = -1;
	}
	errno = saved;
	return r;
}

int
cases_create(struct cases *cs, const char *code, json_t *state, json_t *entry)
{
	char tmp[96], path[128], dst[64];
	int saved;

	if (!cases_code_ok(code)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_tmppath(cs->sp, tmp, sizeof(tmp)) == -1 ||
	    mkdirat(cs->dirfd, tmp, 0700) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/case", tmp);
	if (write_file_at(cs->dirfd, path, state) == -1)
		goto fail;
	snprintf(path, sizeof(path), "%s/thread", tmp);
	if (write_file_at(cs->dirfd, path, entry) == -1)
		goto fail;
	snprintf(dst, sizeof(dst), "cases/%s", code);
	if (renameat(cs->dirfd, tmp, cs->dirfd, dst) == -1)
		goto fail;
	return 0;
fail:
	saved = errno;
	snprintf(path, sizeof(path), "%s/case", tmp);
	unlinkat(cs->dirfd, path, 0);
	snprintf(path, sizeof(path), "%s/thread", tmp);
	unlinkat(cs->dirfd, path, 0);
	unlinkat(cs->dirfd, tmp, AT_REMOVEDIR);
	errno = saved;
	return -1;
}

/*
 * A crash in the middle of an append can leave a last line without its
 * newline.  Its message was never reported done (records go out after
 * the sync), so it comes again: cut the torn line off.
 */
static int
cut_torn_tail(int fd, off_t size)
{
	char buf[4096];
	off_t pos = size, n;
	ssize_t got;

	while (pos > 0) {
		n = pos < (off_t)sizeof(buf) ? pos : (off_t)sizeof(buf);
		pos -= n;
		if ((got = pread(fd, buf, (size_t)n, pos)) != (ssize_t)n)
			return -1;
		while (n > 0)
			if (buf[--n] == '\n')
				return ftruncate(fd, pos + n + 1);
	}
	return ftruncate(fd, 0);
}

int
cases_append(struct cases *cs, const char *code, json_t *entry)
{
	struct case_thread th;
	char path[64];
	int fd, r, saved;

	if (!cases_code_ok(code)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "cases/%s/thread", code);
	if ((fd = openat(cs->dirfd, path, O_RDWR | O_APPEND | O_CLOEXEC)) == -1)
		return -1;
	th.fd = fd;
	th.size = -1;	/* ask */
	r = cases_append_fd(&th, entry);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
cases_append_fd(struct case_thread *th, json_t *entry)
{
	struct stat st;
	char last, *line;
	size_t len;
	int r;

	if (th->size < 0) {
		if (fstat(th->fd, &st) == -1)
			return -1;
		th->size = st.st_size;
	}
	if (th->size > 0) {
		if (pread(th->fd, &last, 1, th->size - 1) != 1)
			return -1;
		if (last != '\n' && cut_torn_tail(th->fd, th->size) == -1)
			return -1;
	}
	line = jsonl_dump(entry, &len);
	if ((r = spool_write_all(th->fd, line, len)) == 0)
		th->size = -1;	/* a torn tail was cut: ask again */
	free(line);
	return r;
}

/* Map a thread log; *len 0 and NULL for an empty one. */
static char *
map_thread(struct cases *cs, const char *code, size_t *len)
{
	char path[64], *p;
	struct stat st;
	int fd, saved;

	*len = 0;
	if (!cases_code_ok(code)) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	snprintf(path, sizeof(path), "cases/%s/thread", code);
	if ((fd = openat(cs->dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return MAP_FAILED;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return MAP_FAILED;
	}
	if (st.st_size == 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	saved = errno;
	close(fd);
	errno = saved;
	if (p != MAP_FAILED)
		*len = (size_t)st.st_size;
	return p;
}

long
cases_count(struct cases *cs, const char *code)
{
	char *p;
	size_t len, i;
	long n = 0;

	if ((p = map_thread(cs, code, &len)) == MAP_FAILED || p == NULL)
		return 0;
	for (i = 0; i < len; i++)
		n += p[i] == '\n';
	munmap(p, len);
	return n;
}

int
cases_has_key(struct cases *cs, const char *code, const char *hex)
{
	char needle[80], *p;
	size_t len;
	int found;

	if ((p = map_thread(cs, code, &len)) == MAP_FAILED || p == NULL)
		return 0;
	/* Our own writer puts the field so; a key is 64 hex digits. */
	snprintf(needle, sizeof(needle), "\"key\":\"%s\"", hex);
	found = memmem(p, len, needle, strlen(needle)) != NULL;
	munmap(p, len);
	return found;
}

int
cases_entries(struct cases *cs, const char *code,
    int (*fn)(json_t *, void *), void *arg, size_t *bad)
{
	char *p, *line, *nl, *end;
	json_error_t jerr;
	json_t *e;
	size_t len;
	int r = 0;

	if (bad != NULL)
		*bad = 0;
	if ((p = map_thread(cs, code, &len)) == MAP_FAILED)
		return -1;
	end = p + len;
	for (line = p; line < end && r == 0; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			break;		/* torn by a crash: not an entry yet */
		e = json_loadb(line, (size_t)(nl - line), 0, &jerr);
		if (e == NULL || !json_is_object(e)) {
			if (bad != NULL)
				(*bad)++;
		} else
			r = fn(e, arg);
		json_decref(e);
	}
	if (p != NULL)
		munmap(p, len);
	return r;
}

int
cases_foreach(struct cases *cs, int (*fn)(const char *, void *), void *arg)
{
	struct dirent **names;
	char path[PATH_MAX];
	int i, n, r = 0;

	if (snprintf(path, sizeof(path), "%s/cases", spool_dir(cs->sp)) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((n = scandir(path, &names, NULL, alphasort)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (r == 0 && cases_code_ok(names[i]->d_name))
			r = fn(names[i]->d_name, arg);
		free(names[i]);
	}
	free(names);
	return r;
}
