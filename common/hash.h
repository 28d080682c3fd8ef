/*
 * Digests of mail and attachments.  SHA-256 names everything in the
 * spool: a message's id, an attachment's vault key; MD5 and SHA-1 are
 * there because SOC tools and threat feeds still speak them.  OpenSSL's
 * libcrypto does the work: it uses the CPU's SHA instructions, five times
 * the speed of portable code, and hashing is most of what mailparse does
 * besides parsing.  (libsodium keeps randomness, MACs and secrets.)
 */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>

#define HASH_HEX_LEN	64	/* hex digits of a SHA-256 */

struct digests {
	char	md5[33];
	char	sha1[41];
	char	sha256[HASH_HEX_LEN + 1];
};

/* Write the lowercase hex SHA-256 of data into hex (65 bytes with NUL). */
void	hash_sha256_hex(const void *data, size_t len, char hex[HASH_HEX_LEN + 1]);

/* The lowercase hex MD5 of data (33 bytes with NUL). */
void	hash_md5_hex(const void *data, size_t len, char hex[33]);

/* MD5, SHA-1 and SHA-256 of data, as lowercase hex. */
void	hash_all(const void *data, size_t len, struct digests *d);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void	hash_hex(const unsigned char *bin, size_t n, char *out);

/* Nonzero when s is exactly 64 lowercase hex digits. */
int	hash_is_hex(const char *s);

#endif
