#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>

#include "html.h"
#include "utf8.h"

/* Longest tag or attribute name kept; longer ones are cut (and ignored). */
#define NAME_MAX_LEN	31

static const unsigned char is_space[256] = {
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['\f'] = 1, ['\v'] = 1,
};

static int
is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int
is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/*
 * One character reference at s[0] == '&' (n bytes available): its
 * UTF-8 into out and the bytes it used, or 0 when it is not one.
 */
static size_t
entity(const char *s, size_t n, char *out, size_t *outn)
{
	const htmlEntityDesc *e;
	unsigned long cp = 0;
	char name[NAME_MAX_LEN + 1];
	size_t i = 1, start, len;
	int hex = 0;

	if (n < 3)
		return 0;
	if (s[1] == '#') {
		i = 2;
		if (s[i] == 'x' || s[i] == 'X') {
			hex = 1;
			i++;
		}
		start = i;
		for (; i < n && i - start < 8; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c >= '0' && c <= '9')
				cp = cp * (hex ? 16 : 10) + (c - '0');
			else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				cp = cp * 16 + ((c | 0x20) - 'a' + 10);
			else
				break;
		}
		if (i == start)
			return 0;
		while (i < n && i - start < 16 && ((s[i] >= '0' && s[i] <= '9') ||
		    (hex && is_alnum((unsigned char)s[i]))))
			i++, cp = 0x110000;	/* too long: not a character */
		if (i < n && s[i] == ';')
			i++;
		*outn = utf8_put(out, cp);
		return i;
	}
	for (start = 1; i < n && i - start < NAME_MAX_LEN && is_alnum((unsigned char)s[i]); i++)
		;
	len = i - start;
	if (len == 0)
		return 0;
	memcpy(name, s + start, len);
	name[len] = '\0';
	if (i < n && s[i] == ';') {
		if ((e = htmlEntityLookup((const xmlChar *)name)) == NULL)
			return 0;
		*outn = utf8_put(out, e->value);
		return i + 1;
	}
	/* The old forms without ';' that real mail still uses, alone. */
	if (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '='))
		return 0;
	if (!strcmp(name, "amp"))
		cp = '&';
	else if (!strcmp(name, "lt"))
		cp = '<';
	else if (!strcmp(name, "gt"))
		cp = '>';
	else if (!strcmp(name, "quot"))
		cp = '"';
	else if (!strcmp(name, "nbsp"))
		cp = 0xa0;
	else
		return 0;
	*outn = utf8_put(out, cp);
	return i;
}

size_t
html_decode(const char *s, size_t n, char *out)
{
	const char *amp;
	size_t i = 0, o = 0, used, k;

	while (i < n) {
		if ((amp = memchr(s + i, '&', n - i)) == NULL) {
			memcpy(out + o, s + i, n - i);
			o += n - i;
			break;
		}
		k = (size_t)(amp - (s + i));
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
		if ((used = entity(s + i, n - i, out + o, &k)) > 0) {
			o += k;
			i += used;
		} else
			out[o++] = s[i++];
	}
	out[o] = '\0';
	return o;
}

struct scan {
	const struct html_cb	*cb;
	void			*arg;
	char			*buf;
	size_t			 cap;
	int			 failed;
};

/* Decode into the scanner's buffer; NULL when out of memory. */
static const char *
decode(struct scan *sc, const char *s, size_t n, size_t *outn)
{
	char *p;

	if (n + 4 > sc->cap) {
		if ((p = realloc(sc->buf, n + 4)) == NULL) {
			sc->failed = 1;
			return NULL;
		}
		sc->buf = p;
		sc->cap = n + 4;
	}
	*outn = html_decode(s, n, sc->buf);
	return sc->buf;
}

static void
emit_text(struct scan *sc, const char *s, size_t n)
{
	const char *d;
	size_t dn;

	if (sc->cb->text == NULL || n == 0)
		return;
	if (memchr(s, '&', n) == NULL) {
		sc->cb->text(sc->arg, s, n);
		return;
	}
	if ((d = decode(sc, s, n, &dn)) != NULL)
		sc->cb->text(sc->arg, d, dn);
}

/* Where "</name" starts at or after i (case-insensitive), or n. */
static size_t
find_end_tag(const char *h, size_t n, size_t i, const char *name)
{
	size_t len = strlen(name);
	const char *p;

	while (i < n && (p = memchr(h + i, '<', n - i)) != NULL) {
		i = (size_t)(p - h);
		if (n - i >= len + 2 && h[i + 1] == '/' &&
		    strncasecmp(h + i + 2, name, len) == 0 &&
		    (n - i == len + 2 || !is_alnum((unsigned char)h[i + 2 + len])))
			return i;
		i++;
	}
	return n;
}

static size_t
skip_past(const char *h, size_t n, size_t i, const char *end)
{
	const char *p = memmem(h + i, n - i, end, strlen(end));

	return p ? (size_t)(p - h) + strlen(end) : n;
}

/* Elements whose content is not markup: skipped to their end tag. */
static int
raw_element(const char *name)
{
	return !strcmp(name, "script") || !strcmp(name, "style") ||
	    !strcmp(name, "title") || !strcmp(name, "textarea") ||
	    !strcmp(name, "xmp") || !strcmp(name, "iframe") ||
	    !strcmp(name, "noembed") || !strcmp(name, "noframes");
}

void
html_scan(const char *h, size_t n, const struct html_cb *cb, void *arg)
{
	struct scan sc = { cb, arg, NULL, 0, 0 };
	char name[NAME_MAX_LEN + 1], aname[NAME_MAX_LEN + 1];
	const char *p, *v;
	size_t i = 0, j, k, vstart, vlen, dn;
	int closing, hidden = 0;
	unsigned char c;

	while (i < n && !sc.failed) {
		p = memchr(h + i, '<', n - i);
		j = p ? (size_t)(p - h) : n;
		if (!hidden)
			emit_text(&sc, h + i, j - i);
		if ((i = j) >= n)
			break;

		if (i + 1 < n && (h[i + 1] == '!' || h[i + 1] == '?')) {
			if (n - i >= 4 && h[i + 2] == '-' && h[i + 3] == '-')
				i = skip_past(h, n, i + 4, "-->");
			else
				i = skip_past(h, n, i + 2, ">");
			continue;
		}
		closing = i + 1 < n && h[i + 1] == '/';
		j = i + 1 + closing;
		if (j >= n || !is_alpha((unsigned char)h[j])) {
			if (!hidden)
				emit_text(&sc, "<", 1);
			i++;
			continue;
		}
		for (k = 0; j < n && !is_space[(unsigned char)h[j]] &&
		    h[j] != '>' && h[j] != '/'; j++)
			if (k < NAME_MAX_LEN)
				name[k++] = (char)(h[j] | (is_alpha((unsigned char)h[j]) ? 0x20 : 0));
		name[k] = '\0';
		if (cb->tag != NULL)
			cb->tag(arg, name, closing);

		/* Attributes, up to the '>' that ends the tag. */
		for (;;) {
			while (j < n && (is_space[(unsigned char)h[j]] || h[j] == '/'))
				j++;
			if (j >= n || h[j] == '>')
				break;
			k = 0;
			do {
				c = (unsigned char)h[j];
				if (k < NAME_MAX_LEN)
					aname[k++] = (char)(is_alpha(c) ? c | 0x20 : c);
				j++;
			} while (j < n && !is_space[(unsigned char)h[j]] &&
			    h[j] != '=' && h[j] != '>' && h[j] != '/');
			aname[k] = '\0';
			while (j < n && is_space[(unsigned char)h[j]])
				j++;
			vstart = j;
			vlen = 0;
			if (j < n && h[j] == '=') {
				j++;
				while (j < n && is_space[(unsigned char)h[j]])
					j++;
				if (j < n && (h[j] == '"' || h[j] == '\'')) {
					c = (unsigned char)h[j++];
					vstart = j;
					p = memchr(h + j, c, n - j);
					j = p ? (size_t)(p - h) : n;
					vlen = j - vstart;
					if (j < n)
						j++;
				} else {
					vstart = j;
					while (j < n && !is_space[(unsigned char)h[j]] &&
					    h[j] != '>')
						j++;
					vlen = j - vstart;
				}
			}
			if (!closing && cb->attr != NULL &&
			    (v = decode(&sc, h + vstart, vlen, &dn)) != NULL)
				cb->attr(arg, name, aname, v, dn);
		}
		i = j < n ? j + 1 : n;
		if (closing) {
			if (!strcmp(name, "head"))
				hidden = 0;
			continue;
		}
		if (!strcmp(name, "head"))
			hidden = 1;
		else if (!strcmp(name, "body"))
			hidden = 0;
		if (raw_element(name)) {
			j = find_end_tag(h, n, i, name);
			if (!strcmp(name, "textarea") && !hidden)
				emit_text(&sc, h + i, j - i);
			i = j;
		}
	}
	free(sc.buf);
}

/* html_to_text */

struct out {
	char	*buf;
	size_t	 len, cap;
	int	 space;		/* a space is owed before the next word */
	int	 newlines;	/* newlines at the end of buf */
	int	 pre;
	char	*href;		/* the open link's target */
	size_t	 linkstart;
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

static void
on_text(void *arg, const char *s, size_t n)
{
	struct out *o = arg;
	size_t i = 0, w;

	if (o->pre) {
		put(o, s, n);
		o->newlines = s[n - 1] == '\n';
		return;
	}
	while (i < n) {
		if (is_space[(unsigned char)s[i]]) {
			if (o->len > 0 && o->newlines == 0)
				o->space = 1;
			i++;
			continue;
		}
		w = i;
		while (i < n && !is_space[(unsigned char)s[i]])
			i++;
		if (o->space)
			put(o, " ", 1);
		o->space = 0;
		put(o, s + w, i - w);
		o->newlines = 0;
	}
}

enum tagkind { T_OTHER, T_PARA, T_LINE, T_CELL };

/* How a tag breaks the text; the first letter is checked before strcmp. */
static enum tagkind
tag_kind(const char *name)
{
	static const struct {
		const char	*name;
		enum tagkind	 kind;
	} tags[] = {
		{ "p", T_PARA }, { "h1", T_PARA }, { "h2", T_PARA },
		{ "h3", T_PARA }, { "h4", T_PARA }, { "h5", T_PARA },
		{ "h6", T_PARA }, { "table", T_PARA }, { "blockquote", T_PARA },
		{ "pre", T_PARA }, { "ul", T_PARA }, { "ol", T_PARA },
		{ "dl", T_PARA }, { "hr", T_PARA }, { "form", T_PARA },
		{ "fieldset", T_PARA },
		{ "br", T_LINE }, { "div", T_LINE }, { "li", T_LINE },
		{ "tr", T_LINE }, { "dt", T_LINE }, { "dd", T_LINE },
		{ "section", T_LINE }, { "article", T_LINE }, { "header", T_LINE },
		{ "footer", T_LINE }, { "nav", T_LINE }, { "aside", T_LINE },
		{ "main", T_LINE }, { "address", T_LINE }, { "center", T_LINE },
		{ "caption", T_LINE }, { "body", T_LINE },
		{ "td", T_CELL }, { "th", T_CELL },
	};
	size_t i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (tags[i].name[0] == name[0] && !strcmp(tags[i].name, name))
			return tags[i].kind;
	return T_OTHER;
}

static void
end_link(struct out *o)
{
	char *s;

	if (o->href == NULL)
		return;
	/* Keep where a link goes unless its text already says it. */
	if (o->buf == NULL || o->len - o->linkstart > 4096 ||
	    memmem(o->buf + o->linkstart,
	    o->len - o->linkstart, o->href, strlen(o->href)) == NULL) {
		if (asprintf(&s, "<%s>", o->href) != -1) {
			if (o->len > 0 && o->newlines == 0)
				o->space = 1;
			on_text(o, s, strlen(s));
			free(s);
		}
	}
	free(o->href);
	o->href = NULL;
}

static void
on_tag(void *arg, const char *name, int closing)
{
	struct out *o = arg;

	if (!strcmp(name, "a"))
		end_link(o);
	if (!strcmp(name, "pre"))
		o->pre = !closing;
	switch (tag_kind(name)) {
	case T_PARA:
		newline(o, 2);
		break;
	case T_LINE:
		if (!(closing && !strcmp(name, "br")))
			newline(o, 1);
		break;
	case T_CELL:
		if (!closing)
			o->space = o->len > 0 && o->newlines == 0;
		break;
	case T_OTHER:
		break;
	}
	if (!closing && !strcmp(name, "li")) {
		put(o, "* ", 2);
		o->newlines = 0;
	}
}

static void
on_attr(void *arg, const char *tag, const char *name, const char *v, size_t n)
{
	struct out *o = arg;

	if (!strcmp(tag, "img") && !strcmp(name, "alt") && n > 0) {
		if (o->len > 0 && o->newlines == 0)
			o->space = 1;
		on_text(o, v, n);
	} else if (!strcmp(tag, "a") && !strcmp(name, "href") && n > 0 &&
	    strncasecmp(v, "mailto:", 7) != 0 && v[0] != '#' &&
	    memchr(v, '\0', n) == NULL) {
		free(o->href);
		if ((o->href = strndup(v, n)) == NULL)
			o->failed = 1;
		o->linkstart = o->len;
	}
}

char *
html_to_text(const char *html, size_t n, size_t *outlen)
{
	static const struct html_cb cb = { on_text, on_tag, on_attr };
	struct out o;

	memset(&o, 0, sizeof(o));
	html_scan(html, n, &cb, &o);
	end_link(&o);
	while (o.len > 0 && o.buf[o.len - 1] == '\n')
		o.len--;
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
