/* mailfetch's parts: UID sets, the IMAP session, the poll. */
#ifndef MAILFETCH_H
#define MAILFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "account.h"

struct conf;
struct spool;

/* --- uidset.c: sorted disjoint ranges --- */
struct uidrange {
	uint32_t	lo, hi;
};
struct uidset {
	struct uidrange	*r;
	size_t		 n, cap;
};

void		 uidset_free(struct uidset *);
unsigned long long uidset_count(const struct uidset *);
int		 uidset_has(const struct uidset *, uint32_t);
void		 uidset_add(struct uidset *, uint32_t);
void		 uidset_add_range(struct uidset *, uint32_t lo, uint32_t hi);
void		 uidset_del(struct uidset *, uint32_t);
void		 uidset_union(struct uidset *, const struct uidset *);
/* Remove from s every UID in t. */
void		 uidset_minus(struct uidset *, const struct uidset *);
/* Keep only UIDs below limit. */
void		 uidset_below(struct uidset *, uint32_t limit);
/* Add to out the max lowest (or newest) UIDs of s. */
void		 uidset_take(const struct uidset *, unsigned long long max,
		    int newest, struct uidset *out);
uint32_t	 uidset_max(const struct uidset *);
/*
 * "1:5,9" for ranges [from, from + nranges) of s; *next (if not NULL)
 * gets the index after the last one written.  Malloc'ed.
 */
char		*uidset_format(const struct uidset *, size_t from,
		    size_t nranges, size_t *next);
/* Add the UIDs of an IMAP sequence set ("1:5,9"); -1 when malformed. */
int		 uidset_parse(struct uidset *, const char *, size_t);

/* --- imap.c: one logged-in connection --- */
/* A message as the server sent it. */
struct fetched {
	uint32_t	 uid;
	const char	*data;		/* NULL: NIL or refused */
	size_t		 len;
	unsigned long long size;	/* the literal's size */
	int		 toolarge;	/* size over the limit: data is NULL */
	char		 internaldate[64];	/* or "" */
};

struct mailbox {
	unsigned long long uidvalidity;
	uint32_t	 uidnext;
	unsigned long long exists;
	int		 readonly;
};

struct imap;

/*
 * Connect and log in (libcurl does TLS, STARTTLS and SASL); then speak
 * IMAP over the connection.  Every function returns 0 or a sysexits code
 * after printing one diagnostic naming the server and the step.
 * imap_connect() returns EX_NOPERM for a refused login, quietly when
 * quiet_auth is set, so that the caller may refresh a token and retry.
 */
int	imap_connect(struct imap **, const struct account *, int quiet_auth);
void	imap_close(struct imap *);		/* LOGOUT, free */
int	imap_has_cap(struct imap *, const char *cap);
/* EXAMINE (or SELECT when rw) folder, given in UTF-8. */
int	imap_select(struct imap *, const char *folder, int rw,
	    struct mailbox *);
/* The UIDs from lo on into out. */
int	imap_search_from(struct imap *, uint32_t lo, struct uidset *out);
/*
 * Fetch set, calling fn for each message in the server's order; a
 * message larger than maxsize is read past and given with toolarge.  fn
 * returns 0 or a sysexits code, which stops the fetch.  chunk_done (if
 * not NULL) is called after each command's worth of messages, in the
 * gap before the next is read.  UIDs of set the server no longer has
 * are added to gone; one it has but does not send is a protocol error.
 */
int	imap_fetch(struct imap *, const struct uidset *set,
	    unsigned long long maxsize,
	    int (*fn)(const struct fetched *, void *),
	    int (*chunk_done)(void *), void *arg, struct uidset *gone);
/* UID STORE +FLAGS.SILENT (\Seen) on set. */
int	imap_mark_seen(struct imap *, const struct uidset *);
/* UID MOVE set to folder (COPY, STORE \Deleted, UID EXPUNGE without MOVE). */
int	imap_move(struct imap *, const struct uidset *, const char *folder);
const char *imap_server(const struct imap *);

/* --- poll.c --- */
struct pollopts {
	const char	*folder;
	int		 newest;	/* latest first */
	unsigned long long max, first_run_max;
	int		 max_given;	/* --max on the command line */
	int		 poll_now;
	uint32_t	 uid;		/* --uid */
	int		 check;
	int		 mark_seen;
	const char	*move_to;
	unsigned long long maxsize;
	struct uidset	 skip;		/* --skip-uid */
};

int	poll_folder(struct spool *, struct imap *, const struct account *,
	    const struct pollopts *);

#endif
