/*
 * HTML as mail carries it: a scanner for the two things mailcase wants
 * from it, the text a reader sees and the attribute values (links), and a
 * plain-text rendering built on the scanner.
 *
 * The scanner is a single forward pass over the bytes in the manner of
 * the HTML5 tokenizer, without a tree: linear in the input whatever it
 * holds (a DOM parser such as libxml2's spends most of its time building
 * nodes mail filters never look at, and quarter of the speed).  Named
 * entities are looked up in libxml2's table.  It never fails: anything
 * that is not markup is text.
 */
#ifndef HTML_H
#define HTML_H

#include <stddef.h>

struct html_cb {
	/*
	 * Visible text, entities decoded (UTF-8), white space as it was.
	 * Text in script, style, head, title and comments is not visible.
	 */
	void	(*text)(void *arg, const char *s, size_t n);
	/* A start (closing 0) or end tag; name lowercased, NUL-terminated. */
	void	(*tag)(void *arg, const char *name, int closing);
	/* An attribute of the last start tag, name lowercased, value decoded. */
	void	(*attr)(void *arg, const char *tag, const char *name,
		    const char *value, size_t n);
};

/* Scan n bytes of HTML, calling cb's non-NULL members in document order. */
void	 html_scan(const char *html, size_t n, const struct html_cb *cb,
	    void *arg);

/*
 * Decode HTML character references in s (n bytes) into out, which must
 * hold n+1 bytes (a reference is never shorter than its UTF-8); returns
 * the length written (NUL-terminated).
 */
size_t	 html_decode(const char *s, size_t n, char *out);

/*
 * The text a reader sees in n bytes of UTF-8 HTML: no tags, no script or
 * style content, entities decoded, block elements on lines of their own,
 * runs of white space folded, link targets kept as " <url>" after the
 * link text when the text does not already show them.  Malloc'ed UTF-8,
 * length in *outlen; NULL when out of memory.
 */
char	*html_to_text(const char *html, size_t n, size_t *outlen);

#endif
