/*
 * Must-succeed allocation for the tools: on failure print
 * "prog: out of memory" and exit EX_OSERR.  Parsers in common/ do not use
 * these; they return NULL or -1 so that tests can drive their failure paths.
 */
#ifndef XALLOC_H
#define XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
/* Grow *buf so it holds at least need bytes; capacity doubles. */
void	 xgrow(char **buf, size_t *cap, size_t need);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Allocated sprintf. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
