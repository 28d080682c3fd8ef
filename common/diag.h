/*
 * Diagnostics in one shape: "prog: object: operation: reason".
 * Text that came from outside (header values, server replies, file names)
 * is made safe for a terminal before it is printed: control characters and
 * bytes that are not UTF-8 become \xNN, and it is cut at DIAG_MAX bytes.
 */
#ifndef DIAG_H
#define DIAG_H

#include <stddef.h>

/* Longest piece of outside text one diagnostic prints. */
#define DIAG_MAX	400

/* Set the program name from argv[0] (its last path component). */
void		 diag_init(const char *argv0);
const char	*diag_prog(void);

/*
 * Print one line to stderr.  object and op may be NULL (they are left
 * out); object is sanitized, the formatted reason is sanitized too.
 */
void	diag(const char *object, const char *op, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Write a terminal-safe copy of the n bytes at s into out (outsz bytes,
 * always NUL-terminated); returns out.
 */
char	*diag_safe(char *out, size_t outsz, const char *s, size_t n);

#endif
