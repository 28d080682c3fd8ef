#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "html.h"

struct out {
	char	*buf;
	size_t	 len, cap;
	int	 space;		/* a space is owed before the next word */
	int	 newlines;	/* newlines at the end of buf */
	int	 failed;
};

static void
put(struct out *o, const char *s, size_t n)
{
	char *p;
	size_t ncap;

	if (o->failed || n == 0)
		return;
	if (o->len + n + 1 > o->cap) {
		ncap = o->cap ? o->cap : 256;
		while (ncap < o->len + n + 1)
			ncap *= 2;
		if ((p = realloc(o->buf, ncap)) == NULL) {
			o->failed = 1;
			return;
		}
		o->buf = p;
		o->cap = ncap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
newline(struct out *o, int want)
{
	o->space = 0;
	if (o->len == 0)
		return;
	while (o->newlines < want) {
		put(o, "\n", 1);
		o->newlines++;
	}
}

/* Text, folding white space unless pre. */
static void
text(struct out *o, const char *s, int pre)
{
	const char *w;

	if (pre) {
		put(o, s, strlen(s));
		if (*s != '\0')
			o->newlines = s[strlen(s) - 1] == '\n' ? 1 : 0;
		return;
	}
	while (*s != '\0') {
		if (strchr(" \t\r\n\f\v", *s) != NULL) {
			if (o->len > 0 && o->newlines == 0)
				o->space = 1;
			s++;
			continue;
		}
		w = s;
		while (*s != '\0' && strchr(" \t\r\n\f\v", *s) == NULL)
			s++;
		if (o->space)
			put(o, " ", 1);
		o->space = 0;
		put(o, w, (size_t)(s - w));
		o->newlines = 0;
	}
}

static int
is_named(const xmlNode *n, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcasecmp((const char *)n->name, *names) == 0)
			return 1;
	return 0;
}

static const char *const skipped[] = {
	"script", "style", "head", "title", "noscript", "template", "object",
	"iframe", "svg", NULL
};
static const char *const paragraphs[] = {
	"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre",
	"ul", "ol", "dl", "hr", "form", "fieldset", NULL
};
static const char *const lines[] = {
	"br", "div", "li", "tr", "dt", "dd", "section", "article", "header",
	"footer", "nav", "aside", "main", "address", "center", "caption", NULL
};

static void
enter(struct out *o, xmlNode *n)
{
	if (is_named(n, paragraphs))
		newline(o, 2);
	else if (is_named(n, lines))
		newline(o, 1);
	else if (strcasecmp((const char *)n->name, "td") == 0 ||
	    strcasecmp((const char *)n->name, "th") == 0)
		o->space = o->len > 0 && o->newlines == 0;
	if (strcasecmp((const char *)n->name, "li") == 0) {
		put(o, "* ", 2);
		o->newlines = 0;
	}
	if (strcasecmp((const char *)n->name, "img") == 0) {
		xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");

		if (alt != NULL && *alt != '\0')
			text(o, (const char *)alt, 0);
		xmlFree(alt);
	}
}

static void
leave(struct out *o, xmlNode *n)
{
	xmlChar *href, *txt;

	if (strcasecmp((const char *)n->name, "a") == 0 &&
	    (href = xmlGetProp(n, (const xmlChar *)"href")) != NULL) {
		txt = xmlNodeGetContent(n);
		/* Keep where a link goes unless its text already says it. */
		if (*href != '\0' && strncasecmp((const char *)href, "mailto:", 7) &&
		    strncasecmp((const char *)href, "#", 1) &&
		    (txt == NULL || strstr((const char *)txt,
		    (const char *)href) == NULL)) {
			char *s;

			if (asprintf(&s, "<%s>", (const char *)href) != -1) {
				o->space = o->len > 0;
				text(o, s, 0);
				free(s);
			}
		}
		xmlFree(txt);
		xmlFree(href);
	}
	if (is_named(n, paragraphs))
		newline(o, 2);
	else if (is_named(n, lines) && strcasecmp((const char *)n->name, "br"))
		newline(o, 1);
}

void
html_init(void)
{
	xmlInitParser();
}

char *
html_to_text(const char *html, size_t n, size_t *outlen)
{
	struct out o = { NULL, 0, 0, 0, 0, 0 };
	htmlDocPtr doc;
	xmlNode *cur, *root;
	int pre = 0;

	if (n > 0x7fffffff)
		n = 0x7fffffff;
	doc = htmlReadMemory(html, (int)n, NULL, "UTF-8", HTML_PARSE_RECOVER |
	    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
	    HTML_PARSE_NOIMPLIED);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (root != NULL)
		root = doc->children;
	/* Walk without recursion: hostile HTML nests deep. */
	for (cur = root; cur != NULL; ) {
		if (cur->type == XML_ELEMENT_NODE) {
			if (is_named(cur, skipped))
				goto next;
			enter(&o, cur);
			if (strcasecmp((const char *)cur->name, "pre") == 0)
				pre++;
			if (cur->children != NULL) {
				cur = cur->children;
				continue;
			}
			leave(&o, cur);
			if (strcasecmp((const char *)cur->name, "pre") == 0)
				pre--;
		} else if (cur->type == XML_TEXT_NODE ||
		    cur->type == XML_CDATA_SECTION_NODE) {
			if (cur->content != NULL)
				text(&o, (const char *)cur->content, pre > 0);
		}
next:
		while (cur != NULL && cur->next == NULL) {
			cur = cur->parent;
			if (cur == NULL || cur->type == XML_DOCUMENT_NODE ||
			    cur->type == XML_HTML_DOCUMENT_NODE) {
				cur = NULL;
				break;
			}
			leave(&o, cur);
			if (strcasecmp((const char *)cur->name, "pre") == 0)
				pre--;
		}
		if (cur != NULL)
			cur = cur->next;
	}
	if (doc != NULL)
		xmlFreeDoc(doc);
	/* Trim trailing newlines. */
	while (o.len > 0 && o.buf[o.len - 1] == '\n')
		o.len--;
	put(&o, "", 0);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	if (o.buf == NULL && (o.buf = malloc(1)) == NULL)
		return NULL;
	o.buf[o.len] = '\0';
	*outlen = o.len;
	return o.buf;
}
