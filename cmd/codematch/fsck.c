/*
 * codematch --fsck: check that the store is one a sequence of whole
 * steps (and crashes between them) can leave, and say what it found.
 *
 * Problems (the exit status says so): a case whose state is not JSON or
 * names another code, a thread line that is not JSON, a message entered
 * twice in one thread, a thread code that does not lead back to its case,
 * an entry whose Message-ID key is missing from the index.
 *
 * Not problems, but counted: a code taken with no case behind it and an
 * index entry without its thread entry (a run stopped between the two
 * writes; running the same input again finishes the work), and a torn
 * last line (cut at the next append).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cases.h"
#include "codematch.h"
#include "diag.h"
#include "hash.h"
#include "spool.h"
#include "xalloc.h"

/* A set of strings "<case>/<key>", open addressing. */
struct set {
	char	**slot;
	size_t	 cap, n;
};

static size_t
str_hash(const char *s)
{
	size_t h = 14695981039346656037UL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211UL;
	return h;
}

/* Add s; 1 when it was there already. */
static int
set_add(struct set *st, const char *s)
{
	size_t i, j;
	char **old;

	if (2 * (st->n + 1) > st->cap) {
		old = st->slot;
		j = st->cap;
		st->cap = st->cap ? 2 * st->cap : 1024;
		st->slot = xcalloc(st->cap, sizeof(*st->slot));
		st->n = 0;
		for (i = 0; i < j; i++)
			if (old[i] != NULL) {
				size_t k = str_hash(old[i]) & (st->cap - 1);

				while (st->slot[k] != NULL)
					k = (k + 1) & (st->cap - 1);
				st->slot[k] = old[i];
				st->n++;
			}
		free(old);
	}
	for (i = str_hash(s) & (st->cap - 1); st->slot[i] != NULL;
	    i = (i + 1) & (st->cap - 1))
		if (!strcmp(st->slot[i], s))
			return 1;
	st->slot[i] = xstrdup(s);
	st->n++;
	return 0;
}

static int
set_has(struct set *st, const char *s)
{
	size_t i;

	if (st->cap == 0)
		return 0;
	for (i = str_hash(s) & (st->cap - 1); st->slot[i] != NULL;
	    i = (i + 1) & (st->cap - 1))
		if (!strcmp(st->slot[i], s))
			return 1;
	return 0;
}

static void
set_free(struct set *st)
{
	size_t i;

	for (i = 0; i < st->cap; i++)
		free(st->slot[i]);
	free(st->slot);
}

struct fsck {
	struct cases	*cs;
	struct set	 keys;		/* "<case>/<key>" of every entry */
	const char	*code;		/* the case being read */
	unsigned long	 cases, entries, problems;
	unsigned long	 orphan_codes, orphan_keys, torn;
};

static void
problem(struct fsck *f, const char *object, const char *fmt, const char *what)
{
	diag(object, "fsck", fmt, what);
	f->problems++;
}

static int
check_entry(json_t *e, void *arg)
{
	struct fsck *f = arg;
	const char *key = jstr(e, "key");
	char buf[CASE_CODE_MAX + 80], had[CASE_CODE_MAX + 1];
	char owner[CASE_CODE_MAX + 1];

	f->entries++;
	if (key == NULL || !hash_is_hex(key)) {
		problem(f, f->code, "%s", "a thread entry without a key");
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s/%s", f->code, key);
	if (set_add(&f->keys, buf))
		problem(f, f->code, "message %s entered twice", key);
	if (cases_msgid_get(f->cs, key, had) == -1)
		problem(f, f->code, "message %s is not in the Message-ID index",
		    key);
	else if (cases_owner(f->cs, had, owner) == -1)
		problem(f, f->code, "the index sends message %s to a code that "
		    "is not taken", key);
	return 0;
}

static int
check_case(const char *code, void *arg)
{
	struct fsck *f = arg;
	char owner[CASE_CODE_MAX + 1], path[64], last;
	const char *tc, *c;
	struct stat st;
	json_t *state, *t;
	size_t i, bad;
	int fd;

	f->cases++;
	f->code = code;
	if ((state = cases_read(f->cs, code, NULL, NULL)) == NULL) {
		problem(f, code, "state: %s", strerror(errno));
		return 0;
	}
	if ((c = jstr(state, "code")) == NULL || strcmp(c, code))
		problem(f, code, "%s", "the state names another code");
	if (cases_owner(f->cs, code, owner) == -1 || strcmp(owner, code))
		problem(f, code, "%s", "the case's code is not in the index");
	json_array_foreach(json_object_get(state, "threads"), i, t) {
		tc = jstr(t, "code");
		if (tc == NULL || cases_owner(f->cs, tc, owner) == -1 ||
		    strcmp(owner, code))
			problem(f, code, "thread %s does not lead back to the case",
			    tc ? tc : "(none)");
	}
	json_decref(state);
	if (cases_entries(f->cs, code, check_entry, f, &bad) == -1)
		problem(f, code, "thread: %s", strerror(errno));
	if (bad > 0)
		problem(f, code, "%s", "thread lines that are not JSON");
	snprintf(path, sizeof(path), "cases/%s/thread", code);
	if ((fd = openat(spool_dirfd(cases_spool(f->cs)), path,
	    O_RDONLY | O_CLOEXEC)) != -1) {
		if (fstat(fd, &st) == 0 && st.st_size > 0 &&
		    pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
			f->torn++;
		close(fd);
	}
	return 0;
}

/* Each entry of an index directory: call fn(f, name, target). */
static void
scan_index(struct fsck *f, const char *dir,
    void (*fn)(struct fsck *, const char *, const char *))
{
	char target[CASE_CODE_MAX + 2];
	struct dirent *de;
	ssize_t n;
	DIR *d;
	int fd;

	if ((fd = openat(spool_dirfd(cases_spool(f->cs)), dir,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "lock"))
			continue;
		n = readlinkat(fd, de->d_name, target, sizeof(target) - 1);
		if (n <= 0 || n > CASE_CODE_MAX) {
			problem(f, dir, "%s: not a link to a code", de->d_name);
			continue;
		}
		target[n] = '\0';
		fn(f, de->d_name, target);
	}
	closedir(d);
}

static void
check_code(struct fsck *f, const char *code, const char *owner)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "cases/%s/case", owner);
	if (fstatat(spool_dirfd(cases_spool(f->cs)), path, &st, 0) == -1)
		f->orphan_codes++;
	(void)code;
}

static void
check_key(struct fsck *f, const char *key, const char *tcode)
{
	char owner[CASE_CODE_MAX + 1], buf[CASE_CODE_MAX + 80];

	if (cases_owner(f->cs, tcode, owner) == -1) {
		problem(f, key, "%s", "a Message-ID key sent to a code not taken");
		return;
	}
	snprintf(buf, sizeof(buf), "%s/%s", owner, key);
	if (!set_has(&f->keys, buf))
		f->orphan_keys++;
}

int
store_fsck(struct cases *cs)
{
	struct fsck f;
	char dir[32];
	int i;

	memset(&f, 0, sizeof(f));
	f.cs = cs;
	if (cases_foreach(cs, check_case, &f) == -1) {
		diag("cases", "fsck", "%s", strerror(errno));
		return EX_IOERR;
	}
	scan_index(&f, "index/code", check_code);
	for (i = 0; i < 256; i++) {
		snprintf(dir, sizeof(dir), "index/msgid/%02x", i);
		scan_index(&f, dir, check_key);
	}
	printf("%lu cases, %lu entries; %lu codes taken without a case, "
	    "%lu index entries without their thread entry, %lu torn last "
	    "lines (each left by a stopped run, finished by the next); "
	    "%lu problems: %s\n", f.cases, f.entries, f.orphan_codes,
	    f.orphan_keys, f.torn, f.problems, f.problems ? "NOT CONSISTENT" :
	    "consistent");
	set_free(&f.keys);
	return f.problems ? EX_DATAERR : 0;
}
