/*
 * Messages out of a byte stream: a single RFC 822 message, or an mbox.
 *
 * Input that begins (after an optional UTF-8 BOM) with "From " is an mbox.
 * A message ends where a line "From " begins that looks like a From_ line
 * (a sender, then something with a digit in it -- a date; or a sender
 * alone that is "-", MAILER-DAEMON or has an "@" -- so "From Russia with
 * love" in an unescaped body is not one, nor a "From :" header), or where a
 * Content-Length header says, when that lands exactly on a From_ line or
 * the end.  The From_ line is dropped, one ">" is removed from lines
 * matching ^>+From (mboxrd; for mboxo only the ">From " case differs and
 * is ambiguous anyway), and the empty line that a writer puts before the
 * next From_ line is not part of the message.
 *
 * Memory is bounded by the largest message (MAX_MESSAGE_BYTES), not by
 * the input.  A regular file is mapped rather than read, and a message
 * that needs no unescaping is lent in place (borrowed) rather than
 * copied; pages behind the reader are given back as it goes, so the
 * resident size stays that of a few messages.
 */
#ifndef MSGSRC_H
#define MSGSRC_H

#include <stddef.h>

struct msgsrc;

struct rawmsg {
	char			*data;		/* malloc'ed, the caller frees;
						   or borrowed: see below */
	size_t			 len;		/* bytes in data */
	unsigned long long	 size;		/* real size (> len when toolarge) */
	int			 mbox;		/* the input is an mbox */
	size_t			 index;		/* 0-based position in the mbox */
	unsigned long long	 offset;	/* byte offset of its From_ line */
	int			 toolarge;	/* over MAX_MESSAGE_BYTES: data
						   holds only its first bytes */
	int			 cut;		/* the input ended inside its
						   From_ line: a writer was cut
						   off; data is empty */
	int			 ateof;		/* it ends where the input does */
	int			 borrowed;	/* data points into the reader's
						   map of the input, valid until
						   msgsrc_free(); not freed, not
						   NUL-terminated */
};

/* A reader over fd (not closed by msgsrc_free).  NULL when out of memory. */
struct msgsrc	*msgsrc_new(int fd);
void		 msgsrc_free(struct msgsrc *);

/*
 * Call fn(arg) before a read that would block, so that a filter can
 * flush what it has before it waits for more input.
 */
void		 msgsrc_set_idle(struct msgsrc *, void (*fn)(void *), void *arg);

/*
 * The next message into *m.  Returns 1, 0 at the end of input, -1 with
 * errno set on a read error or when out of memory.
 */
int		 msgsrc_next(struct msgsrc *, struct rawmsg *m);

/*
 * Let messages be lent in place (rawmsg.borrowed) when they need no
 * unescaping; only for a caller that is done with each message before it
 * frees the reader.  Off by default.
 */
void		 msgsrc_set_lend(struct msgsrc *, int);

/* Bytes read from fd so far. */
unsigned long long msgsrc_consumed(const struct msgsrc *);

/* Nonzero when s (n bytes, no newline) is a From_ line. */
int		 msgsrc_is_from_line(const char *s, size_t n);

#endif
