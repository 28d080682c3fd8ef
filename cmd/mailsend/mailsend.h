/* mailsend's parts: drafts, composing, Markdown, SMTP, the outbox, cases. */
#ifndef MAILSEND_H
#define MAILSEND_H

#include <stddef.h>

#include <jansson.h>

#include "account.h"

struct cases;
struct conf;
struct spool;

struct strv {
	char	**v;
	size_t	  n;
};

void	strv_add(struct strv *, const char *);
void	strv_free(struct strv *);
/* A JSON array of the strings (a new reference). */
json_t	*strv_json(const struct strv *);

struct inline_part {
	char	*path;
	char	*cid;
};

/* A message to compose, from flags or a draft record. */
struct draft {
	struct strv	 to, cc, bcc;	/* address lists, as given */
	char		*from;
	char		*subject;
	char		*body;		/* text, or HTML when it looks like it */
	int		 markdown;	/* body is Markdown (replies) */
	char		*typed;		/* a case reply's body as written */
	char		*text, *html;	/* given apart */
	struct strv	 attach;	/* paths or vault:<sha256> */
	struct inline_part *inl;
	size_t		 ninl;
	struct strv	 hdrname, hdrvalue;
	char		*in_reply_to;	/* without <> */
	struct strv	 references;
	char		*message_id;	/* without <>, or NULL: made */
	char		*reply_to;
	/* Raw mode: the message as given. */
	char		*raw;
	size_t		 rawlen;
	/* Case mode. */
	char		*reply_code;	/* --reply CODE */
	long		 thread;	/* -t N, or -1 */
	char		*new_thread;	/* --new-thread CODE */
};

void	draft_free(struct draft *);

/* A message ready to go: the bytes (CRLF) and the envelope. */
struct outmsg {
	char		*data;
	size_t		 len;
	char		*from;		/* envelope sender */
	struct strv	 rcpt;		/* every recipient, Bcc included */
	char		*message_id;
	int		 utf8;		/* an address needs SMTPUTF8 */
};

void	outmsg_free(struct outmsg *);

/* --- compose.c --- */
/*
 * Compose d into m.  Returns 0, or EX_DATAERR / EX_USAGE / EX_NOINPUT
 * after one diagnostic naming what is wrong (nothing is composed).
 */
int	compose(struct spool *, const struct draft *d, const char *dflt_from,
	    const char *domain, struct outmsg *m);
/* A raw message: envelope from its headers, Bcc taken out, else exact. */
int	compose_raw(const struct draft *d, struct outmsg *m);
/* Nonzero when the text is HTML by the rule (after BOM, space, comments). */
int	looks_html(const char *s);

/* --- markdown.c --- */
/* Markdown to an HTML document (tables, line breaks kept); malloc'ed. */
char	*markdown_html(const char *md);
/* s with sig inserted before every </body>, or at the end; malloc'ed. */
char	*add_signature(const char *html, const char *sig);

/* --- smtp.c --- */
struct smtp;

struct sendresult {
	struct strv	 accepted;
	struct strv	 rejected, replies;	/* address and server reply */
	int		 status;	/* 0, EX_TEMPFAIL, EX_UNAVAILABLE, ... */
	char		 why[512];	/* when status != 0 */
};

void	sendresult_free(struct sendresult *);
struct smtp *smtp_new(const struct account *, int smtputf8);
void	smtp_free(struct smtp *);
/* Send m; the connection stays open for the next.  Result in r. */
void	smtp_send(struct smtp *, const struct outmsg *m, struct sendresult *r);
/* Connect, TLS, authenticate, QUIT: 0 or a sysexits code. */
int	smtp_check(struct smtp *);

/* --- outbox.c --- */
/*
 * Queue m in outbox/new (Maildir discipline) with meta (the draft's case
 * and thread, for the record); its name into name (64 bytes).  Like
 * every outbox change, durable only after spool_sync().
 */
int	outbox_put(struct spool *, const struct outmsg *m, json_t *meta,
	    char *name, size_t namesz);
/* Move name to outbox/cur with the result.  0 or -1. */
int	outbox_done(struct spool *, const char *name, json_t *result);
/*
 * Keep name queued, with one more try counted and the next time set;
 * left (if not NULL and not empty) the recipients still to take it.
 */
int	outbox_defer(struct spool *, const char *name, const struct strv *left,
	    const char *why);
/*
 * Call fn for each queued message due now (all with force): its name,
 * the message and its meta.  Stops when fn returns nonzero.
 */
int	outbox_each(struct spool *, int force,
	    int (*fn)(const char *name, struct outmsg *m, json_t *meta, void *),
	    void *arg);

/* --- reply.c --- */
/*
 * Fill d's recipients, subject, In-Reply-To, References and quoted
 * history from the case's thread (XSOAR's SendEmailReply); d->body is
 * the Markdown the analyst wrote.  Returns 0 or a sysexits code after a
 * diagnostic.  *tcode gets the thread code, *tnum its number.
 */
int	reply_prepare(struct cases *, const struct conf *, const char *account,
	    struct draft *d, char *tcode, long *tnum, char *casecode);
/* Record the sent message as the thread's outbound entry. */
int	reply_record(struct cases *, const char *casecode, const char *tcode,
	    long tnum, const struct draft *d, const struct outmsg *m,
	    const char *service_mail);

#endif
