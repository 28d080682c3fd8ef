/*
 * Mail HTML made safe to open in a browser, for the thread view.  An
 * allow-list over libxml2's parse tree (the HTML5-ish recovery of a real
 * parser, not a regular expression): elements not on the list are
 * unwrapped or, for those whose content is code or a remote load
 * (script, style, iframe, object, ...), dropped with their content;
 * attributes not on the list go, and with them every on* handler.  A
 * link keeps http, https and mailto targets; an image keeps only a data:
 * URI, which a cid: reference becomes when its part is in the vault.
 * The page around it carries a Content-Security-Policy as a second wall.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <sodium.h>

#include "cases.h"
#include "codematch.h"
#include "hash.h"
#include "spool.h"
#include "xalloc.h"

struct out {
	char	*buf;
	size_t	 len, cap;
};

struct san {
	struct out		 o;
	struct cases		*cs;
	const struct inline_img	*imgs;
	size_t			 nimgs;
};

static const char *dropped[] = {
	"script", "style", "head", "title", "iframe", "frame", "frameset",
	"object", "embed", "applet", "noscript", "template", "svg", "math",
	"link", "meta", "base", "audio", "video", "source", "track", "canvas",
	"input", "button", "select", "textarea", "option", "form", "portal",
	NULL
};

static const char *kept[] = {
	"a", "abbr", "address", "b", "big", "blockquote", "br", "caption",
	"center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div",
	"dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
	"i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
	"samp", "small", "span", "strike", "strong", "sub", "sup", "table",
	"tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
	NULL
};

static const char *attrs[] = {
	"align", "alt", "bgcolor", "border", "cellpadding", "cellspacing",
	"class", "color", "colspan", "dir", "face", "height", "lang",
	"rowspan", "size", "span", "start", "style", "title", "valign",
	"width", NULL
};

static const char *void_tags[] = { "br", "hr", "img", "col", NULL };

static int
in(const char **list, const char *s)
{
	for (; *list != NULL; list++)
		if (!strcasecmp(*list, s))
			return 1;
	return 0;
}

static void
put(struct out *o, const char *s, size_t n)
{
	xgrow(&o->buf, &o->cap, o->len + n + 1);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Text or an attribute value, escaped for either place. */
static void
put_escaped(struct out *o, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;

		switch (*s) {
		case '&':	rep = "&amp;"; break;
		case '<':	rep = "&lt;"; break;
		case '>':	rep = "&gt;"; break;
		case '"':	rep = "&quot;"; break;
		case '\'':	rep = "&#39;"; break;
		default:	continue;
		}
		put(o, run, (size_t)(s - run));
		puts_(o, rep);
		run = s + 1;
	}
	put(o, run, (size_t)(s - run));
}

/* A style that could load something or cover the page goes. */
static int
style_ok(const char *v)
{
	static const char *bad[] = { "url(", "expression", "@import", "\\",
	    "position", "behavior", "-moz-binding", "image-set", NULL };
	const char **b;

	for (b = bad; *b != NULL; b++)
		if (strcasestr(v, *b) != NULL)
			return 0;
	return 1;
}

static int
href_ok(const char *v)
{
	while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
		v++;
	return !strncasecmp(v, "http://", 7) || !strncasecmp(v, "https://", 8) ||
	    !strncasecmp(v, "mailto:", 7);
}

static int
image_type_ok(const char *t)
{
	static const char *ok[] = { "image/png", "image/jpeg", "image/gif",
	    "image/webp", "image/bmp", NULL };

	return t != NULL && in(ok, t);
}

/* A cid: reference as a data: URI from the vault, or NULL. */
static char *
cid_data(struct san *sn, const char *cid)
{
	const struct inline_img *img = NULL;
	char path[96], *uri = NULL, *b64;
	unsigned char *bytes = NULL;
	struct stat st;
	size_t i, want, b64len;
	ssize_t got;
	int fd;

	while (*cid == '<')
		cid++;
	want = strcspn(cid, ">");
	for (i = 0; i < sn->nimgs; i++) {
		const char *c = sn->imgs[i].cid;

		while (c && *c == '<')
			c++;
		if (c && strlen(c) - strcspn(c, ">") <= 1 &&
		    strcspn(c, ">") == want && !strncasecmp(c, cid, want)) {
			img = &sn->imgs[i];
			break;
		}
	}
	if (img == NULL || img->vault == NULL || !hash_is_hex(img->vault) ||
	    !image_type_ok(img->type))
		return NULL;
	snprintf(path, sizeof(path), "vault/%.2s/%s", img->vault, img->vault);
	if ((fd = openat(spool_dirfd(cases_spool(sn->cs)), path,
	    O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    (size_t)st.st_size > MAX_INLINE_IMAGE)
		goto out;
	bytes = xmalloc((size_t)st.st_size);
	if ((got = read(fd, bytes, (size_t)st.st_size)) != st.st_size)
		goto out;
	b64len = sodium_base64_encoded_len((size_t)st.st_size,
	    sodium_base64_VARIANT_ORIGINAL);
	b64 = xmalloc(b64len);
	sodium_bin2base64(b64, b64len, bytes, (size_t)st.st_size,
	    sodium_base64_VARIANT_ORIGINAL);
	uri = xasprintf("data:%s;base64,%s", img->type, b64);
	free(b64);
out:
	free(bytes);
	close(fd);
	return uri;
}

static void
put_attr(struct out *o, const char *name, const char *value)
{
	puts_(o, " ");
	puts_(o, name);
	puts_(o, "=\"");
	put_escaped(o, value);
	puts_(o, "\"");
}

static void
element_open(struct san *sn, xmlNode *n)
{
	const char *tag = (const char *)n->name;
	xmlAttr *a;
	char *v, *uri;

	puts_(&sn->o, "<");
	puts_(&sn->o, tag);
	for (a = n->properties; a != NULL; a = a->next) {
		const char *an = (const char *)a->name;

		if ((v = (char *)xmlNodeGetContent((xmlNode *)a)) == NULL)
			continue;
		if (!strcasecmp(tag, "a") && !strcasecmp(an, "href")) {
			if (href_ok(v)) {
				put_attr(&sn->o, "href", v);
				put_attr(&sn->o, "rel", "noopener noreferrer");
				put_attr(&sn->o, "target", "_blank");
			}
		} else if (!strcasecmp(tag, "img") && !strcasecmp(an, "src")) {
			if (!strncasecmp(v, "cid:", 4) &&
			    (uri = cid_data(sn, v + 4)) != NULL) {
				put_attr(&sn->o, "src", uri);
				free(uri);
			}
			/* A remote image would tell the sender we looked. */
		} else if (in(attrs, an) &&
		    (strcasecmp(an, "style") || style_ok(v)))
			put_attr(&sn->o, an, v);
		xmlFree(v);
	}
	puts_(&sn->o, ">");
}

static void
walk(struct san *sn, xmlNode *n, int depth)
{
	const char *tag;

	for (; n != NULL; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content != NULL)
				put_escaped(&sn->o, (const char *)n->content);
			continue;
		}
		if (n->type != XML_ELEMENT_NODE || n->name == NULL)
			continue;	/* comments, processing instructions */
		tag = (const char *)n->name;
		if (in(dropped, tag))
			continue;
		if (depth > 200 || !in(kept, tag)) {
			walk(sn, n->children, depth + 1);
			continue;
		}
		element_open(sn, n);
		if (in(void_tags, tag))
			continue;
		walk(sn, n->children, depth + 1);
		puts_(&sn->o, "</");
		puts_(&sn->o, tag);
		puts_(&sn->o, ">");
	}
}

char *
html_escaped(const char *s)
{
	struct out o = { NULL, 0, 0 };

	puts_(&o, "");
	put_escaped(&o, s ? s : "");
	return o.buf;
}

char *
html_sanitize(const char *html, size_t n, struct cases *cs,
    const struct inline_img *imgs, size_t nimgs)
{
	struct san sn = { .cs = cs, .imgs = imgs, .nimgs = nimgs };
	htmlDocPtr doc;
	xmlNode *root;

	puts_(&sn.o, "");
	if (n > 0 && n <= (size_t)INT32_MAX &&
	    (doc = htmlReadMemory(html, (int)n, NULL, "UTF-8",
	    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	    HTML_PARSE_NONET | HTML_PARSE_COMPACT)) != NULL) {
		if ((root = xmlDocGetRootElement(doc)) != NULL)
			walk(&sn, root, 0);
		xmlFreeDoc(doc);
	}
	return sn.o.buf;
}
