/*
 * The analyst's answer, written in Markdown, as HTML: cmark-gfm with its
 * table extension, and hard line breaks kept (XSOAR's nl2br), so a
 * reply reads as it was typed.  Raw HTML in it is kept, as XSOAR keeps
 * it; the mail goes to the people on the case, written by the team.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>

#include "mailsend.h"
#include "xalloc.h"

char *
markdown_html(const char *md)
{
	cmark_parser *p;
	cmark_node *doc;
	cmark_syntax_extension *ext;
	cmark_llist *exts = NULL;
	int opts = CMARK_OPT_HARDBREAKS | CMARK_OPT_UNSAFE;
	const char *names[] = { "table", "strikethrough", "autolink" };
	char *frag, *html;
	size_t i;

	cmark_gfm_core_extensions_ensure_registered();
	p = cmark_parser_new(opts);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((ext = cmark_find_syntax_extension(names[i])) != NULL) {
			cmark_parser_attach_syntax_extension(p, ext);
			exts = cmark_llist_append(cmark_get_default_mem_allocator(),
			    exts, ext);
		}
	cmark_parser_feed(p, md, strlen(md));
	doc = cmark_parser_finish(p);
	frag = cmark_render_html(doc, opts, exts);
	html = xasprintf("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">"
	    "</head><body>\r\n%s</body></html>\r\n", frag);
	free(frag);
	cmark_llist_free(cmark_get_default_mem_allocator(), exts);
	cmark_node_free(doc);
	cmark_parser_free(p);
	return html;
}

char *
add_signature(const char *html, const char *sig)
{
	const char *p, *at;
	size_t n = 0, cap, sl = strlen(sig), any = 0;
	char *out;

	cap = strlen(html) + 1;
	for (p = html; (at = strcasestr(p, "</body>")) != NULL; p = at + 7)
		cap += sl + 4;
	cap += sl + 4;
	out = xmalloc(cap);
	for (p = html; (at = strcasestr(p, "</body>")) != NULL; p = at + 7) {
		memcpy(out + n, p, (size_t)(at - p));
		n += (size_t)(at - p);
		n += (size_t)sprintf(out + n, "\r\n%s\r\n</body>", sig);
		any = 1;
	}
	strcpy(out + n, p);
	n += strlen(p);
	if (!any)
		sprintf(out + n, "\r\n%s\r\n", sig);
	return out;
}
