/*
 * Message-IDs that mailcase makes for the mail it sends, and proof that
 * a Message-ID is one of them:
 *
 *	<mc.CODE.NONCE.MAC@domain>
 *
 * CODE is the case's thread code, NONCE 16 random hex digits, MAC the
 * first 16 bytes (hex) of HMAC-SHA-512-256 (libsodium's crypto_auth)
 * over "mc.CODE.NONCE" under a key kept in the spool at keys/msgid
 * (32 random bytes, mode 0600, made on first use).  A reply naming such
 * an id in In-Reply-To links to CODE's case with proof that it answers
 * our mail, whatever its subject says; nobody without the key can make
 * one that verifies.
 */
#ifndef MSGID_H
#define MSGID_H

#include <stddef.h>

struct spool;

/* Longest id msgid_make writes, without <> and NUL, for a 253-byte domain. */
#define MSGID_MAX	(3 + 20 + 1 + 16 + 1 + 32 + 1 + 253)

/*
 * A new Message-ID (without <>) for mail of thread code, at domain, into
 * out (MSGID_MAX+1 bytes).  0, or -1 with errno set (the key could not
 * be read or made).
 */
int	msgid_make(struct spool *, const char *code, const char *domain,
	    char *out, size_t outsz);

/*
 * 1 when msgid (without <>) is one msgid_make made with this spool's key,
 * its code into code (CASE_CODE_MAX+1 bytes); 0 when it is not; -1 with
 * errno set when the key cannot be read.  A spool with no key yet made
 * no ids: 0.
 */
int	msgid_verify(struct spool *, const char *msgid, char *code);

#endif
