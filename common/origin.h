/*
 * Where a fetched message came from, carried from mailfetch to mailparse
 * in a first header line of the mboxrd stream:
 *
 *	X-Mailcase-Source: v=1; account=soc; folder=INBOX;
 *	    uidvalidity=1796137136; uid=42; size=5120; sha256=<64 hex>;
 *	    sig=<128 hex>
 *
 * (one line).  account and folder are percent-encoded (every byte
 * outside A-Z a-z 0-9 . _ - / + becomes %XX), size and sha256 are the
 * length and SHA-256 of the server's bytes that follow the header line,
 * and sig an Ed25519 signature (libsodium's crypto_sign) under the spool
 * key pair keys/source over the value up to "; sig=".  The line can be
 * checked on its own, so a message cut short on its way (mailfetch
 * killed while writing it) is known for what it is: a signed header with
 * too few bytes behind it.
 *
 * Anybody can write such a header into a mail; only the holder of the
 * secret key (mailfetch) can write one that verifies, and a verified
 * header vouches for these exact bytes, so it cannot be moved onto
 * another message either.  The checker (mailparse) needs only the public
 * key, keys/source.pub: nothing it holds can forge one.
 * mailparse takes the header off and uses the origin only when it
 * verifies; otherwise the line stays part of the message like any other
 * header.
 */
#ifndef ORIGIN_H
#define ORIGIN_H

#include <stddef.h>

#include "keys.h"

#define ORIGIN_HEADER	"X-Mailcase-Source"
/* Longest header line origin_header() writes or origin_parse() reads. */
#define ORIGIN_LINE_MAX	4096

struct origin {
	char			*account;	/* decoded, malloc'ed */
	char			*folder;	/* decoded, malloc'ed */
	unsigned long long	 uidvalidity;
	unsigned long long	 uid;
	unsigned long long	 size;		/* bytes of the message */
	char			 sha256[65];	/* their SHA-256, hex */
	/* Set by origin_parse(), for origin_check(). */
	char			*signed_part;	/* the value before "; sig=" */
	unsigned char		 sig[64];
};

/*
 * The header line, ending in "\n", for the len bytes at msg, signed with
 * sk, into out.  Returns its
 * length, or -1 when it does not fit (errno ENAMETOOLONG).
 */
int	origin_header(const unsigned char sk[KEY_SECRET_BYTES], const char *account,
	    const char *folder, unsigned long long uidvalidity,
	    unsigned long long uid, const void *msg, size_t len,
	    char *out, size_t outsz);

/*
 * Is the first line of the len bytes at data an origin header?  1: yes
 * and well formed, *o filled (free with origin_free()), *skip set to the
 * length of the line with its line end; the message is the o->size
 * bytes after it (the caller checks that they are there).  0: the first
 * line is no such header.  -1: it is one but malformed; *o is empty.
 */
int	origin_parse(const char *data, size_t len, struct origin *o,
	    size_t *skip);

/*
 * 1 when o's signature is right under the public key pk, else 0.  The
 * caller then compares o->size and o->sha256 with the bytes it has.
 */
int	origin_check(const unsigned char pk[KEY_PUBLIC_BYTES],
	    const struct origin *o);

void	origin_free(struct origin *);

/*
 * Splunk SOAR's source_data_identifier for a fetched message:
 * "<md5 hex of folder> : <uid>", into out (at least 56 bytes).
 */
void	origin_source_id(const char *folder, unsigned long long uid,
	    char *out, size_t outsz);

#endif
