/*
 * mailparse internals: the record builder (record.c), charset decoding
 * (charset.c), TNEF unpacking (tnef.c) and the check of mailfetch's
 * X-Mailcase-Source line (source.c).  main.c owns input and output.
 */
#ifndef MAILPARSE_H
#define MAILPARSE_H

#include <stddef.h>
#include <jansson.h>

#include "hash.h"

struct spool;
struct rawmsg;

/* Per-thread parsing state: GMime options, hash contexts, the spool. */
struct parser;

/* sp NULL: store nothing (--no-store).  Exits EX_OSERR when out of memory. */
struct parser	*parser_new(struct spool *sp);
void		 parser_free(struct parser *);

/*
 * The message record for one raw message.  source is the record's
 * "source" object (the reference is taken).  *bad is set when the record
 * carries an "error" (here or in a nested message), and *why to its text
 * for the one stderr line (valid until the record is freed).  Raw bytes
 * and attachments are staged in the spool; the caller commits.
 */
json_t		*parser_record(struct parser *, const struct rawmsg *m,
		    json_t *source, int *bad, const char **why);

/*
 * What a message's first line, when it is an X-Mailcase-Source header
 * (origin.h), proves about it.  Verified: the message is the len bytes
 * at data (inside the raw message, after the line), whose SHA-256 is
 * sha256, fetched from the IMAP source (a new reference, the caller
 * takes it) with Splunk's source_id.  Not verified: why says why, for
 * the record's defect, and the line is an ordinary header.
 */
struct fetched {
	int			 verified;
	const char		*data;
	size_t			 len;
	char			 sha256[HASH_HEX_LEN + 1];
	json_t			*source;
	char			 source_id[64];
	unsigned long long	 uid;
	const char		*why;		/* static text */
	char			 cut[128];	/* why, for a message cut short */
};

/*
 * Look for keys/source in spooldir (NULL: there is no spool), read only
 * and not before a message needs it.  Call once, before any thread
 * starts; the key is wiped at exit.  Exits EX_OSERR when libsodium
 * cannot start.
 */
void		 source_init(const char *spooldir);

/*
 * Check the first line of m.  0: it is no X-Mailcase-Source header;
 * 1: it is one and verifies; -1: it is one and does not (f->why); 2:
 * the stream was cut by a writer's death (f->cut): mailfetch's own line
 * with fewer bytes than it signed behind it (f->source), or an input
 * ending in a From_ line, right after one, or inside such a header line
 * (f->source NULL).
 * Thread safe.  Prints nothing, except once when keys/source is there
 * but cannot be read.
 */
int		 source_check(const struct rawmsg *m, struct fetched *f);

/*
 * Decode n bytes of text in charset (NULL when none was declared) to
 * UTF-8.  Bytes the charset cannot explain never stop decoding: they
 * become U+FFFD, or windows-1252 characters where the text is otherwise
 * UTF-8.  *defect is set to a defect code ("charset-mismatch",
 * "unknown-charset") or NULL.  Malloc'ed, NUL-terminated, length in
 * *outlen; exits EX_OSERR when out of memory.
 */
char		*charset_decode(const char *data, size_t n, const char *charset,
		    size_t *outlen, const char **defect);

/*
 * RFC 2047: decode the encoded-words in n bytes of a header value into
 * UTF-8 (text outside them read as UTF-8, else windows-1252); and a copy
 * of a value with each run of encoded-words made one UTF-8 word, for
 * GMime's address and parameter parsers.  Both malloc'ed.
 */
char		*rfc2047_decode(const char *s, size_t n, size_t *outlen);
char		*rfc2047_normalize(const char *s);

/*
 * One header field: its name, and its raw value from after the colon
 * through the line break of its last line, both in place (not
 * NUL-terminated); where it starts in the message, and how many bytes its
 * lines take.  A header block is its fields in order.
 */
struct hfield {
	const char	*name, *raw;
	size_t		 namelen, rawlen;
	long long	 offset;
	size_t		 len;
};
struct hblock {
	struct hfield	*f;
	size_t		 n, cap;
	size_t		 end;		/* where the block's empty line is */
};
int		 hdr_split(const char *data, size_t len, struct hblock *hb);
int		 hdr_is(const struct hfield *f, const char *name);
int		 hdr_is_content(const struct hfield *f);

/*
 * Unpack a TNEF (winmail.dat) blob: fn is called for each attached file
 * with its name (NULL if none) and bytes.  Returns the number of files,
 * or -1 when the blob is not TNEF or is damaged.
 */
int		 tnef_unpack(const void *data, size_t len,
		    void (*fn)(const char *name, const void *bytes, size_t n,
		    void *arg), void *arg);

#endif
