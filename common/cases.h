/*
 * The case store (see mailspool(5)): codematch owns it, mailsend appends
 * its outbound entries through it.
 *
 *	cases/<code>/case	the case's state, a JSON object, replaced
 *	cases/<code>/thread	its thread entries, JSON Lines, appended
 *	index/code/<code>	symlink: a thread code -> the case holding it
 *	index/msgid/ab/<hex>	symlink: SHA-256 of a Message-ID -> case code
 *	index/lock		flock(2)ed by every writer
 *
 * Index entries are symbolic links because creating one is a single
 * atomic system call that fails when the name exists (a code is taken
 * exactly once), reading one is another, and ls -l shows them.
 *
 * Writers hold the store lock (cases_lock) around everything they read
 * and change; many changes may then share one cases_sync().  Readers
 * (the views) take no lock: state files are replaced atomically and a
 * thread line torn by a crash is skipped.
 *
 * Functions return 0 or -1 with errno set, and print nothing.
 */
#ifndef CASES_H
#define CASES_H

#include <sys/types.h>

#include <time.h>

#include <jansson.h>

struct spool;
struct cases;

/* Longest code: XSOAR's new threads have 16 digits; room for more. */
#define CASE_CODE_MAX	20

/* Codes mailcase makes: 8 digits, 00000001-99999999. */
#define CASE_CODE_DIGITS	8

/* Open the store in the spool, creating its directories. */
struct cases	*cases_open(struct spool *);
void		 cases_close(struct cases *);

/* Take and drop the store lock (blocks while another writer holds it). */
int		 cases_lock(struct cases *);
void		 cases_unlock(struct cases *);

/* Make every change so far durable. */
int		 cases_sync(struct cases *);

/* Nonzero when s can be a code: 1 to CASE_CODE_MAX ASCII digits. */
int		 cases_code_ok(const char *s);

/* The case holding thread code into owner (CASE_CODE_MAX+1 bytes). */
int		 cases_owner(struct cases *, const char *code, char *owner);

/*
 * Take a fresh random code (libsodium's CSPRNG) never taken before,
 * pointing at owner, or at itself when owner is NULL; into code.
 */
int		 cases_new_code(struct cases *, const char *owner, char *code);

/* The index key of a Message-ID (without <>): SHA-256 hex into hex. */
void		 cases_msgkey(const char *msgid, char hex[65]);

/* The case a Message-ID key points at, into code; -1 ENOENT if none. */
int		 cases_msgid_get(struct cases *, const char *hex, char *code);

/*
 * Point a Message-ID key at code.  Returns 0 when the entry is new, 1
 * when one existed (its case into code_had, if not NULL), -1 on error.
 */
int		 cases_msgid_put(struct cases *, const char *hex,
		    const char *code, char *code_had);

/*
 * The state of case code (a new reference, the caller decrefs), and in
 * *modified (if not NULL) the time it last changed: the later of its
 * "updated" field and the last append to its thread.  With th not NULL,
 * the thread is left open for cases_append_fd() in th->fd, which the
 * caller closes.  NULL with errno ENOENT when there is no such case, EBADMSG
 * when its state file is not a JSON object.
 */
struct case_thread {
	int	fd;
	off_t	size;	/* as last seen; -1: unknown */
};
json_t		*cases_read(struct cases *, const char *code, time_t *modified,
		    struct case_thread *th);

/* Replace the state of an existing case. */
int		 cases_write(struct cases *, const char *code, json_t *state);

/*
 * Create case code with its state and first thread entry, atomically:
 * the case directory is built in tmp/ and renamed into place.
 */
int		 cases_create(struct cases *, const char *code, json_t *state,
		    json_t *entry);

/*
 * Append entry to the case's thread.  A line a crash left torn at the
 * end is cut off first.
 */
int		 cases_append(struct cases *, const char *code, json_t *entry);

/* The same through a thread opened by cases_read(). */
int		 cases_append_fd(struct case_thread *, json_t *entry);

/* The number of whole entries in the case's thread (0 when unreadable). */
long		 cases_count(struct cases *, const char *code);

/* Nonzero when the case's thread holds an entry whose "key" is hex. */
int		 cases_has_key(struct cases *, const char *code, const char *hex);

/*
 * Call fn for each entry of the case's thread in order (borrowed
 * references).  Lines that are not JSON objects are counted in *bad (if
 * not NULL) and skipped.  Stops when fn returns nonzero and returns
 * that; else 0, or -1 when the thread cannot be read.
 */
int		 cases_entries(struct cases *, const char *code,
		    int (*fn)(json_t *entry, void *arg), void *arg,
		    size_t *bad);

/* Call fn for every case directory name; stops as cases_entries does. */
int		 cases_foreach(struct cases *,
		    int (*fn)(const char *code, void *arg), void *arg);

/* The spool the store lives in. */
struct spool	*cases_spool(struct cases *);

/* Now as RFC 3339 UTC ("2026-11-23T18:02:03Z") into buf (32 bytes). */
void		 cases_now(char *buf, size_t bufsz);

/* An RFC 3339 UTC time as written by cases_now(); -1 if it is not one. */
time_t		 cases_parse_time(const char *s);

#endif
