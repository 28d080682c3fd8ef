/*
 * UTF-8 checks.  JSON records carry only valid UTF-8; bytes from mail
 * that are not are repaired, each bad byte becoming U+FFFD.
 */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence starting at s (n bytes available):
 * 1 to 4, or 0 when the bytes there are not valid UTF-8 (overlongs,
 * surrogates and code points past U+10FFFF included).
 */
size_t	utf8_seqlen(const char *s, size_t n);

/* Nonzero when all n bytes are valid UTF-8. */
int	utf8_valid(const char *s, size_t n);

/*
 * A copy of s (n bytes) with every invalid byte replaced by U+FFFD, in a
 * malloc'ed NUL-terminated buffer whose length goes to *outlen; NULL when
 * out of memory.  The caller frees.
 */
char	*utf8_repair(const char *s, size_t n, size_t *outlen);

/*
 * Write code point cp as UTF-8 at o (room for 4 bytes); returns the
 * bytes written.  NUL, surrogates and values past U+10FFFF, which no
 * text may carry, become U+FFFD.
 */
size_t	utf8_put(char *o, unsigned long cp);

#endif
