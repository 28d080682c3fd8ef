/*
 * One raw message in, one message record out (mailrecord(5)).
 *
 * GMime parses with a persistent stream, so part contents stay where they
 * are in the raw buffer until they are decoded.  Every leaf is decoded
 * once: a body to UTF-8 text, an attachment to bytes that are hashed and
 * staged in the vault.  Nested messages become records of their own,
 * recursively, with the same limits.  What is wrong but survivable goes to
 * "defects"; a limit passed, or a message GMime cannot read at all, sets
 * "error", and every field that could still be read is there.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <gmime/gmime.h>

#include "hash.h"
#include "html.h"
#include "jsonl.h"
#include "limits.h"
#include "mailparse.h"
#include "msgsrc.h"
#include "spool.h"
#include "utf8.h"
#include "xalloc.h"

/* Defects listed per message; past this they are counted. */
#define MAX_DEFECTS	64

struct parser {
	struct spool		*sp;
	GMimeParserOptions	*opts;
	GMimeParserOptions	*quiet;		/* opts without the warnings */
	struct msgstate		*cur;		/* where GMime's warnings go */
	gint64			 at;		/* the header we parse, or -1 */
	int			 nested;	/* nested messages so far */
	int			 split;		/* gm_split first (MAILPARSE_SPLIT) */
	int			 bad;		/* an error anywhere */
};

struct buf {
	char	*s;
	size_t	 len, cap;
};

/*
 * Where the buffer GMime reads starts a run of the message's bytes: from
 * that offset of GMime's on, byte to + (offset - from) of the message.
 */
struct seg {
	gint64	 from, to;
};

/* The record being built for one (possibly nested) message. */
struct msgstate {
	json_t		*rec;
	json_t		*attachments, *messages, *defects;
	json_t		*error;
	char		 id[HASH_HEX_LEN + 1];
	int		 idknown;
	char		 noname[40];	/* "name" when there is no subject */
	int		 nparts, ndefects, depth;
	struct hblock	 hb;		/* the top header fields */
	size_t		 hdr_end;	/* where GMime's top header block ends */
	struct seg	*seg;		/* none: GMime reads the message */
	size_t		 nseg, segcap;
	struct buf	 text, html;
};

/* One GMime parse of a buffer, read in place. */
struct gm {
	GByteArray	*ba;
	GMimeStream	*stream;
	GMimeParser	*parser;
	GMimeObject	*top;		/* the message, read as a MIME part */
	char		*owned;		/* a buffer made for a retry */
};

static void	 parser_init(void);
static json_t	*build(struct parser *, const char *, size_t, json_t *,
		    int, const struct rawmsg *, const struct fetched *);
static void	 walk(struct parser *, struct msgstate *, GMimeObject *,
		    const char *, int);

static void
set_error(struct msgstate *ms, const char *code, const char *text)
{
	if (ms->error == NULL)
		ms->error = jsonl_error(code, "%s", text);
}

static void
add_defect(struct msgstate *ms, const char *code, const char *part,
    const char *text)
{
	json_t *d;

	if (++ms->ndefects > MAX_DEFECTS)
		return;
	d = json_object();
	json_object_set_new(d, "code", jsonl_cstr(code));
	if (part != NULL)
		json_object_set_new(d, "part", jsonl_cstr(part));
	json_object_set_new(d, "text", jsonl_cstr(text ? text : code));
	json_array_append_new(ms->defects, d);
}

static const char *
warning_code(GMimeParserWarning w)
{
	switch (w) {
	case GMIME_WARN_DUPLICATED_HEADER:	return "duplicated-header";
	case GMIME_WARN_DUPLICATED_PARAMETER:	return "duplicated-parameter";
	case GMIME_WARN_UNENCODED_8BIT_HEADER:	return "unencoded-8bit-header";
	case GMIME_WARN_INVALID_CONTENT_TYPE:	return "invalid-content-type";
	case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: return "invalid-rfc2047";
	case GMIME_WARN_MALFORMED_MULTIPART:	return "malformed-multipart";
	case GMIME_WARN_TRUNCATED_MESSAGE:	return "truncated-message";
	case GMIME_WARN_MALFORMED_MESSAGE:	return "malformed-message";
	case GMIME_CRIT_INVALID_HEADER_NAME:	return "invalid-header-name";
	case GMIME_CRIT_CONFLICTING_HEADER:	return "conflicting-header";
	case GMIME_CRIT_CONFLICTING_PARAMETER:	return "conflicting-parameter";
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: return "missing-boundary";
	case GMIME_WARN_INVALID_PARAMETER:	return "invalid-parameter";
	case GMIME_WARN_INVALID_ADDRESS_LIST:	return "invalid-address-list";
	case GMIME_CRIT_NESTING_OVERFLOW:	return "nesting-overflow";
	case GMIME_WARN_PART_WITHOUT_CONTENT:	return "part-without-content";
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: return "part-without-headers";
	}
	return "parser-warning";
}

/* Where the header block of data ends: its empty line, or len. */
static size_t
header_end(const char *data, size_t len)
{
	const char *nl = data, *end = data + len;

	while ((nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL) {
		nl++;
		if (nl < end && (*nl == '\n' || (*nl == '\r' && nl + 1 < end &&
		    nl[1] == '\n')))
			return (size_t)(nl - data);
	}
	return len;
}

/* Fields a message holds at most once (RFC 5322, 3.6). */
static const char *single[] = {
	"bcc", "cc", "date", "from", "in-reply-to", "message-id",
	"references", "reply-to", "sender", "subject", "to",
};
#define NSINGLE	(sizeof(single) / sizeof(single[0]))

/* Which of them a field name is, from 1; 0 for none. */
static size_t
single_field(const char *name, size_t len)
{
	size_t i;

	for (i = 0; name != NULL && i < NSINGLE; i++)
		if (strlen(single[i]) == len && !strncasecmp(name, single[i], len))
			return i + 1;
	return 0;
}

static void
seg_add(struct msgstate *ms, gint64 from, gint64 to)
{
	if (ms->nseg == ms->segcap) {
		ms->segcap = ms->segcap ? ms->segcap * 2 : 8;
		ms->seg = xrealloc(ms->seg, ms->segcap * sizeof(*ms->seg));
	}
	ms->seg[ms->nseg].from = from;
	ms->seg[ms->nseg++].to = to;
}

/* The message byte at GMime's offset: the last run that starts at or before it. */
static gint64
msg_offset(const struct msgstate *ms, gint64 offset)
{
	size_t lo = 0, hi = ms->nseg, mid;

	if (ms->nseg == 0)
		return offset;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (ms->seg[mid].from <= offset)
			lo = mid;
		else
			hi = mid;
	}
	offset = ms->seg[lo].to + (offset - ms->seg[lo].from);
	return offset < 0 ? 0 : offset;
}

/* A defect in GMime's words: what (item) at which byte of the message. */
static void
defect_at(struct msgstate *ms, GMimeParserWarning w, const char *item,
    size_t itemlen, gint64 offset)
{
	char text[512];

	snprintf(text, sizeof(text), "%.*s at byte %lld", (int)itemlen,
	    item ? item : "", (long long)offset);
	add_defect(ms, warning_code(w), NULL, text[0] == ' ' ? text + 1 : text);
}

static void
on_warning(gint64 offset, GMimeParserWarning w, const gchar *item,
    gpointer arg)
{
	struct parser *p = arg;

	if (p->cur == NULL)
		return;
	/*
	 * The message is read as a part (see gm_parse), and a part may hold
	 * each field once.  A message may hold most of them many times: only
	 * RFC 5322's fields of one and the Content-* fields conflict there.
	 */
	if ((w == GMIME_CRIT_CONFLICTING_HEADER ||
	    w == GMIME_WARN_DUPLICATED_HEADER) && offset >= 0 &&
	    (size_t)offset < p->cur->hdr_end &&
	    !single_field(item, item ? strlen(item) : 0) &&
	    (item == NULL || strncasecmp(item, "Content-", 8) != 0))
		return;
	offset = offset >= 0 ? msg_offset(p->cur, offset) : p->at;
	defect_at(p->cur, w, item, item ? strlen(item) : 0, offset);
	if (w == GMIME_CRIT_NESTING_OVERFLOW)
		set_error(p->cur, "too-deep", "MIME nesting deeper than "
		    "GMime's limit");
}

struct parser *
parser_new(struct spool *sp)
{
	struct parser *p;
	const char *fallback[] = { "UTF-8", "windows-1252", NULL }, *env;

	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, parser_init);
	p = xcalloc(1, sizeof(*p));
	p->sp = sp;
	p->split = (env = getenv("MAILPARSE_SPLIT")) == NULL || strcmp(env, "0");
	p->opts = g_mime_parser_options_new();
	p->quiet = g_mime_parser_options_new();
	p->at = -1;
	g_mime_parser_options_set_fallback_charsets(p->opts, fallback);
	g_mime_parser_options_set_fallback_charsets(p->quiet, fallback);
	g_mime_parser_options_set_warning_callback(p->opts, on_warning, p);
	return p;
}

void
parser_free(struct parser *p)
{
	if (p == NULL)
		return;
	g_mime_parser_options_free(p->opts);
	g_mime_parser_options_free(p->quiet);
	free(p);
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	size_t need;

	if (b->len > 0)
		n++;	/* parts are joined by a newline */
	if (__builtin_add_overflow(b->len, n + 1, &need))
		exit(EX_OSERR);
	xgrow(&b->s, &b->cap, need);
	if (b->len > 0) {
		b->s[b->len++] = '\n';
		n--;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Lines of a body end in LF in a record, whatever they ended in on the wire. */
static size_t
crlf_to_lf(char *s, size_t n)
{
	char *cr = memchr(s, '\r', n), *next;
	size_t i, o, run;

	if (cr == NULL)
		return n;
	/* Move the text between one CR LF and the next down in one piece. */
	for (i = o = (size_t)(cr - s); i < n; i = (size_t)(next - s)) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			i++;
		next = i + 1 < n ? memchr(s + i + 1, '\r', n - i - 1) : NULL;
		if (next == NULL)
			next = s + n;
		run = (size_t)(next - s) - i;
		memmove(s + o, s + i, run);
		o += run;
	}
	s[o] = '\0';
	return o;
}

/*
 * The raw Content-Type of a part when it is not type/subtype ("text
 * plain", "BINARY;name=x"), or NULL.
 */
static const char *
bad_content_type(GMimeObject *obj)
{
	GMimeHeader *h = g_mime_header_list_get_header(
	    g_mime_object_get_header_list(obj), "Content-Type");
	const char *raw;

	if (h == NULL || (raw = g_mime_header_get_raw_value(h)) == NULL)
		return NULL;
	return memchr(raw, '/', strcspn(raw, ";")) == NULL ? raw : NULL;
}

/*
 * "type/subtype", lowercase.  A Content-Type that is not type/subtype
 * means text/plain (RFC 2045, 5.2) -- unless it names a file, which makes
 * it a file whatever it meant (GMime makes them all octet-stream).
 */
static char *
mime_type(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *bad = bad_content_type(obj);
	char *t, *q;

	if (bad != NULL)
		return xstrdup(strcasestr(bad, "name") ? "application/octet-stream" :
		    "text/plain");
	t = xasprintf("%s/%s",
	    ct && g_mime_content_type_get_media_type(ct) ?
	    g_mime_content_type_get_media_type(ct) : "application",
	    ct && g_mime_content_type_get_media_subtype(ct) ?
	    g_mime_content_type_get_media_subtype(ct) : "octet-stream");
	for (q = t; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return t;
}

static json_t *
addr_list(InternetAddressList *l, json_t *arr, const char *group, int depth)
{
	InternetAddress *ia;
	json_t *a;
	int i, n;

	if (arr == NULL)
		arr = json_array();
	if (l == NULL || depth > 4)
		return arr;
	n = internet_address_list_length(l);
	for (i = 0; i < n; i++) {
		ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			addr_list(internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(ia)), arr,
			    internet_address_get_name(ia), depth + 1);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		a = json_object();
		json_object_set_new(a, "name", internet_address_get_name(ia) &&
		    *internet_address_get_name(ia) ?
		    jsonl_cstr(internet_address_get_name(ia)) : json_null());
		json_object_set_new(a, "addr", jsonl_cstr(
		    internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(ia))));
		if (group != NULL)
			json_object_set_new(a, "group", jsonl_cstr(group));
		json_array_append_new(arr, a);
	}
	return arr;
}

/*
 * Whether n bytes at s hold "=?", the start of an encoded-word, once
 * unfolded: line breaks, a stray CR too, between the two count for
 * nothing.  Header values are full of '=' (DKIM tags, base64) and seldom
 * hold '?'.
 */
static int
has_ew(const char *s, size_t n)
{
	const char *q = s, *end = s + n, *b;

	while ((q = memchr(q, '?', (size_t)(end - q))) != NULL) {
		for (b = q; b > s && (b[-1] == '\r' || b[-1] == '\n'); b--)
			;
		if (b > s && b[-1] == '=')
			return 1;
		q++;
	}
	return 0;
}

/* A header's raw value unfolded: its line breaks dropped.  Malloc'ed. */
static char *
unfold(const char *raw, size_t n, size_t *outlen)
{
	const char *p = raw, *end = raw + n, *nl, *stop;
	char *unfolded = xmalloc(n + 1);
	size_t o = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		stop = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (memchr(p, '\r', (size_t)(stop - p)) == NULL) {
			memcpy(unfolded + o, p, (size_t)(stop - p));
			o += (size_t)(stop - p);
		} else
			for (; p < stop; p++)
				if (*p != '\r')
					unfolded[o++] = *p;
	}
	unfolded[o] = '\0';
	*outlen = o;
	return unfolded;
}

/* A header's raw value unfolded, its encoded-words made GMime-safe. */
static char *
raw_normalized(const char *raw, size_t n)
{
	char *unfolded, *norm;
	size_t o;

	unfolded = unfold(raw, n, &o);
	if (!has_ew(unfolded, o))
		return unfolded;
	norm = rfc2047_normalize(unfolded);
	free(unfolded);
	return norm;
}

/*
 * Addresses of every header called name (To and Delivered-To may
 * repeat), parsed by GMime from the raw value: GMime's own decoding of
 * encoded-word display names loses text (see rfc2047.c).
 */
static json_t *
addr_headers(struct parser *p, const struct hblock *hb, const char *name)
{
	InternetAddressList *l;
	const struct hfield *f;
	json_t *arr = json_array();
	char *norm;
	size_t i;

	for (i = 0; i < hb->n && i < MAX_HEADERS; i++) {
		f = &hb->f[i];
		if (!hdr_is(f, name))
			continue;
		norm = raw_normalized(f->raw, f->rawlen);
		p->at = f->offset;
		if ((l = internet_address_list_parse(p->opts, norm)) != NULL) {
			addr_list(l, arr, NULL, 0);
			g_object_unref(l);
		}
		p->at = -1;
		free(norm);
	}
	return arr;
}

/*
 * A header's value as text: unfolded, encoded-words decoded, 8-bit bytes
 * read as UTF-8 or else windows-1252.  GMime's own decoded value costs a
 * full decode of every header; most have nothing to decode.  Malloc'ed.
 */
static char *
header_text(const struct hfield *f, size_t *outlen)
{
	const char *defect;
	char *unfolded, *text;
	size_t i, o;

	unfolded = unfold(f->raw, f->rawlen, &o);
	while (o > 0 && (unfolded[o - 1] == ' ' || unfolded[o - 1] == '\t'))
		o--;
	unfolded[o] = '\0';
	for (i = 0; unfolded[i] == ' ' || unfolded[i] == '\t'; i++)
		;
	if (has_ew(unfolded + i, o - i)) {
		text = rfc2047_decode(unfolded + i, o - i, outlen);
		free(unfolded);
		return text;
	}
	text = charset_decode(unfolded + i, o - i, NULL, outlen, &defect);
	free(unfolded);
	return text;
}

/* The message's header block in its order. */
static json_t *
headers_json(struct msgstate *ms)
{
	const struct hfield *f;
	char *v;
	json_t *arr = json_array(), *pair;
	size_t i, n = ms->hb.n, len;

	if (n > MAX_HEADERS) {
		set_error(ms, "too-many-headers", "more headers than "
		    "MAX_HEADERS; the first are kept");
		n = MAX_HEADERS;
	}
	for (i = 0; i < n; i++) {
		f = &ms->hb.f[i];
		v = header_text(f, &len);
		if (len > MAX_HEADER_BYTES) {
			set_error(ms, "header-too-large", "a header value is "
			    "longer than MAX_HEADER_BYTES; its start is kept");
			len = MAX_HEADER_BYTES;
		}
		pair = json_array();
		json_array_append_new(pair, jsonl_str(f->name, f->namelen));
		json_array_append_new(pair, jsonl_str(v, len));
		json_array_append_new(arr, pair);
		free(v);
	}
	return arr;
}

static char *
iso_date(GDateTime *d)
{
	GDateTime *utc;
	char *s, *r;

	if (d == NULL)
		return NULL;
	utc = g_date_time_to_utc(d);
	s = g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ");
	g_date_time_unref(utc);
	r = s ? xstrdup(s) : NULL;
	g_free(s);
	return r;
}

/* The decoded bytes of a leaf part. */
/*
 * uuencoded lines that lost their trailing spaces on the way (mail
 * servers strip them, and a space is a zero in uuencode) are shorter than
 * their length character says; GMime then reads the next line into them.
 * Pad each data line back to its length.  Returns a new data wrapper.
 */
static GMimeDataWrapper *
uu_padded(GMimeDataWrapper *w)
{
	GMimeStream *in = g_mime_data_wrapper_get_stream(w), *out;
	GByteArray *raw = g_byte_array_new(), *fixed;
	GMimeDataWrapper *nw;
	size_t i = 0, eol, len, want, k;
	int body = 0;
	char chunk[65536];
	ssize_t n;

	g_mime_stream_reset(in);
	while ((n = g_mime_stream_read(in, chunk, sizeof(chunk))) > 0)
		g_byte_array_append(raw, (guint8 *)chunk, (guint)n);
	g_mime_stream_reset(in);
	fixed = g_byte_array_sized_new(raw->len + raw->len / 8 + 16);
	while (i < raw->len) {
		const char *line = (const char *)raw->data + i;
		const char *nl = memchr(line, '\n', raw->len - i);

		eol = nl ? (size_t)(nl - line) : raw->len - i;
		len = eol > 0 && line[eol - 1] == '\r' ? eol - 1 : eol;
		g_byte_array_append(fixed, (const guint8 *)line, (guint)len);
		if (len >= 6 && !strncmp(line, "begin ", 6))
			body = 1;
		else if (len == 3 && !strncmp(line, "end", 3))
			body = 0;
		else if (body && len > 0) {
			/* n bytes take 4 characters per 3, after the count. */
			want = 1 + ((((unsigned char)line[0] - 32) & 63) + 2) / 3 * 4;
			for (k = len; k < want; k++)
				g_byte_array_append(fixed, (const guint8 *)"`", 1);
		}
		g_byte_array_append(fixed, (const guint8 *)"\n", 1);
		i += eol + 1;
	}
	g_byte_array_free(raw, TRUE);
	out = g_mime_stream_mem_new_with_byte_array(fixed);
	nw = g_mime_data_wrapper_new_with_stream(out, GMIME_CONTENT_ENCODING_UUENCODE);
	g_object_unref(out);
	return nw;
}

static GByteArray *
decoded(GMimePart *part, GMimeStream **keep)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem;
	gint64 raw = -1;

	/* Decoded content is never longer than encoded: size it once. */
	if (w != NULL && g_mime_data_wrapper_get_stream(w) != NULL)
		raw = g_mime_stream_length(g_mime_data_wrapper_get_stream(w));
	mem = g_mime_stream_mem_new_with_byte_array(g_byte_array_sized_new(
	    raw > 0 && raw < (gint64)MAX_MESSAGE_BYTES ? (guint)raw + 16 : 0));
	if (w != NULL && g_mime_data_wrapper_get_encoding(w) ==
	    GMIME_CONTENT_ENCODING_UUENCODE)
		w = uu_padded(w);
	else if (w != NULL)
		g_object_ref(w);
	if (w != NULL) {
		g_mime_data_wrapper_write_to_stream(w, mem);
		g_object_unref(w);
	}
	*keep = mem;
	return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
}

/* Base64 alphabet values; 64 padding, 65 white space, 66 anything else. */
static unsigned char b64[256];

/* The message types GMime reads as a message (gmime-parser.c, is_rfc822). */
static const char *message_types[] = { "rfc822", "rfc2822", "global", "news" };

/*
 * Once, for every parser: the base64 table, and GMime told to keep an
 * attached message as a leaf.  GMime would parse it inside its parent,
 * and build() would then parse GMime's rewrite of it again; as a leaf it
 * is read once, from the bytes the sender attached.
 */
static void
parser_init(void)
{
	const char *alpha =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i;

	memset(b64, 66, sizeof(b64));
	for (i = 0; i < 64; i++)
		b64[(unsigned char)alpha[i]] = (unsigned char)i;
	b64['='] = 64;
	b64[' '] = b64['\t'] = b64['\r'] = b64['\n'] = 65;
	for (i = 0; i < (int)(sizeof(message_types) / sizeof(*message_types));
	    i++)
		g_mime_object_register_type("message", message_types[i],
		    GMIME_TYPE_PART);
}

/*
 * Base64, decoded here in the one pass that also judges it: GMime's
 * decoder drops an unpadded last group (senders that forget the padding
 * are common, and those bytes are part of the file) and says nothing of
 * characters outside the alphabet.  Padding ends a run of groups, so two
 * base64 blobs glued together decode as two.  Returns a defect code or
 * NULL; the bytes go to out.
 */
static const char *
base64_decode(GMimePart *part, GByteArray *out)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *s;
	unsigned char chunk[65536], *o;
	unsigned acc = 0, v, seen = 0;
	int k = 0, bad_pad = 0;
	ssize_t n, i;
	gint64 len;

	if (w == NULL || (s = g_mime_data_wrapper_get_stream(w)) == NULL)
		return NULL;
	if ((len = g_mime_stream_length(s)) > 0 && len < (gint64)MAX_MESSAGE_BYTES)
		g_byte_array_set_size(out, (guint)(len / 4 * 3 + 3));
	else
		g_byte_array_set_size(out, 0);
	o = out->data;
	g_mime_stream_reset(s);
	while ((n = g_mime_stream_read(s, (char *)chunk, sizeof(chunk))) > 0) {
		if (o + n > out->data + out->len) {
			size_t at = (size_t)(o - out->data);

			g_byte_array_set_size(out, (guint)(out->len + (size_t)n));
			o = out->data + at;
		}
		for (i = 0; i < n; i++) {
			/* Whole groups of four, the bulk of any line. */
			while (k == 0 && i + 4 <= n) {
				unsigned a = b64[chunk[i]], b = b64[chunk[i + 1]],
				    c = b64[chunk[i + 2]], d = b64[chunk[i + 3]];

				if ((a | b | c | d) >= 64)
					break;
				acc = a << 18 | b << 12 | c << 6 | d;
				o[0] = (unsigned char)(acc >> 16);
				o[1] = (unsigned char)(acc >> 8);
				o[2] = (unsigned char)acc;
				o += 3;
				i += 4;
			}
			if (i == n)
				break;
			if ((v = b64[chunk[i]]) < 64) {
				acc = acc << 6 | v;
				if (++k == 4) {
					o[0] = (unsigned char)(acc >> 16);
					o[1] = (unsigned char)(acc >> 8);
					o[2] = (unsigned char)acc;
					o += 3;
					k = 0;
				}
				continue;
			}
			seen |= 1u << (v - 64);
			if (v == 64 && k >= 2) {
				/* "xx==" or "xxx=": the last group of a run. */
				acc <<= 6 * (4 - k);
				*o++ = (unsigned char)(acc >> 16);
				if (k == 3)
					*o++ = (unsigned char)(acc >> 8);
				k = 0;
			} else if (v == 64 && k == 1)
				bad_pad = 1;
		}
	}
	g_mime_stream_reset(s);
	if (k >= 2) {
		acc <<= 6 * (4 - k);
		*o++ = (unsigned char)(acc >> 16);
		if (k == 3)
			*o++ = (unsigned char)(acc >> 8);
	}
	g_byte_array_set_size(out, (guint)(o - out->data));
	if (seen & 4)
		return "base64-garbage";
	if (k == 1 || bad_pad)
		return "base64-truncated";
	if (k >= 2)
		return "base64-unpadded";
	return NULL;
}

struct tnefctx {
	struct parser	*p;
	struct msgstate	*ms;
	const char	*part;
	int		 k;
};

static void
add_attachment(struct parser *p, struct msgstate *ms, const char *part,
    const char *name, const char *type, const char *disp, const char *cid,
    const unsigned char *data, size_t len)
{
	struct digests dg;
	const char *sha = dg.sha256;
	json_t *a;

	hash_all(data, len, &dg);
	a = json_object();
	json_object_set_new(a, "part", jsonl_cstr(part));
	json_object_set_new(a, "name", jsonl_cstr(name));
	json_object_set_new(a, "type", jsonl_cstr(type));
	json_object_set_new(a, "disposition", jsonl_cstr(disp));
	json_object_set_new(a, "content_id", jsonl_cstr(cid));
	json_object_set_new(a, "size", json_integer((json_int_t)len));
	json_object_set_new(a, "md5", jsonl_cstr(dg.md5));
	json_object_set_new(a, "sha1", jsonl_cstr(dg.sha1));
	json_object_set_new(a, "sha256", jsonl_cstr(sha));
	if (p->sp != NULL && spool_put(p->sp, "vault", sha, data, len) == 0)
		json_object_set_new(a, "vault", jsonl_cstr(sha));
	else {
		if (p->sp != NULL)
			set_error(ms, "store-failed", "could not write an "
			    "attachment to the vault");
		json_object_set_new(a, "vault", json_null());
	}
	json_array_append_new(ms->attachments, a);
}

static void
nested(struct parser *p, struct msgstate *ms, const char *part,
    const char *data, size_t len)
{
	const char *nl, *code;
	json_t *src, *rec, *err;

	if (ms->depth + 1 > MAX_MIME_DEPTH) {
		set_error(ms, "too-deep", "messages nested deeper than "
		    "MAX_MIME_DEPTH");
		return;
	}
	if (++p->nested > MAX_NESTED_MESSAGES) {
		set_error(ms, "too-many-messages", "more nested messages than "
		    "MAX_NESTED_MESSAGES");
		return;
	}
	/* A message saved from an mbox keeps its From_ line; GMime skips it. */
	if (len >= 5 && memcmp(data, "From ", 5) == 0 &&
	    (nl = memchr(data, '\n', len)) != NULL) {
		len -= (size_t)(nl + 1 - data);
		data = nl + 1;
	}
	src = json_object();
	json_object_set_new(src, "kind", jsonl_cstr("attached"));
	json_object_set_new(src, "parent", ms->idknown ? jsonl_cstr(ms->id) :
	    json_null());
	json_object_set_new(src, "part", jsonl_cstr(part));
	rec = build(p, data, len, src, ms->depth + 1, NULL, NULL);
	/* Nesting cut off deeper down cuts off this message's tree too. */
	err = json_object_get(rec, "error");
	code = json_string_value(json_object_get(err, "code"));
	if (code != NULL && !strcmp(code, "too-deep"))
		set_error(ms, code, json_string_value(json_object_get(err,
		    "text")));
	json_object_set_new(rec, "part", jsonl_cstr(part));
	json_array_append_new(ms->messages, rec);
}

static void
tnef_file(const char *name, const void *data, size_t len, void *arg)
{
	struct tnefctx *t = arg;
	char part[128];

	snprintf(part, sizeof(part), "%s/%d", t->part, ++t->k);
	add_attachment(t->p, t->ms, part, name, "application/octet-stream",
	    NULL, NULL, data, len);
}

/*
 * The part's file name.  Where the raw parameter holds encoded-words,
 * the header is parsed again with them made GMime-safe (see rfc2047.c).
 */
static char *
part_filename(struct parser *p, GMimeObject *obj)
{
	const char *f = g_mime_part_get_filename(GMIME_PART(obj)), *v = NULL;
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	GMimeContentDisposition *cd;
	GMimeContentType *ct;
	GMimeHeader *h;
	const char *bad, *raw;
	char *norm, *r = NULL;

	if (f == NULL && (bad = bad_content_type(obj)) != NULL &&
	    (bad = strchr(bad, ';')) != NULL) {
		/* GMime drops the parameters of a type it cannot read. */
		norm = xasprintf("application/octet-stream%s", bad);
		if ((ct = g_mime_content_type_parse(p->opts, norm)) != NULL) {
			if ((v = g_mime_content_type_get_parameter(ct, "name")) != NULL)
				r = xstrdup(v);
			g_object_unref(ct);
		}
		free(norm);
		return r;
	}
	if (f == NULL)
		return NULL;
	if ((h = g_mime_header_list_get_header(hl, "Content-Disposition")) &&
	    (raw = g_mime_header_get_raw_value(h)) != NULL &&
	    strstr(raw, "=?") != NULL) {
		norm = raw_normalized(raw, strlen(raw));
		if ((cd = g_mime_content_disposition_parse(p->opts, norm)) != NULL) {
			if ((v = g_mime_content_disposition_get_parameter(cd,
			    "filename")) != NULL)
				r = xstrdup(v);
			g_object_unref(cd);
		}
		free(norm);
	}
	if (r == NULL && (h = g_mime_header_list_get_header(hl, "Content-Type")) &&
	    (raw = g_mime_header_get_raw_value(h)) != NULL &&
	    strstr(raw, "=?") != NULL) {
		norm = raw_normalized(raw, strlen(raw));
		if ((ct = g_mime_content_type_parse(p->opts, norm)) != NULL) {
			if ((v = g_mime_content_type_get_parameter(ct, "name")) != NULL)
				r = xstrdup(v);
			g_object_unref(ct);
		}
		free(norm);
	}
	return r != NULL ? r : xstrdup(f);
}

/* A type/subtype that holds a message, lower case: see message_types. */
static int
is_message_type(const char *type)
{
	size_t i;

	if (strncmp(type, "message/", 8) != 0)
		return 0;
	for (i = 0; i < sizeof(message_types) / sizeof(*message_types); i++)
		if (!strcmp(type + 8, message_types[i]))
			return 1;
	return 0;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n, m;

	if (s == NULL)
		return 0;
	n = strlen(s);
	m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static void
leaf(struct parser *p, struct msgstate *ms, GMimePart *part,
    const char *partno)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeStream *keep;
	GByteArray *bytes;
	const char *disp, *cid, *charset, *defect;
	char *type, *text, *d = NULL, *q, *name;
	size_t tlen;
	int is_text;

	type = mime_type(obj);
	if ((disp = g_mime_object_get_disposition(obj)) != NULL) {
		d = xstrdup(disp);
		for (q = d; *q; q++)
			*q = (char)tolower((unsigned char)*q);
	}
	name = part_filename(p, obj);
	cid = g_mime_object_get_content_id(obj);
	is_text = (!strcmp(type, "text/plain") || !strcmp(type, "text/html")) &&
	    (d == NULL || strcmp(d, "attachment") != 0) && name == NULL;

	if (g_mime_part_get_content_encoding(part) == GMIME_CONTENT_ENCODING_BASE64) {
		bytes = g_byte_array_new();
		if ((defect = base64_decode(part, bytes)) != NULL)
			add_defect(ms, defect, partno, defect);
		keep = g_mime_stream_mem_new_with_byte_array(bytes);
	} else
		bytes = decoded(part, &keep);

	if (is_text) {
		charset = g_mime_object_get_content_type_parameter(obj, "charset");
		text = charset_decode((const char *)bytes->data, bytes->len,
		    charset, &tlen, &defect);
		if (defect != NULL) {
			char why[256];

			snprintf(why, sizeof(why), "declared charset \"%.100s\"",
			    charset ? charset : "(none)");
			add_defect(ms, defect, partno, why);
		}
		tlen = crlf_to_lf(text, tlen);
		buf_add(type[5] == 'p' ? &ms->text : &ms->html, text, tlen);
		free(text);
	} else if (is_message_type(type)) {
		if (bytes->len == 0)
			add_defect(ms, "empty-message-part", partno,
			    "message/rfc822 part without a message");
		else
			nested(p, ms, partno, (const char *)bytes->data,
			    bytes->len);
	} else {
		add_attachment(p, ms, partno, name, type, d, cid, bytes->data,
		    bytes->len);
		if (!strcmp(type, "application/ms-tnef") ||
		    !strcmp(type, "application/vnd.ms-tnef") ||
		    (name != NULL && !strcasecmp(name, "winmail.dat"))) {
			struct tnefctx t = { p, ms, partno, 0 };

			if (tnef_unpack(bytes->data, bytes->len, tnef_file, &t) < 0)
				add_defect(ms, "bad-tnef", partno, "winmail.dat "
				    "could not be unpacked");
			else if (t.k >= MAX_TNEF_FILES)
				set_error(ms, "too-many-tnef-files", "more files "
				    "in winmail.dat than MAX_TNEF_FILES");
		}
		/* A forwarded mail sent as a file is a message all the same. */
		if (ends_with(name, ".eml") || !strncmp(type, "message/", 8))
			nested(p, ms, partno, (const char *)bytes->data,
			    bytes->len);
	}
	g_object_unref(keep);
	free(type);
	free(name);
	free(d);
}

static void
message_part(struct parser *p, struct msgstate *ms, GMimeMessagePart *mp,
    const char *partno)
{
	GMimeMessage *m = g_mime_message_part_get_message(mp);
	GMimeStream *mem;
	GByteArray *ba;

	if (m == NULL) {
		add_defect(ms, "empty-message-part", partno, "message/rfc822 "
		    "part without a message");
		return;
	}
	mem = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	nested(p, ms, partno, (const char *)ba->data, ba->len);
	g_object_unref(mem);
}

/*
 * A multipart GMime found no parts in (no boundary, or none that
 * matches): its content is all in the prologue.  Keep it as text.
 */
static void
salvage_multipart(struct msgstate *ms, GMimeMultipart *mp, const char *partno)
{
	const char *pro = g_mime_multipart_get_prologue(mp), *defect;
	char *text;
	size_t n;

	if (pro == NULL || *pro == '\0')
		return;
	add_defect(ms, "no-parts", *partno ? partno : NULL, "multipart "
	    "without parts: its content is read as text");
	text = charset_decode(pro, strlen(pro), NULL, &n, &defect);
	buf_add(&ms->text, text, n);
	free(text);
}

static void
walk(struct parser *p, struct msgstate *ms, GMimeObject *obj,
    const char *partno, int depth)
{
	char child[256];
	int i, n;

	if (depth > MAX_MIME_DEPTH) {
		set_error(ms, "too-deep", "MIME parts nested deeper than "
		    "MAX_MIME_DEPTH; the deeper parts are not read");
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
		if (n == 0)
			salvage_multipart(ms, GMIME_MULTIPART(obj), partno);
		for (i = 0; i < n; i++) {
			if (snprintf(child, sizeof(child), "%s%s%d", partno,
			    *partno ? "." : "", i + 1) >= (int)sizeof(child)) {
				set_error(ms, "too-deep", "part number too long");
				return;
			}
			walk(p, ms, g_mime_multipart_get_part(GMIME_MULTIPART(obj),
			    i), child, depth + 1);
			if (ms->nparts > MAX_MIME_PARTS)
				return;
		}
		return;
	}
	if (++ms->nparts > MAX_MIME_PARTS) {
		set_error(ms, "too-many-parts", "more MIME parts than "
		    "MAX_MIME_PARTS; the first are read");
		return;
	}
	if (*partno == '\0')
		partno = "1";
	if (GMIME_IS_MESSAGE_PART(obj))
		message_part(p, ms, GMIME_MESSAGE_PART(obj), partno);
	else if (GMIME_IS_PART(obj))
		leaf(p, ms, GMIME_PART(obj), partno);
}

static json_t *
msgid_json(const char *v)
{
	char *id;
	json_t *j;

	if (v == NULL || (id = g_mime_utils_decode_message_id(v)) == NULL)
		return json_null();
	j = *id ? jsonl_cstr(id) : json_null();
	g_free(id);
	return j;
}

static json_t *
references_json(struct parser *p, const char *v)
{
	GMimeReferences *refs;
	json_t *arr = json_array();
	int i, n;

	if (v == NULL || (refs = g_mime_references_parse(p->opts, v)) == NULL)
		return arr;
	n = g_mime_references_length(refs);
	for (i = 0; i < n && i < MAX_HEADERS; i++)
		json_array_append_new(arr, jsonl_cstr(
		    g_mime_references_get_message_id(refs, i)));
	g_mime_references_free(refs);
	return arr;
}

/* The first field called name, or with last set the last one; or NULL. */
static const struct hfield *
field(const struct hblock *hb, const char *name, int last)
{
	const struct hfield *f = NULL;
	size_t i;

	for (i = 0; i < hb->n; i++)
		if (hdr_is(&hb->f[i], name)) {
			f = &hb->f[i];
			if (!last)
				break;
		}
	return f;
}

/*
 * A field's value as GMime gives it (g_mime_header_get_value): unfolded
 * and decoded, with opts.  g_free'd; NULL for no field.
 */
static char *
gmime_value(const struct hfield *f, GMimeParserOptions *opts)
{
	char *raw, *unfolded, *v;

	if (f == NULL)
		return NULL;
	raw = g_strndup(f->raw, f->rawlen);
	unfolded = g_mime_utils_header_unfold(raw);
	v = g_mime_utils_header_decode_text(opts, unfolded);
	g_free(unfolded);
	g_free(raw);
	return v;
}

/* The same, quietly: any defect of the field was reported as it was read. */
static char *
field_value(struct parser *p, const struct hfield *f)
{
	return gmime_value(f, p->quiet);
}

/*
 * The header fields of the record, in the order of mailrecord(5).  The
 * message was read as a MIME part (see gm_parse), so its fields are read
 * here, each once.  Of a field that should be there once, the first
 * counts, but for Message-Id and Date: a GMimeMessage goes by the last.
 */
static void
fill_headers(struct parser *p, struct msgstate *ms)
{
	const struct hfield *sh = field(&ms->hb, "Subject", 0);
	GDateTime *dt = NULL;
	json_t *r = ms->rec;
	char *v, *date, *subject = NULL, *mid;
	size_t sublen = 0;

	if (sh != NULL)
		subject = header_text(sh, &sublen);

	json_object_set_new(r, "name", subject && sublen > 0 ?
	    jsonl_str(subject, sublen) : jsonl_cstr(ms->noname));
	v = field_value(p, field(&ms->hb, "Message-Id", 1));
	mid = v != NULL ? g_mime_utils_decode_message_id(v) : NULL;
	g_free(v);
	json_object_set_new(r, "message_id", jsonl_cstr(mid));
	g_free(mid);
	v = field_value(p, field(&ms->hb, "In-Reply-To", 0));
	json_object_set_new(r, "in_reply_to", msgid_json(v));
	g_free(v);
	v = field_value(p, field(&ms->hb, "References", 0));
	json_object_set_new(r, "references", references_json(p, v));
	g_free(v);
	if ((v = field_value(p, field(&ms->hb, "Date", 1))) != NULL)
		dt = g_mime_utils_header_decode_date(v);
	date = iso_date(dt);
	if (dt != NULL)
		g_date_time_unref(dt);
	if (date == NULL && v != NULL)
		add_defect(ms, "bad-date", NULL, v);	/* the field read */
	g_free(v);
	json_object_set_new(r, "date", jsonl_cstr(date));
	free(date);
	json_object_set_new(r, "subject", subject ? jsonl_str(subject, sublen) :
	    json_null());
	free(subject);
	json_object_set_new(r, "from", addr_headers(p, &ms->hb, "From"));
	json_object_set_new(r, "sender", addr_headers(p, &ms->hb, "Sender"));
	json_object_set_new(r, "reply_to", addr_headers(p, &ms->hb,
	    "Reply-To"));
	json_object_set_new(r, "to", addr_headers(p, &ms->hb, "To"));
	json_object_set_new(r, "cc", addr_headers(p, &ms->hb, "Cc"));
	json_object_set_new(r, "bcc", addr_headers(p, &ms->hb, "Bcc"));
	json_object_set_new(r, "delivered_to", addr_headers(p, &ms->hb,
	    "Delivered-To"));
	json_object_set_new(r, "headers", headers_json(ms));
}

/*
 * The message is read as a MIME part, not a GMimeMessage: a message
 * parses each From, To, Cc, Subject, Date and Message-Id field as it is
 * read (the address fields again for each one added), and fill_headers
 * reads them in its own way anyway.  Nested messages are GMime's.
 */
static GMimeObject *
gm_parse(struct parser *p, struct gm *g, const char *data, size_t len)
{
	/* GMime reads the buffer in place: no copy of the message. */
	g->ba = g_byte_array_new_take((guint8 *)data, len);
	g->stream = g_mime_stream_mem_new_with_byte_array(g->ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(g->stream), FALSE);
	g->parser = g_mime_parser_new_with_stream(g->stream);
	g_mime_parser_set_persist_stream(g->parser, TRUE);
	g_mime_parser_set_format(g->parser, GMIME_FORMAT_MESSAGE);
	g->top = len > 0 ? g_mime_parser_construct_part(g->parser, p->opts) :
	    NULL;
	return g->top;
}

static void
gm_free(struct gm *g)
{
	if (g->top != NULL)
		g_object_unref(g->top);
	if (g->parser != NULL)
		g_object_unref(g->parser);
	if (g->stream != NULL)
		g_object_unref(g->stream);
	if (g->ba != NULL)
		g_byte_array_free(g->ba, FALSE);
	free(g->owned);
	memset(g, 0, sizeof(*g));
}

/*
 * Whether GMime's decoder could call an unfolded value's encoded-words
 * invalid.  Its tokenizer (gmime-utils.c, tokenize_rfc2047_text, loose
 * mode) warns only of an "=?" word with a blank in its charset or text:
 * try that from every "=?", as it scans.  A yes may be wrong, a no is not,
 * and a no spares a decode: a value can be kilobytes of encoded-words
 * (X-Microsoft-Antispam-Message-Info).
 */
static int
ew_suspect(const char *s, size_t n)
{
	const char *end = s + n, *w = s, *q;
	int blank;

	while ((w = memmem(w, (size_t)(end - w), "=?", 2)) != NULL) {
		blank = 0;
		for (q = w + 2; q < end && *q != '?'; q++)
			blank |= *q == ' ' || *q == '\t';
		if (end - q >= 3 && memchr("BbQq", q[1], 4) != NULL &&
		    q[2] == '?') {
			for (q += 3; q + 1 < end && !(q[0] == '?' && q[1] == '=');
			    q++)
				blank |= *q == ' ' || *q == '\t';
			if (q + 1 >= end)
				blank = 0;	/* no "?=": GMime takes it as text */
		}
		if (blank)
			return 1;
		w += 2;
	}
	return 0;
}

/*
 * What GMime would have said of the top fields it was not given (see
 * gm_split), in its words and order: 8-bit bytes in each, then for each a
 * second copy of a field that should be there once, and a bad
 * encoded-word (GMime's own decoder judges those).
 */
static void
top_checks(struct parser *p, struct msgstate *ms)
{
	const struct hfield *f, *first[NSINGLE + 1] = { NULL };
	char *unfolded;
	size_t i, n, k;

	for (i = 0; i < ms->hb.n; i++) {
		f = &ms->hb.f[i];
		if (!hdr_is_content(f) && !utf8_valid(f->raw, f->rawlen))
			defect_at(ms, GMIME_WARN_UNENCODED_8BIT_HEADER, f->name,
			    f->namelen, f->offset);
	}
	for (i = 0; i < ms->hb.n; i++) {
		f = &ms->hb.f[i];
		if (hdr_is_content(f))
			continue;
		/* A copy is judged against the first, as GMime does. */
		if ((k = single_field(f->name, f->namelen)) != 0 &&
		    first[k] == NULL)
			first[k] = f;
		else if (k != 0)
			defect_at(ms, first[k]->rawlen == f->rawlen &&
			    !memcmp(first[k]->raw, f->raw, f->rawlen) ?
			    GMIME_WARN_DUPLICATED_HEADER :
			    GMIME_CRIT_CONFLICTING_HEADER, f->name, f->namelen,
			    f->offset);
		if (has_ew(f->raw, f->rawlen)) {
			unfolded = unfold(f->raw, f->rawlen, &n);
			if (ew_suspect(unfolded, n)) {
				p->at = f->offset;
				g_free(gmime_value(f, p->opts));
				p->at = -1;
			}
			free(unfolded);
		}
	}
}

/*
 * The fast way, for a well-formed top header block: GMime is given only
 * its Content-* fields and the body, and the record reads the rest from
 * ms->hb.  GMime's time on a message is mostly its top fields: Received,
 * DKIM and ARC chains of kilobytes, each field split, copied, hashed,
 * decoded and checked, for a part that only needs its Content-* ones.
 * NULL when the block is not plainly well formed: then GMime reads it all.
 */
static GMimeObject *
gm_split(struct parser *p, struct msgstate *ms, struct gm *g,
    const char *data, size_t len)
{
	const struct hfield *f;
	size_t i, o = 0, need, ndefects = json_array_size(ms->defects);
	int counted = ms->ndefects;

	if (hdr_split(data, len, &ms->hb) == -1)
		return NULL;
	need = len - ms->hb.end;
	for (i = 0; i < ms->hb.n; i++)
		if (hdr_is_content(&ms->hb.f[i]))
			need += ms->hb.f[i].len;
	g->owned = xmalloc(need);
	for (i = 0; i < ms->hb.n; i++) {
		f = &ms->hb.f[i];
		if (!hdr_is_content(f))
			continue;
		seg_add(ms, (gint64)o, f->offset);
		memcpy(g->owned + o, f->name, f->len);
		o += f->len;
	}
	ms->hdr_end = o;
	seg_add(ms, (gint64)o, (gint64)ms->hb.end);
	memcpy(g->owned + o, data + ms->hb.end, len - ms->hb.end);
	/* The top fields come first in the message, and in its defects. */
	top_checks(p, ms);
	if (gm_parse(p, g, g->owned, need) == NULL) {
		/* GMime reads it all now, and says it all again. */
		while (json_array_size(ms->defects) > ndefects)
			json_array_remove(ms->defects, ndefects);
		ms->ndefects = counted;
		gm_free(g);
		ms->nseg = 0;
		return NULL;
	}
	return g->top;
}

/* The top fields as GMime split them, for a message it read whole. */
static void
fields_of(struct msgstate *ms, GMimeObject *top)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(top);
	GMimeHeader *h;
	struct hfield *f;
	const char *raw;
	int i, n = g_mime_header_list_get_count(hl);

	ms->hb.n = 0;
	if (n > 0 && (size_t)n > ms->hb.cap) {
		ms->hb.cap = (size_t)n;
		ms->hb.f = xrealloc(ms->hb.f, ms->hb.cap * sizeof(*ms->hb.f));
	}
	for (i = 0; i < n; i++) {
		h = g_mime_header_list_get_header_at(hl, i);
		raw = g_mime_header_get_raw_value(h);
		f = &ms->hb.f[ms->hb.n++];
		f->name = g_mime_header_get_name(h);
		f->namelen = strlen(f->name);
		f->raw = raw != NULL ? raw : "";
		f->rawlen = strlen(f->raw);
		f->offset = msg_offset(ms, g_mime_header_get_offset(h));
		f->len = 0;
	}
}

/*
 * GMime gives up on input that does not start with a header.  Real mail
 * like that exists: a header block after lines of spaces, or a body with
 * no headers at all.  Read what is there rather than nothing.
 */
static GMimeObject *
gm_salvage(struct parser *p, struct msgstate *ms, struct gm *g,
    const char *data, size_t len)
{
	static const char ole2[] = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1";
	size_t skip = 0, i;

	if (len >= 8 && memcmp(data, ole2, 8) == 0)
		return NULL;
	for (i = 0; i < len; i++) {
		if (data[i] == '\n')
			skip = i + 1;
		else if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r')
			break;
	}
	if (skip > 0 && skip < len) {
		gm_free(g);
		/* GMime's offsets now count from the header block. */
		ms->hdr_end = header_end(data + skip, len - skip);
		ms->nseg = 0;
		seg_add(ms, 0, (gint64)skip);
		if (gm_parse(p, g, data + skip, len - skip) != NULL) {
			add_defect(ms, "leading-blank-lines", NULL, "blank lines "
			    "before the header were skipped");
			return g->top;
		}
	}
	gm_free(g);
	g->owned = xmalloc(len + 1);
	g->owned[0] = '\n';
	memcpy(g->owned + 1, data, len);
	ms->hdr_end = 0;	/* the empty header block given to GMime */
	ms->nseg = 0;
	seg_add(ms, 0, -1);
	if (gm_parse(p, g, g->owned, len + 1) != NULL)
		add_defect(ms, "no-headers", NULL, "no header block: all of "
		    "it is read as the body");
	return g->top;
}

static const char *null_fields[] = {
	"message_id", "in_reply_to", "date", "subject", NULL
};
static const char *empty_lists[] = {
	"references", "from", "sender", "reply_to", "to", "cc", "bcc",
	"delivered_to", "headers", NULL
};

/*
 * raw is the message as read, NULL for a nested one; fe what its
 * X-Mailcase-Source line proved, NULL for a nested one.
 */
static json_t *
build(struct parser *p, const char *data, size_t len, json_t *source,
    int depth, const struct rawmsg *raw, const struct fetched *fe)
{
	struct msgstate ms, *saved = p->cur;
	char *padded = NULL;
	struct gm g;
	GMimeObject *top;
	const char **f;
	char *t;
	size_t tlen;

	memset(&ms, 0, sizeof(ms));
	memset(&g, 0, sizeof(g));
	ms.depth = depth;
	ms.rec = jsonl_record("message");
	ms.attachments = json_array();
	ms.messages = json_array();
	ms.defects = json_array();
	p->cur = &ms;
	/* Splunk SOAR names a fetched mail without a subject by its UID. */
	if (fe != NULL && fe->verified)
		snprintf(ms.noname, sizeof(ms.noname), "Email UID: %llu", fe->uid);
	else
		snprintf(ms.noname, sizeof(ms.noname), "(no subject)");
	if (fe != NULL && fe->why != NULL)
		add_defect(&ms, "origin-unverified", NULL, fe->why);

	if (raw == NULL || !raw->toolarge) {
		if (fe != NULL && fe->verified)
			memcpy(ms.id, fe->sha256, sizeof(ms.id));
		else
			hash_sha256_hex(data, len, ms.id);
		ms.idknown = 1;
		if (p->sp != NULL && spool_put(p->sp, "msg", ms.id, data, len) == -1)
			set_error(&ms, "store-failed", "could not write the raw "
			    "message to the spool");
	} else
		set_error(&ms, "too-large", "message larger than "
		    "MAX_MESSAGE_BYTES; only its headers are read and its raw "
		    "bytes are not kept");
	json_object_set_new(ms.rec, "id", ms.idknown ? jsonl_cstr(ms.id) :
	    json_null());
	json_object_set_new(ms.rec, "source", source);
	json_object_set_new(ms.rec, "source_id", fe != NULL && fe->verified ?
	    jsonl_cstr(fe->source_id) : json_null());

	if (len > 0 && data[len - 1] != '\n') {
		/*
		 * GMime leaves a stray CR in the last part of a message
		 * that ends without a line break; give it one, of the kind
		 * its other lines end in.
		 */
		const char *nl = memchr(data, '\n', len);
		int crlf = nl != NULL && nl > data && nl[-1] == '\r';

		padded = xmalloc(len + 2);
		memcpy(padded, data, len);
		if (crlf)
			padded[len++] = '\r';
		padded[len++] = '\n';
		data = padded;
	}
	if (!p->split || (top = gm_split(p, &ms, &g, data, len)) == NULL) {
		ms.hdr_end = header_end(data, len);
		if ((top = gm_parse(p, &g, data, len)) == NULL && len > 0)
			top = gm_salvage(p, &ms, &g, data, len);
		if (top != NULL)
			fields_of(&ms, top);
	}

	if (top != NULL) {
		fill_headers(p, &ms);
		if (raw == NULL || !raw->toolarge)
			walk(p, &ms, top, "", 0);
	} else {
		if (len >= 8 && memcmp(data, "\xd0\xcf\x11\xe0", 4) == 0)
			set_error(&ms, "outlook-msg", "an Outlook .msg file "
			    "(OLE2), not RFC 822 mail");
		else
			set_error(&ms, len ? "unparsable" : "empty", len ?
			    "not a message GMime can read" : "empty input");
		json_object_set_new(ms.rec, "name", jsonl_cstr(ms.noname));
		for (f = null_fields; *f != NULL; f++)
			json_object_set_new(ms.rec, *f, json_null());
		for (f = empty_lists; *f != NULL; f++)
			json_object_set_new(ms.rec, *f, json_array());
	}

	if (ms.text.len == 0 && ms.html.len > 0) {
		if ((t = html_to_text(ms.html.s, ms.html.len, &tlen)) == NULL)
			exit(EX_OSERR);
		buf_add(&ms.text, t, tlen);
		free(t);
	}
	json_object_set_new(ms.rec, "text", ms.text.s ?
	    jsonl_str(ms.text.s, ms.text.len) : json_null());
	json_object_set_new(ms.rec, "html", ms.html.s ?
	    jsonl_str(ms.html.s, ms.html.len) : json_null());
	json_object_set_new(ms.rec, "attachments", ms.attachments);
	json_object_set_new(ms.rec, "messages", ms.messages);
	if (ms.ndefects > MAX_DEFECTS) {
		char why[128];

		snprintf(why, sizeof(why), "%d more defects not listed",
		    ms.ndefects - MAX_DEFECTS);
		ms.ndefects = 0;
		add_defect(&ms, "too-many-defects", NULL, why);
	}
	json_object_set_new(ms.rec, "defects", ms.defects);
	json_object_set_new(ms.rec, "error", ms.error ? ms.error : json_null());
	if (ms.error != NULL)
		p->bad = 1;

	p->cur = saved;
	gm_free(&g);
	free(ms.hb.f);
	free(ms.seg);
	free(padded);
	free(ms.text.s);
	free(ms.html.s);
	return ms.rec;
}

json_t *
parser_record(struct parser *p, const struct rawmsg *m, json_t *source,
    int *bad, const char **why)
{
	struct fetched f;
	json_t *rec, *err;

	p->bad = 0;
	p->nested = 0;
	switch (source_check(m, &f)) {
	case 2:
		/*
		 * Not a message but the broken end of a transfer: no record
		 * to make a case of; mailfetch owes it still and sends it
		 * whole on its next run.
		 */
		rec = jsonl_record("error");
		json_object_set_new(rec, "error", jsonl_error("truncated", "%s",
		    f.cut));
		json_object_set_new(rec, "source", f.source ? f.source : source);
		if (f.source != NULL)
			json_decref(source);
		*bad = 1;
		*why = json_string_value(json_object_get(json_object_get(rec,
		    "error"), "text"));
		return rec;
	case 1:
		/* The line is mailfetch's, not the message's. */
		json_decref(source);
		rec = build(p, f.data, f.len, f.source, 0, m, &f);
		break;
	default:
		rec = build(p, m->data, m->len, source, 0, m, &f);
	}
	*bad = p->bad;
	*why = NULL;
	if (p->bad) {
		err = json_object_get(rec, "error");
		*why = json_is_object(err) ?
		    json_string_value(json_object_get(err, "text")) :
		    "a nested message could not be read";
	}
	return rec;
}
