#ifndef CODEMATCH_H
#define CODEMATCH_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

struct cases;

/* Records linked under one hold of the store lock and one sync. */
#define LINK_BATCH		1024

/* Addresses a case remembers as on its threads (for "verified"). */
#define MAX_PARTICIPANTS	1000

/* Distinct subjects a case remembers for subject matching. */
#define MAX_SUBJECTS		200

/* An image inlined into the HTML view; larger ones are left out. */
#define MAX_INLINE_IMAGE	(8UL * 1024 * 1024)

struct linker {
	struct cases	*cs;
	int		 create;	/* no link: make a case (else ignore) */
	int		 match_subject;	/* a code link needs the subject too */
	long		 days;		/* days_to_query */
	int		 quiet;		/* -q: no records out */
	/* the batch */
	json_t		*pending;	/* records waiting for the sync */
	int		 locked;
	int		 dirty;		/* the store changed since the sync */
};

/* link.c */
/*
 * XSOAR's split of a subject into code and original subject (both
 * malloc'ed, the caller frees); -1 and both NULL when there is no code.
 */
int	 subject_split(const char *subject, char **code, char **orig);
/* The record loop's callback: link one record, hold it for the batch. */
int	 link_record(json_t *rec, void *arg);
/* End the batch: unlock, sync, write the held records; a sysexits code. */
int	 link_flush(void *arg);
/* The string value of obj's key, or NULL. */
const char *jstr(json_t *obj, const char *key);

/* feed.c: link the records of fp, parsed on a second thread; a status. */
int	 feed_link(FILE *fp, const char *name, struct linker *lk);

/* views.c: each prints to stdout and returns 0 or a sysexits code. */
int	 view_list(struct cases *, int which, int json);
int	 view_summary(struct cases *, const char *code, int json);
int	 view_thread(struct cases *, const char *code, long thread, int html);
int	 case_set_status(struct cases *, const char *code, const char *status);
int	 case_new_thread(struct cases *, const char *code, const char *given,
	    const char *subject);
int	 case_resolve(struct cases *, const char *code, char *casecode);

/* sanitize.c */
struct inline_img {
	const char	*cid;
	const char	*vault;
	const char	*type;
};
/* s with & < > " ' as character references; malloc'ed. */
char	*html_escaped(const char *s);
char	*html_sanitize(const char *html, size_t n, struct cases *,
	    const struct inline_img *imgs, size_t nimgs);

/* fsck.c: check the store, print what was found; 0 or EX_DATAERR. */
int	 store_fsck(struct cases *);

#endif
