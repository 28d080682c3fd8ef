#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "diag.h"
#include "jsonl.h"
#include "limits.h"
#include "utf8.h"
#include "xalloc.h"

static void
nomem(void)
{
	diag(NULL, NULL, "out of memory");
	exit(EX_OSERR);
}

json_t *
jsonl_str(const char *s, size_t n)
{
	json_t *j;
	char *fixed;
	size_t len;

	if (s == NULL)
		return json_null();
	if (utf8_valid(s, n)) {
		if ((j = json_stringn_nocheck(s, n)) == NULL)
			nomem();
		return j;
	}
	if ((fixed = utf8_repair(s, n, &len)) == NULL)
		nomem();
	if ((j = json_stringn_nocheck(fixed, len)) == NULL)
		nomem();
	free(fixed);
	return j;
}

json_t *
jsonl_cstr(const char *s)
{
	return s == NULL ? json_null() : jsonl_str(s, strlen(s));
}

json_t *
jsonl_record(const char *kind)
{
	json_t *r;

	if ((r = json_object()) == NULL)
		nomem();
	json_object_set_new(r, "v", json_integer(1));
	json_object_set_new(r, "kind", jsonl_cstr(kind));
	return r;
}

json_t *
jsonl_error(const char *code, const char *fmt, ...)
{
	va_list ap;
	char *text;
	json_t *e;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		nomem();
	va_end(ap);
	if ((e = json_object()) == NULL)
		nomem();
	json_object_set_new(e, "code", jsonl_cstr(code));
	json_object_set_new(e, "text", jsonl_cstr(text));
	free(text);
	return e;
}

struct membuf {
	char	*buf;
	size_t	 len, cap;
};

static void
put(struct membuf *m, const char *s, size_t n)
{
	size_t need;

	if (__builtin_add_overflow(m->len, n + 2, &need))
		nomem();
	if (need > m->cap)
		xgrow(&m->buf, &m->cap, need);
	memcpy(m->buf + m->len, s, n);
	m->len += n;
}

/* Bytes a JSON string cannot hold as they are. */
static const unsigned char needs_escape[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1,
};

#ifdef __SSE2__
#include <emmintrin.h>

/* Bit k set where byte k of the 16 at p is < 0x20, '"' or '\\'. */
static inline unsigned
escape_mask(const char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p), m;

	/* v < 0x20 unsigned: max(v, 0x1f) == 0x1f */
	m = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)),
	    _mm_set1_epi8(0x1f));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/*
 * s[0..n) as a JSON string.  Room for the worst case (six bytes a byte)
 * is made a piece at a time, and the bytes are copied sixteen at a time
 * up to the next one that needs escaping.
 */
#define ESCAPE_PIECE	65536

static void
put_string(struct membuf *m, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, end, need;
	unsigned char c;
	char *o;

	put(m, "\"", 1);
	while (i < n) {
		end = n - i > ESCAPE_PIECE ? i + ESCAPE_PIECE : n;
		need = m->len + (end - i) * 6 + 16 + 2;
		if (need > m->cap)
			xgrow(&m->buf, &m->cap, need);
		o = m->buf + m->len;
		while (i < end) {
#ifdef __SSE2__
			unsigned mask;

			while (i + 16 <= end) {
				_mm_storeu_si128((__m128i *)o,
				    _mm_loadu_si128((const __m128i *)(s + i)));
				if ((mask = escape_mask(s + i)) != 0) {
					unsigned k = (unsigned)__builtin_ctz(mask);

					o += k;
					i += k;
					break;
				}
				o += 16;
				i += 16;
			}
			if (i >= end)
				break;
#endif
			c = (unsigned char)s[i++];
			if (!needs_escape[c]) {
				*o++ = (char)c;
				continue;
			}
			*o++ = '\\';
			switch (c) {
			case '"':	*o++ = '"'; break;
			case '\\':	*o++ = '\\'; break;
			case '\n':	*o++ = 'n'; break;
			case '\r':	*o++ = 'r'; break;
			case '\t':	*o++ = 't'; break;
			case '\b':	*o++ = 'b'; break;
			case '\f':	*o++ = 'f'; break;
			default:
				memcpy(o, "u00", 3);
				o[3] = hex[c >> 4];
				o[4] = hex[c & 15];
				o += 5;
			}
		}
		m->len = (size_t)(o - m->buf);
	}
	put(m, "\"", 1);
}

/*
 * Records are mostly long strings, and jansson's dumper looks at them a
 * character at a time through a callback; this one copies runs that need
 * no escaping whole.  Strings in a json_t are valid UTF-8 already (jansson
 * checks on load, jsonl_str repairs), so nothing else needs checking.
 */
static void
put_value(struct membuf *m, json_t *v)
{
	const char *key;
	json_t *item;
	size_t i, klen;
	char num[64];
	int first = 1, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		put(m, "{", 1);
		json_object_keylen_foreach(v, key, klen, item) {
			if (!first)
				put(m, ",", 1);
			first = 0;
			put_string(m, key, klen);
			put(m, ":", 1);
			put_value(m, item);
		}
		put(m, "}", 1);
		break;
	case JSON_ARRAY:
		put(m, "[", 1);
		json_array_foreach(v, i, item) {
			if (i > 0)
				put(m, ",", 1);
			put_value(m, item);
		}
		put(m, "]", 1);
		break;
	case JSON_STRING:
		put_string(m, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		put(m, num, (size_t)n);
		break;
	case JSON_REAL: {
		char *d = json_dumps(v, JSON_ENCODE_ANY);

		if (d == NULL)
			nomem();
		put(m, d, strlen(d));
		free(d);
		break;
	}
	case JSON_TRUE:
		put(m, "true", 4);
		break;
	case JSON_FALSE:
		put(m, "false", 5);
		break;
	case JSON_NULL:
		put(m, "null", 4);
		break;
	}
}

char *
jsonl_dump(json_t *rec, size_t *len)
{
	struct membuf m = { NULL, 0, 0 };

	put_value(&m, rec);
	put(&m, "\n", 1);
	m.buf[m.len] = '\0';
	*len = m.len;
	return m.buf;
}

json_t *
jsonl_parse(const char *s, size_t n)
{
	json_error_t jerr;
	json_t *v = json_loadb(s, n, 0, &jerr);

	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/*
 * jsonl_write's buffer is kept for the next line (records come by the
 * thousand), unless a huge record made it larger than this.
 */
#define WRITE_KEEP	(8 * 1024 * 1024)

int
jsonl_write(FILE *fp, json_t *rec)
{
	static __thread struct membuf m;
	int r = 0;

	m.len = 0;
	put_value(&m, rec);
	put(&m, "\n", 1);
	if (fwrite(m.buf, 1, m.len, fp) != m.len)
		r = -1;
	if (m.cap > WRITE_KEEP) {
		free(m.buf);
		m.buf = NULL;
		m.cap = 0;
	}
	return r;
}

/* Written out whenever this much is held. */
#define JSONW_FLUSH	65536

struct jsonw {
	struct membuf	 m;
	FILE		*fp;
	int		 err;		/* the errno of the first failed write */
};

static void
jsonw_flush(struct jsonw *w)
{
	if (w->m.len > 0 && !w->err &&
	    fwrite(w->m.buf, 1, w->m.len, w->fp) != w->m.len)
		w->err = errno ? errno : EIO;
	w->m.len = 0;
}

void
jsonw_raw(struct jsonw *w, const char *s)
{
	put(&w->m, s, strlen(s));
	if (w->m.len >= JSONW_FLUSH)
		jsonw_flush(w);
}

/* Bytes that are not UTF-8 are repaired, as by jsonl_str. */
void
jsonw_str(struct jsonw *w, const char *s, size_t n)
{
	char *fixed;
	size_t len;

	if (utf8_valid(s, n))
		put_string(&w->m, s, n);
	else {
		if ((fixed = utf8_repair(s, n, &len)) == NULL)
			nomem();
		put_string(&w->m, fixed, len);
		free(fixed);
	}
	if (w->m.len >= JSONW_FLUSH)
		jsonw_flush(w);
}

void
jsonw_value(struct jsonw *w, json_t *v)
{
	put_value(&w->m, v);
	if (w->m.len >= JSONW_FLUSH)
		jsonw_flush(w);
}

int
jsonl_write_with(FILE *fp, json_t *rec, const char *key,
    void (*fn)(struct jsonw *, void *), void *arg)
{
	struct jsonw w = { { NULL, 0, 0 }, fp, 0 };
	const char *k;
	json_t *item;
	size_t klen;
	int first = 1, done = 0;

	put(&w.m, "{", 1);
	json_object_keylen_foreach(rec, k, klen, item) {
		if (!first)
			put(&w.m, ",", 1);
		first = 0;
		jsonw_str(&w, k, klen);
		put(&w.m, ":", 1);
		if (!strcmp(k, key)) {
			fn(&w, arg);
			done = 1;
		} else
			jsonw_value(&w, item);
	}
	if (!done) {
		if (!first)
			put(&w.m, ",", 1);
		jsonw_str(&w, key, strlen(key));
		put(&w.m, ":", 1);
		fn(&w, arg);
	}
	put(&w.m, "}\n", 2);
	jsonw_flush(&w);
	free(w.m.buf);
	if (w.err) {
		errno = w.err;	/* for the caller's message, not a later one */
		return -1;
	}
	return 0;
}

int
status_worse(int a, int b)
{
	/* Retry-later beats everything: the caller must come back. */
	if (a == EX_TEMPFAIL || b == EX_TEMPFAIL)
		return EX_TEMPFAIL;
	if (a == 0)
		return b;
	if (b == 0 || b == EX_DATAERR)
		return a;
	return b;
}

static void
bad_line(FILE *out, int (*fn)(json_t *, void *), void *arg, const char *name,
    unsigned long lineno, const char *code, const char *text, const char *line,
    size_t len)
{
	json_t *r;

	diag(name, "line", "%lu: %s", lineno, text);
	r = jsonl_record("error");
	json_object_set_new(r, "error", jsonl_error(code, "line %lu: %s",
	    lineno, text));
	json_object_set_new(r, "input", jsonl_str(line, len));
	if (out == NULL) {
		if (fn(r, arg) == JSONL_KEPT)
			return;
	} else if (jsonl_write(out, r) == -1)
		diag(NULL, "write", "%s", strerror(errno));
	json_decref(r);
}

/* Nonzero when a read(2) of fd would return at once (data, EOF or error). */
static int
ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

int
jsonl_loop(FILE *fp, const char *name, FILE *out,
    int (*fn)(json_t *rec, void *arg), void *arg)
{
	return jsonl_loop_idle(fp, name, out, fn, NULL, arg);
}

int
jsonl_loop_idle(FILE *fp, const char *name, FILE *out,
    int (*fn)(json_t *rec, void *arg), int (*idle)(void *arg), void *arg)
{
	ssize_t got;
	int fd = fileno(fp);
	char *buf = NULL, *line, *nl;
	size_t cap = 0, pos = 0, len = 0, linelen;
	unsigned long lineno = 0;
	int status = 0, eof = 0, toolong = 0, r;
	json_error_t jerr;
	json_t *rec;

	for (;;) {
		/* One whole line in buf[pos, len), reading more as needed. */
		nl = len > pos ? memchr(buf + pos, '\n', len - pos) : NULL;
		if (nl == NULL && !eof) {
			if (pos > 0) {
				memmove(buf, buf + pos, len - pos);
				len -= pos;
				pos = 0;
			}
			if (len >= MAX_RECORD_BYTES) {
				/* Too long: keep its start for the error record. */
				toolong = 1;
				len = 4096;
			}
			xgrow(&buf, &cap, len + 65536);
			/*
			 * read(2), not fread(3): a pipe gives what is there, so
			 * a record goes on as soon as its line is complete.
			 */
			if (idle != NULL && fd != -1 && !ready(fd))
				status = status_worse(status, idle(arg));
			if (fd == -1) {		/* a stream without a descriptor */
				got = (ssize_t)fread(buf + len, 1, cap - len, fp);
				if (got == 0 && ferror(fp))
					got = -1;
			} else
				while ((got = read(fd, buf + len, cap - len)) == -1 &&
				    errno == EINTR)
					;
			if (got <= 0) {
				if (got == -1) {
					diag(name, "read", "%s", strerror(errno));
					status = status_worse(status, EX_IOERR);
				}
				eof = 1;
			} else
				len += (size_t)got;
			continue;
		}
		if (nl == NULL && pos == len)
			break;
		line = buf + pos;
		linelen = nl ? (size_t)(nl - line) : len - pos;
		pos += nl ? linelen + 1 : linelen;
		lineno++;
		if (linelen > 0 && line[linelen - 1] == '\r')
			linelen--;
		if (toolong) {
			bad_line(out, fn, arg, name, lineno, "record-too-large",
			    "longer than MAX_RECORD_BYTES; its first 4096 bytes "
			    "are in \"input\"", line, linelen < 4096 ? linelen : 4096);
			status = status_worse(status, EX_DATAERR);
			toolong = 0;
			continue;
		}
		if (linelen == 0)
			continue;
		rec = json_loadb(line, linelen, JSON_ALLOW_NUL, &jerr);
		if (rec == NULL || !json_is_object(rec)) {
			bad_line(out, fn, arg, name, lineno, "bad-json",
			    rec ? "not a JSON object" : jerr.text, line, linelen);
			status = status_worse(status, EX_DATAERR);
		} else if ((r = fn(rec, arg)) == JSONL_KEPT)
			continue;
		else
			status = status_worse(status, r);
		json_decref(rec);
	}
	free(buf);
	return status;
}
