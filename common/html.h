/*
 * HTML for people who read mail: a plain-text rendering of an HTML body.
 * libxml2's forgiving HTML parser does the parsing and the entities.
 */
#ifndef HTML_H
#define HTML_H

#include <stddef.h>

/*
 * Call once before threads start (libxml2's global set-up).
 */
void	 html_init(void);

/*
 * The text a reader sees in n bytes of UTF-8 HTML: no tags, no script or
 * style content, entities decoded, block elements on lines of their own,
 * runs of white space folded, link targets kept as " <url>" after the
 * link text when they differ from it.  Malloc'ed UTF-8, length in *outlen;
 * NULL when out of memory.  Never fails on bad HTML.
 */
char	*html_to_text(const char *html, size_t n, size_t *outlen);

#endif
