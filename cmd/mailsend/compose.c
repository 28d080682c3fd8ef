/*
 * Mail from a draft, built with GMime: it encodes headers (RFC 2047),
 * parses address lists as RFC 5322 does (quoted commas, groups), picks
 * transfer encodings and writes the result with CRLF line ends.  The
 * structure is the one mail clients expect and Splunk's SMTP app gets
 * wrong: attachments wrap everything in multipart/mixed, the text and
 * HTML are a multipart/alternative, and inline images sit with the HTML
 * in a multipart/related inside it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <gmime/gmime.h>
#include <sodium.h>

#include "diag.h"
#include "hash.h"
#include "html.h"
#include "jsonl.h"
#include "limits.h"
#include "mailsend.h"
#include "spool.h"
#include "xalloc.h"

void
strv_add(struct strv *s, const char *v)
{
	s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
	s->v[s->n++] = xstrdup(v);
	s->v[s->n] = NULL;
}

void
strv_free(struct strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

json_t *
strv_json(const struct strv *s)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < s->n; i++)
		json_array_append_new(a, jsonl_cstr(s->v[i]));
	return a;
}

void
draft_free(struct draft *d)
{
	size_t i;

	strv_free(&d->to);
	strv_free(&d->cc);
	strv_free(&d->bcc);
	strv_free(&d->attach);
	strv_free(&d->hdrname);
	strv_free(&d->hdrvalue);
	strv_free(&d->references);
	for (i = 0; i < d->ninl; i++) {
		free(d->inl[i].path);
		free(d->inl[i].cid);
	}
	free(d->inl);
	free(d->from);
	free(d->subject);
	free(d->body);
	free(d->typed);
	free(d->text);
	free(d->html);
	free(d->in_reply_to);
	free(d->message_id);
	free(d->reply_to);
	free(d->raw);
	free(d->reply_code);
	free(d->new_thread);
	memset(d, 0, sizeof(*d));
	d->thread = -1;
}

void
outmsg_free(struct outmsg *m)
{
	free(m->data);
	free(m->from);
	free(m->message_id);
	strv_free(&m->rcpt);
	memset(m, 0, sizeof(*m));
}

int
looks_html(const char *s)
{
	const char *e;

	if (strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (strncmp(s, "<!--", 4) == 0 && (e = strstr(s + 4, "-->")) != NULL)
			s = e + 3;
		else if (strncmp(s, "<?xml", 5) == 0 && (e = strstr(s, "?>")) != NULL)
			s = e + 2;
		else
			break;
	}
	return strncasecmp(s, "<!doctype html", 14) == 0 ||
	    (strncasecmp(s, "<html", 5) == 0 && (s[5] == '>' || s[5] == ' ' ||
	    s[5] == '\t' || s[5] == '\r' || s[5] == '\n'));
}

/* CR or LF in a header value would start a header of its own. */
static int
injects(const char *what, const char *v)
{
	if (v != NULL && strpbrk(v, "\r\n") != NULL) {
		diag(what, "header", "a line break in the value is refused "
		    "(it would start a header of its own)");
		return 1;
	}
	return 0;
}

/* ';' between addresses as a separator, as people type it, unless it ends a group. */
static char *
semicolons(const char *s)
{
	char *out = xstrdup(s), *p;
	int quoted = 0, group = 0, angle = 0;

	for (p = out; *p != '\0'; p++) {
		if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (*p == '<')
			angle = 1;
		else if (*p == '>')
			angle = 0;
		else if (*p == ':' && !angle)
			group = 1;
		else if (*p == ';' && !angle) {
			if (group)
				group = 0;
			else
				*p = ',';
		}
	}
	return out;
}

/* Add every mailbox of list (groups flattened) to rcpt; count them. */
static size_t
collect(InternetAddressList *list, struct strv *rcpt, int *utf8)
{
	InternetAddress *ia;
	const char *addr;
	size_t n = 0;
	int i, len = internet_address_list_length(list);

	for (i = 0; i < len; i++) {
		ia = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			n += collect(internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(ia)), rcpt, utf8);
			continue;
		}
		addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		if (addr == NULL || *addr == '\0')
			continue;
		for (const char *c = addr; *c; c++)
			if ((unsigned char)*c >= 0x80)
				*utf8 = 1;
		if (rcpt != NULL)
			strv_add(rcpt, addr);
		n++;
	}
	return n;
}

/* Parse the address lists of sv into list; -1 when one holds no address. */
static int
parse_lists(const struct strv *sv, InternetAddressList *list, const char *what)
{
	InternetAddressList *l;
	size_t i;
	char *s;
	int dummy = 0;

	for (i = 0; i < sv->n; i++) {
		if (injects(what, sv->v[i]))
			return -1;
		s = semicolons(sv->v[i]);
		l = internet_address_list_parse(NULL, s);
		free(s);
		if (l == NULL || collect(l, NULL, &dummy) == 0) {
			diag(sv->v[i], what, "no mail address in it");
			if (l != NULL)
				g_object_unref(l);
			return -1;
		}
		internet_address_list_append(list, l);
		g_object_unref(l);
	}
	return 0;
}

static const struct { const char *ext, *type; } types[] = {
	{ "pdf", "application/pdf" }, { "zip", "application/zip" },
	{ "gz", "application/gzip" }, { "json", "application/json" },
	{ "xml", "application/xml" }, { "html", "text/html" },
	{ "htm", "text/html" }, { "txt", "text/plain" }, { "csv", "text/csv" },
	{ "md", "text/markdown" }, { "eml", "message/rfc822" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "svg", "image/svg+xml" }, { "webp", "image/webp" },
	{ "doc", "application/msword" }, { "xls", "application/vnd.ms-excel" },
	{ "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	{ "ics", "text/calendar" },
};

static const char *
type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot != NULL)
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/* The bytes of a file, or of vault:<sha256>; NULL after a diagnostic. */
static GByteArray *
load(struct spool *sp, const char *what, char **name)
{
	GByteArray *b;
	struct stat st;
	char path[4096], buf[65536];
	const char *base;
	ssize_t n;
	int fd;

	if (strncmp(what, "vault:", 6) == 0) {
		if (!hash_is_hex(what + 6) || sp == NULL) {
			diag(what, "attach", sp == NULL ? "no spool" :
			    "not vault:<64 hex digits>");
			return NULL;
		}
		snprintf(path, sizeof(path), "%s/vault/%.2s/%s", spool_dir(sp),
		    what + 6, what + 6);
		*name = xstrdup(what + 6);
	} else {
		snprintf(path, sizeof(path), "%s", what);
		base = strrchr(what, '/');
		*name = xstrdup(base ? base + 1 : what);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		diag(what, "attach", "%s", strerror(errno));
		if (fd != -1)
			close(fd);
		free(*name);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > MAX_MESSAGE_BYTES) {
		diag(what, "attach", S_ISREG(st.st_mode) ? "larger than any "
		    "server takes" : "not a file");
		close(fd);
		free(*name);
		return NULL;
	}
	b = g_byte_array_sized_new((guint)st.st_size);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n == -1 && errno == EINTR))
		if (n > 0)
			g_byte_array_append(b, (guint8 *)buf, (guint)n);
	close(fd);
	return b;
}

/* Lines of at most 998 bytes, no NUL: mail that can go as 7bit or 8bit. */
static int
mail_like(const GByteArray *b, GMimeContentEncoding *enc)
{
	size_t i, line = 0;

	*enc = GMIME_CONTENT_ENCODING_7BIT;
	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\0')
			return 0;
		if (b->data[i] >= 0x80)
			*enc = GMIME_CONTENT_ENCODING_8BIT;
		line = b->data[i] == '\n' ? 0 : line + 1;
		if (line > 998)
			return 0;
	}
	return 1;
}

/* A part holding bytes, which it owns from now on. */
static GMimeObject *
file_part(GByteArray *bytes, const char *name, const char *cid)
{
	GMimeContentEncoding enc = GMIME_CONTENT_ENCODING_7BIT;
	GMimeContentType *ct;
	GMimeDataWrapper *w;
	GMimeStream *st;
	GMimePart *part;
	const char *type;

	type = type_of(name);
	/* RFC 2046 5.2.1: a message/rfc822 part is 7bit or 8bit, never base64. */
	if (!strcmp(type, "message/rfc822") && !mail_like(bytes, &enc))
		type = "application/octet-stream";
	ct = g_mime_content_type_parse(NULL, type);
	part = g_mime_part_new_with_type(g_mime_content_type_get_media_type(ct),
	    g_mime_content_type_get_media_subtype(ct));
	g_object_unref(ct);
	st = g_mime_stream_mem_new_with_byte_array(bytes);
	w = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, w);
	g_object_unref(w);
	g_object_unref(st);
	g_mime_part_set_content_encoding(part, strcmp(type, "message/rfc822") ?
	    GMIME_CONTENT_ENCODING_BASE64 : enc);
	if (cid != NULL) {
		g_mime_part_set_content_id(part, cid);
		g_mime_object_set_disposition(GMIME_OBJECT(part), "inline");
	} else {
		g_mime_object_set_disposition(GMIME_OBJECT(part), "attachment");
		g_mime_part_set_filename(part, name);
	}
	return GMIME_OBJECT(part);
}

/*
 * A text part in UTF-8 (us-ascii when it is), its encoding chosen in one
 * pass: 7bit for short ASCII lines, quoted-printable for text that is
 * mostly ASCII, base64 for the rest.  (GMime's own choice scans and
 * converts the text several times over, a third of composing.)
 */
static GMimeObject *
text_part(const char *subtype, const char *text)
{
	GMimeTextPart *t = g_mime_text_part_new_with_subtype(subtype);
	GMimeContentEncoding enc;
	GMimeDataWrapper *w;
	GMimeStream *st;
	size_t i, n = strlen(text), high = 0, line = 0, longest = 0;

	for (i = 0; i < n; i++) {
		if ((unsigned char)text[i] >= 0x80)
			high++;
		if (text[i] == '\n')
			line = 0;
		else if (++line > longest)
			longest = line;
	}
	st = g_mime_stream_mem_new_with_buffer(text, n);
	w = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(GMIME_PART(t), w);
	g_object_unref(w);
	g_object_unref(st);
	g_mime_text_part_set_charset(t, high ? "utf-8" : "us-ascii");
	enc = high == 0 && longest <= 998 ? GMIME_CONTENT_ENCODING_7BIT :
	    high > n / 6 ? GMIME_CONTENT_ENCODING_BASE64 :
	    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	g_mime_part_set_content_encoding(GMIME_PART(t), enc);
	return GMIME_OBJECT(t);
}

static int
utf8_ok(const char *what, const char *s)
{
	if (s != NULL && !g_utf8_validate(s, -1, NULL)) {
		diag(what, "compose", "not UTF-8");
		return 0;
	}
	return 1;
}

/* The body: text, text + HTML, with inline images and attachments. */
static GMimeObject *
body(struct spool *sp, const struct draft *d, int *r)
{
	GMimeObject *text = NULL, *html = NULL, *top = NULL;
	GMimeMultipart *mp;
	GByteArray *b;
	const char *h = d->html, *t = d->text;
	char *rendered = NULL, *name;
	size_t i, n;

	if (h == NULL && d->body != NULL && looks_html(d->body))
		h = d->body;
	else if (t == NULL && h == NULL)
		t = d->body ? d->body : "";
	if (!utf8_ok("body", t) || !utf8_ok("html", h)) {
		*r = EX_DATAERR;
		return NULL;
	}
	if (h != NULL && t == NULL)
		t = rendered = html_to_text(h, strlen(h), &n);
	text = text_part("plain", t ? t : "");
	free(rendered);
	if (h != NULL) {
		html = text_part("html", h);
		if (d->ninl > 0) {
			mp = g_mime_multipart_new_with_subtype("related");
			g_mime_multipart_add(mp, html);
			g_object_unref(html);
			for (i = 0; i < d->ninl; i++) {
				if ((b = load(sp, d->inl[i].path, &name)) == NULL) {
					g_object_unref(mp);
					g_object_unref(text);
					*r = EX_NOINPUT;
					return NULL;
				}
				html = file_part(b, name, d->inl[i].cid);
				free(name);
				g_mime_multipart_add(mp, html);
				g_object_unref(html);
			}
			html = GMIME_OBJECT(mp);
		}
		mp = g_mime_multipart_new_with_subtype("alternative");
		g_mime_multipart_add(mp, text);
		g_mime_multipart_add(mp, html);
		g_object_unref(text);
		g_object_unref(html);
		top = GMIME_OBJECT(mp);
	} else
		top = text;
	if (d->attach.n == 0)
		return top;
	mp = g_mime_multipart_new_with_subtype("mixed");
	g_mime_multipart_add(mp, top);
	g_object_unref(top);
	for (i = 0; i < d->attach.n; i++) {
		if ((b = load(sp, d->attach.v[i], &name)) == NULL) {
			top = GMIME_OBJECT(mp);
			goto bad;
		}
		html = file_part(b, name, NULL);
		free(name);
		g_mime_multipart_add(mp, html);
		g_object_unref(html);
	}
	return GMIME_OBJECT(mp);
bad:
	g_object_unref(top);
	*r = EX_NOINPUT;
	return NULL;
}

/* A Message-ID of our own for mail outside any case. */
static char *
new_msgid(const char *domain)
{
	unsigned char rnd[12];
	char hex[25];

	randombytes_buf(rnd, sizeof(rnd));
	hash_hex(rnd, sizeof(rnd), hex);
	return xasprintf("mailcase.%s@%s", hex, domain);
}

static char *
serialize(GMimeObject *o, size_t *len)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	GMimeStream *st = g_mime_stream_mem_new();
	GByteArray *ba;
	char *out;

	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	g_mime_object_write_to_stream(o, fo, st);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(st));
	out = xmalloc(ba->len + 1);
	memcpy(out, ba->data, ba->len);
	out[ba->len] = '\0';
	*len = ba->len;
	g_object_unref(st);
	g_mime_format_options_free(fo);
	return out;
}

int
compose(struct spool *sp, const struct draft *d, const char *dflt_from,
    const char *domain, struct outmsg *m)
{
	GMimeMessage *msg;
	GMimeObject *top;
	InternetAddressList *from, *to, *cc, *bcc;
	struct strv fromv = { NULL, 0 }, tov = { NULL, 0 }, ccv = { NULL, 0 },
	    bccv = { NULL, 0 };
	const char *subject = d->subject, *f = d->from ? d->from : dflt_from;
	GDateTime *now;
	char *refs = NULL, *v;
	size_t i, len = 0;
	int r = EX_DATAERR;

	memset(m, 0, sizeof(*m));
	/* Custom headers replace, never add to, the ones we write. */
	for (i = 0; i < d->hdrname.n; i++) {
		const char *k = d->hdrname.v[i], *val = d->hdrvalue.v[i];

		if (injects(k, val) || injects("header name", k))
			return EX_DATAERR;
		if (strpbrk(k, " \t:") != NULL || *k == '\0') {
			diag(k, "header", "not a header name");
			return EX_DATAERR;
		}
		if (!strcasecmp(k, "To"))
			strv_add(&tov, val);
		else if (!strcasecmp(k, "Cc"))
			strv_add(&ccv, val);
		else if (!strcasecmp(k, "Bcc"))
			strv_add(&bccv, val);
		else if (!strcasecmp(k, "From"))
			f = val;
		else if (!strcasecmp(k, "Subject"))
			subject = val;
	}
	if (injects("Subject", subject) || injects("From", f) ||
	    injects("In-Reply-To", d->in_reply_to) || injects("Reply-To",
	    d->reply_to) || !utf8_ok("Subject", subject))
		return EX_DATAERR;
	if (f == NULL) {
		diag(NULL, "compose", "no sender: give --from, or from in the "
		    "account");
		return EX_USAGE;
	}
	strv_add(&fromv, f);
	from = internet_address_list_new();
	to = internet_address_list_new();
	cc = internet_address_list_new();
	bcc = internet_address_list_new();
	msg = g_mime_message_new(TRUE);
	if (parse_lists(&fromv, from, "From") == -1 ||
	    parse_lists(tov.n ? &tov : &d->to, to, "To") == -1 ||
	    parse_lists(ccv.n ? &ccv : &d->cc, cc, "Cc") == -1 ||
	    parse_lists(bccv.n ? &bccv : &d->bcc, bcc, "Bcc") == -1)
		goto done;
	if (internet_address_list_length(from) != 1 ||
	    INTERNET_ADDRESS_IS_GROUP(internet_address_list_get_address(from, 0))) {
		diag(f, "From", "one sender, please");
		goto done;
	}
	collect(to, &m->rcpt, &m->utf8);
	collect(cc, &m->rcpt, &m->utf8);
	collect(bcc, &m->rcpt, &m->utf8);
	if (m->rcpt.n == 0) {
		diag(NULL, "compose", "no recipients: give --to, --cc or --bcc");
		r = EX_USAGE;
		goto done;
	}
	{
		struct strv one = { NULL, 0 };

		collect(from, &one, &m->utf8);
		m->from = xstrdup(one.v[0]);
		strv_free(&one);
	}
	internet_address_list_append(g_mime_message_get_from(msg), from);
	if (internet_address_list_length(to) > 0)
		internet_address_list_append(g_mime_message_get_to(msg), to);
	if (internet_address_list_length(cc) > 0)
		internet_address_list_append(g_mime_message_get_cc(msg), cc);
	if (d->reply_to != NULL) {
		InternetAddressList *rt = internet_address_list_parse(NULL, d->reply_to);

		if (rt != NULL) {
			internet_address_list_append(
			    g_mime_message_get_reply_to(msg), rt);
			g_object_unref(rt);
		}
	}
	g_mime_message_set_subject(msg, subject ? subject : "", "utf-8");
	now = g_date_time_new_now_local();
	g_mime_message_set_date(msg, now);
	g_date_time_unref(now);
	m->message_id = d->message_id ? xstrdup(d->message_id) : new_msgid(domain);
	g_mime_message_set_message_id(msg, m->message_id);
	if (d->in_reply_to != NULL) {
		v = xasprintf("<%s>", d->in_reply_to);
		g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", v, NULL);
		free(v);
	}
	for (i = 0; i < d->references.n; i++) {
		if (injects("References", d->references.v[i]))
			goto done;
		refs = xrealloc(refs, len + strlen(d->references.v[i]) + 4);
		len += (size_t)sprintf(refs + len, "%s<%s>", len ? " " : "",
		    d->references.v[i]);
	}
	if (refs != NULL)
		g_mime_object_set_header(GMIME_OBJECT(msg), "References", refs, NULL);
	for (i = 0; i < d->hdrname.n; i++) {
		const char *k = d->hdrname.v[i];

		if (strcasecmp(k, "To") && strcasecmp(k, "Cc") &&
		    strcasecmp(k, "Bcc") && strcasecmp(k, "From") &&
		    strcasecmp(k, "Subject"))
			g_mime_object_set_header(GMIME_OBJECT(msg), k,
			    d->hdrvalue.v[i], "utf-8");
	}
	if ((top = body(sp, d, &r)) == NULL)
		goto done;
	g_mime_message_set_mime_part(msg, top);
	g_object_unref(top);
	m->data = serialize(GMIME_OBJECT(msg), &m->len);
	r = 0;
done:
	free(refs);
	g_object_unref(msg);
	g_object_unref(from);
	g_object_unref(to);
	g_object_unref(cc);
	g_object_unref(bcc);
	strv_free(&fromv);
	strv_free(&tov);
	strv_free(&ccv);
	strv_free(&bccv);
	if (r != 0)
		outmsg_free(m);
	return r;
}

/* --- raw mail --- */

/* Copy n bytes with every bare LF made CRLF (no SMTP smuggling). */
static char *
copy_crlf(char *o, const char *p, size_t n, char *prev)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && *prev != '\r')
			*o++ = '\r';
		*o++ = p[i];
		*prev = p[i];
	}
	return o;
}

/* Length of the header field at p (its continuation lines included). */
static size_t
field_len(const char *p, const char *e)
{
	const char *q = p;

	for (;;) {
		const char *nl = memchr(q, '\n', (size_t)(e - q));

		if (nl == NULL)
			return (size_t)(e - p);
		q = nl + 1;
		if (q >= e || (*q != ' ' && *q != '\t'))
			return (size_t)(q - p);
	}
}

int
compose_raw(const struct draft *d, struct outmsg *m)
{
	const char *p = d->raw, *e = d->raw + d->rawlen, *hend;
	InternetAddressList *l;
	char *out, *o, *val;
	size_t n, k;
	int infrom = 0, r = EX_DATAERR;
	struct strv froms = { NULL, 0 };
	char prev = '\0';

	memset(m, 0, sizeof(*m));
	out = o = xmalloc(2 * d->rawlen + 3);
	/* The header: Bcc fields out, addresses of To, Cc, Bcc and From read. */
	while (p < e && *p != '\r' && *p != '\n') {
		n = field_len(p, e);
		val = NULL;
		if ((k = strcspn(p, ":")) < n) {
			val = g_mime_utils_header_unfold(xstrndup(p + k + 1, n - k - 1));
		}
		if (val != NULL) {
			int bcc = k == 3 && !strncasecmp(p, "Bcc", 3);
			int rc = bcc || (k == 2 && (!strncasecmp(p, "To", 2) ||
			    !strncasecmp(p, "Cc", 2)));

			infrom = k == 4 && !strncasecmp(p, "From", 4);
			if (k == 10 && !strncasecmp(p, "Message-ID", 10) &&
			    m->message_id == NULL) {
				char *id = val + strspn(val, " \t<");

				m->message_id = xstrndup(id, strcspn(id, "> \t"));
			}
			if (rc || infrom) {
				char *s = semicolons(val);

				if ((l = internet_address_list_parse(NULL, s)) != NULL) {
					collect(l, infrom ? &froms : &m->rcpt,
					    &m->utf8);
					g_object_unref(l);
				}
				free(s);
			}
			g_free(val);
			if (bcc) {
				p += n;
				continue;
			}
		}
		o = copy_crlf(o, p, n, &prev);
		p += n;
	}
	hend = p;
	o = copy_crlf(o, hend, (size_t)(e - hend), &prev);
	*o = '\0';
	m->data = out;
	m->len = (size_t)(o - out);
	if (d->from != NULL) {
		strv_free(&froms);
		strv_add(&froms, d->from);
	}
	if (froms.n == 0) {
		diag(NULL, "--raw", "no From header: the sender is not known");
		goto done;
	}
	if (m->rcpt.n == 0) {
		diag(NULL, "--raw", "no recipient in To, Cc or Bcc");
		goto done;
	}
	m->from = xstrdup(froms.v[0]);
	r = 0;
done:
	strv_free(&froms);
	if (r != 0)
		outmsg_free(m);
	return r;
}
