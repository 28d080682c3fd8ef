/*
 * SHA-256, the name of everything in the spool: a message's id, an
 * attachment's vault key.  libsodium does the work.
 */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>

#define HASH_HEX_LEN	64	/* hex digits of a SHA-256 */

/* Write the lowercase hex SHA-256 of data into hex (65 bytes with NUL). */
void	hash_sha256_hex(const void *data, size_t len, char hex[HASH_HEX_LEN + 1]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void	hash_hex(const unsigned char *bin, size_t n, char *out);

/* Nonzero when s is exactly 64 lowercase hex digits. */
int	hash_is_hex(const char *s);

#endif
