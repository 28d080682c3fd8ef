/*
 * The spool: every byte of state mailcase keeps, as plain files under one
 * directory (see mailspool(5)).  Every file is born in tmp/ (O_EXCL, 0600),
 * written, made durable, and renamed into place; its directory is then
 * made durable too.  Content-addressed files (msg/, vault/) are staged and
 * committed in batches, so a stream of small messages costs two sync calls
 * per batch rather than three per file.
 *
 * Functions that can fail return 0 or -1 with errno set; nothing is printed.
 * A spool may be shared by threads: spool_put() and spool_commit() lock.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>

struct spool;

/*
 * The spool directory to use when -d is not given: $MAILCASE_SPOOL, else
 * $XDG_DATA_HOME/mailcase, else ~/.local/share/mailcase.  Malloc'ed, the
 * caller frees; NULL when no home directory is known.
 */
char		*spool_default_dir(void);

/*
 * Open (creating as needed, mode 0700) the spool at dir with its tmp/
 * directory; removes files left in tmp/ by crashed runs more than
 * SPOOL_TMP_STALE seconds ago.  NULL with errno set on failure.
 */
struct spool	*spool_open(const char *dir);
const char	*spool_dir(const struct spool *);

/* Free the spool; staged but uncommitted files are removed from tmp/. */
void		 spool_close(struct spool *);

/*
 * Stage len bytes under area/<hex[0:2]>/<hex> (area is "msg" or "vault",
 * hex the SHA-256 of the bytes).  Nothing is written when the file exists
 * or is already staged.  The file is visible only after spool_commit().
 */
int		 spool_put(struct spool *, const char *area, const char *hex,
		    const void *data, size_t len);

/* Make every staged file durable and visible; 0 when none was staged. */
int		 spool_commit(struct spool *);

/* Number of files staged and not yet committed. */
size_t		 spool_staged(struct spool *);

/* Nonzero when area/<hex[0:2]>/<hex> exists. */
int		 spool_has(struct spool *, const char *area, const char *hex);

/*
 * Replace the state file at relpath (below the spool, parents created)
 * with data, atomically and durably: after a crash the old or the new
 * contents are there, never a mix.
 */
int		 spool_replace(struct spool *, const char *relpath,
		    const void *data, size_t len);

/*
 * The same without making it durable at once: for a tool that changes
 * many state files in a batch and then calls spool_sync() before it
 * reports any of them done.  Readers still see the old or the new
 * contents, never a mix.
 */
int		 spool_replace_lazy(struct spool *, const char *relpath,
		    const void *data, size_t len);

/* Make everything written to the spool's filesystem durable (syncfs). */
int		 spool_sync(struct spool *);

/* A descriptor of the spool directory, for *at() calls; the spool owns it. */
int		 spool_dirfd(const struct spool *);

/*
 * A fresh path "tmp/<name>" below the spool that nothing else uses, into
 * buf, for a file or directory a caller builds before renaming it into
 * place.
 */
int		 spool_tmppath(struct spool *, char *buf, size_t bufsz);

/* Write all len bytes to fd, again after EINTR and short writes; 0 or -1. */
int		 spool_write_all(int fd, const void *data, size_t len);

/* Files in tmp/ older than this are leftovers of a crash. */
#define SPOOL_TMP_STALE	(36 * 3600)

#endif
