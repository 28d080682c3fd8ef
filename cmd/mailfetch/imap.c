/*
 * One IMAP connection.  libcurl connects, does TLS or STARTTLS (required:
 * never a silent fall back to clear text), checks the certificate and
 * logs in, with SASL PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER; then it hands
 * over the connection (CURLOPT_CONNECT_ONLY) and we speak IMAP ourselves.
 * libcurl's own IMAP commands fetch one message per command and read
 * custom commands' answers a line at a time without knowing literals (a
 * message holding a line that starts with the tag would end the answer);
 * here one UID FETCH asks for hundreds of messages, streamed back
 * without a pause, and every literal is read by its length, straight
 * into the buffer of its message.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <curl/curl.h>

#include "diag.h"
#include "mailfetch.h"
#include "xalloc.h"

#ifndef EX_PROTOCOL
#define EX_PROTOCOL	76
#endif

/* A line of a response (literals aside); a SEARCH of a big folder. */
#define MAX_IMAP_LINE		(64UL * 1024 * 1024)
/* Bytes of small literals one response may carry besides its message. */
#define MAX_LITERAL_SLACK	(1024UL * 1024)
/* Literals in one response: a FETCH asks for one. */
#define MAX_LITERALS		16
/* UIDs one UID FETCH asks for: big enough to keep the server busy. */
#define FETCH_CHUNK		1024
/* Commands in flight at once. */
#define MAX_INFLIGHT		8
#define READ_SIZE		(256 * 1024)

struct literal {
	size_t			 off;	/* in lit */
	size_t			 len;
	unsigned long long	 size;	/* announced */
	int			 dropped;
};

struct lexer;
struct fetchctx;

struct tagstate {
	unsigned	tag;
	int		done;
	char		status;		/* 'O'K, 'N'O, 'B'AD */
	char		text[DIAG_MAX];
};

struct imap {
	CURL		*h;
	curl_socket_t	 sock;
	char		*server;
	long		 timeout_ms;
	int		 broken;	/* no LOGOUT: the stream is lost */
	char		*buf;		/* what was received and not used */
	size_t		 pos, len, cap;
	char		*unit;		/* the response being read */
	size_t		 ulen, ucap;
	char		*lit;		/* its literals */
	size_t		 litlen, litcap;
	struct literal	 lits[MAX_LITERALS];
	int		 nlits;
	unsigned long long maxlit;	/* refuse literals larger */
	unsigned	 nexttag;
	struct tagstate	 tags[MAX_INFLIGHT];
	int		 ntags;
	char		*caps;
	char		 lastin[DIAG_MAX];	/* last server line during login */
	/* Where the answers of the command in progress go. */
	struct mailbox	*mb;
	struct uidset	*search;
	int		(*onfetch)(struct imap *, struct lexer *);
	struct fetchctx	*fc;
	const char	*step;
};

static int	fail(struct imap *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
fail(struct imap *s, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag(s->server, s->step, "%s", msg);
	if (code == EX_TEMPFAIL || code == EX_PROTOCOL || code == EX_IOERR)
		s->broken = 1;
	return code;
}

const char *
imap_server(const struct imap *s)
{
	return s->server;
}

/* --- the wire --- */

static int
wait_sock(struct imap *s, short ev)
{
	struct pollfd p = { .fd = s->sock, .events = ev };
	int r;

	while ((r = poll(&p, 1, (int)s->timeout_ms)) == -1 && errno == EINTR)
		;
	if (r == 0)
		return fail(s, EX_TEMPFAIL, "no answer in %ld s",
		    s->timeout_ms / 1000);
	if (r == -1)
		return fail(s, EX_OSERR, "poll: %s", strerror(errno));
	return 0;
}

static int
send_all(struct imap *s, const char *p, size_t n)
{
	CURLcode cc;
	size_t sent;
	int r;

	while (n > 0) {
		cc = curl_easy_send(s->h, p, n, &sent);
		if (cc == CURLE_AGAIN) {
			if ((r = wait_sock(s, POLLOUT)) != 0)
				return r;
			continue;
		}
		if (cc != CURLE_OK)
			return fail(s, EX_TEMPFAIL, "send: %s",
			    curl_easy_strerror(cc));
		p += sent;
		n -= sent;
	}
	return 0;
}

/* Receive into dst (up to n bytes); the count, or -1 after a diagnostic. */
static int
recv_some(struct imap *s, char *dst, size_t n, size_t *got, int *code)
{
	CURLcode cc;
	int r;

	for (;;) {
		cc = curl_easy_recv(s->h, dst, n, got);
		if (cc == CURLE_AGAIN) {
			if ((r = wait_sock(s, POLLIN)) != 0) {
				*code = r;
				return -1;
			}
			continue;
		}
		if (cc != CURLE_OK) {
			*code = fail(s, EX_TEMPFAIL, "receive: %s",
			    curl_easy_strerror(cc));
			return -1;
		}
		if (*got == 0) {
			*code = fail(s, EX_TEMPFAIL,
			    "the server closed the connection");
			return -1;
		}
		return 0;
	}
}

/* At least one more byte in buf. */
static int
fill(struct imap *s)
{
	size_t got;
	int code;

	if (s->pos > 0 && s->pos == s->len)
		s->pos = s->len = 0;
	if (s->cap - s->len < READ_SIZE / 4) {
		if (s->pos > 0) {
			memmove(s->buf, s->buf + s->pos, s->len - s->pos);
			s->len -= s->pos;
			s->pos = 0;
		}
		if (s->cap - s->len < READ_SIZE / 4)
			xgrow(&s->buf, &s->cap, s->len + READ_SIZE);
	}
	if (recv_some(s, s->buf + s->len, s->cap - s->len, &got, &code) == -1)
		return code;
	s->len += got;
	return 0;
}

/* Read n literal bytes into dst (NULL: throw them away). */
static int
read_bytes(struct imap *s, char *dst, unsigned long long n)
{
	char sink[16384];
	size_t k, got;
	int code;

	k = s->len - s->pos < n ? s->len - s->pos : (size_t)n;
	if (dst != NULL)
		memcpy(dst, s->buf + s->pos, k);
	s->pos += k;
	n -= k;
	if (dst != NULL)
		dst += k;
	while (n > 0) {
		if (dst != NULL) {
			if (recv_some(s, dst, (size_t)n, &got, &code) == -1)
				return code;
			dst += got;
		} else if (recv_some(s, sink, n < sizeof(sink) ? (size_t)n :
		    sizeof(sink), &got, &code) == -1)
			return code;
		n -= got;
	}
	return 0;
}

/* Append one line (without CRLF) to the unit. */
static int
read_line(struct imap *s, size_t *start)
{
	size_t scanned = 0, n;
	char *nl;
	int r;

	for (;;) {
		nl = memchr(s->buf + s->pos + scanned, '\n',
		    s->len - s->pos - scanned);
		if (nl != NULL)
			break;
		scanned = s->len - s->pos;
		if (scanned > MAX_IMAP_LINE)
			return fail(s, EX_PROTOCOL, "a response line over %lu "
			    "bytes", MAX_IMAP_LINE);
		if ((r = fill(s)) != 0)
			return r;
	}
	n = (size_t)(nl - (s->buf + s->pos));
	if (n > 0 && nl[-1] == '\r')
		n--;
	if (memchr(s->buf + s->pos, '\0', n) != NULL)
		return fail(s, EX_PROTOCOL, "a NUL byte in a response line");
	*start = s->ulen;
	xgrow(&s->unit, &s->ucap, s->ulen + n + 3);
	memcpy(s->unit + s->ulen, s->buf + s->pos, n);
	s->ulen += n;
	s->unit[s->ulen] = '\0';
	s->pos = (size_t)(nl + 1 - s->buf);
	return 0;
}

/*
 * One whole response: its lines joined, each literal read by its length
 * and replaced in the text by a NUL byte and its index.
 */
static int
read_unit(struct imap *s)
{
	unsigned long long n;
	struct literal *l;
	size_t start = 0;
	char *p, *e;
	int r;

	s->ulen = 0;
	s->litlen = 0;
	s->nlits = 0;
	for (;;) {
		if ((r = read_line(s, &start)) != 0)
			return r;
		e = s->unit + s->ulen;
		if (s->ulen - start < 3 || e[-1] != '}')
			return 0;
		for (p = e - 2; p > s->unit + start && *p >= '0' && *p <= '9'; p--)
			;
		if (*p == '+')
			p--;
		if (*p != '{' || p + 2 > e - 1)
			return 0;
		n = strtoull(p + 1, NULL, 10);
		if (s->nlits == MAX_LITERALS)
			return fail(s, EX_PROTOCOL, "more than %d literals in "
			    "one response", MAX_LITERALS);
		l = &s->lits[s->nlits];
		s->ulen = (size_t)(p - s->unit);
		s->unit[s->ulen++] = '\0';
		s->unit[s->ulen++] = (char)('A' + s->nlits);
		s->unit[s->ulen] = '\0';
		s->nlits++;
		l->size = n;
		l->off = s->litlen;
		l->len = 0;
		l->dropped = n > s->maxlit;
		if (!l->dropped) {
			if (s->litlen + n > s->maxlit + MAX_LITERAL_SLACK)
				return fail(s, EX_PROTOCOL, "more literal data "
				    "in one response than a message may have");
			xgrow(&s->lit, &s->litcap, s->litlen + (size_t)n + 1);
			l->len = (size_t)n;
			s->litlen += (size_t)n;
		}
		if ((r = read_bytes(s, l->dropped ? NULL : s->lit + l->off,
		    n)) != 0)
			return r;
	}
}

/* --- tokens of a response --- */

enum tok { T_END, T_ATOM, T_STRING, T_LITERAL, T_OPEN, T_CLOSE, T_BAD };

struct lexer {
	const char	*p, *e;
	const char	*v;	/* atom or string: start and length */
	size_t		 vn;
	int		 lit;	/* literal index */
	char		*qbuf;	/* unescaped quoted string */
};

static enum tok
lex(struct lexer *x)
{
	const char *q;
	size_t depth;

	while (x->p < x->e && *x->p == ' ')
		x->p++;
	if (x->p >= x->e)
		return T_END;
	switch (*x->p) {
	case '(':
		x->p++;
		return T_OPEN;
	case ')':
		x->p++;
		return T_CLOSE;
	case '\0':
		if (x->e - x->p < 2)
			return T_BAD;
		x->lit = x->p[1] - 'A';
		x->p += 2;
		return T_LITERAL;
	case '"':
		free(x->qbuf);
		x->qbuf = xmalloc((size_t)(x->e - x->p));
		x->vn = 0;
		for (q = x->p + 1; q < x->e && *q != '"'; q++) {
			if (*q == '\\' && q + 1 < x->e)
				q++;
			x->qbuf[x->vn++] = *q;
		}
		if (q >= x->e)
			return T_BAD;
		x->v = x->qbuf;
		x->p = q + 1;
		return T_STRING;
	}
	x->v = x->p;
	depth = 0;
	while (x->p < x->e && (depth > 0 || (*x->p != ' ' && *x->p != '(' &&
	    *x->p != ')' && *x->p != '\0'))) {
		if (*x->p == '[')
			depth++;
		else if (*x->p == ']' && depth > 0)
			depth--;
		x->p++;
	}
	x->vn = (size_t)(x->p - x->v);
	return x->vn ? T_ATOM : T_BAD;
}

/* Skip one value (a list as a whole). */
static int
skip_value(struct lexer *x, enum tok t)
{
	int depth = 0;

	do {
		if (t == T_OPEN)
			depth++;
		else if (t == T_CLOSE)
			depth--;
		else if (t == T_END || t == T_BAD)
			return -1;
		if (depth == 0)
			return 0;
	} while ((t = lex(x)) != T_END || depth > 0);
	return depth == 0 ? 0 : -1;
}

static int
atom_is(const struct lexer *x, const char *s)
{
	return x->vn == strlen(s) && strncasecmp(x->v, s, x->vn) == 0;
}

static int
atom_num(const struct lexer *x, unsigned long long *out)
{
	char tmp[24];

	if (x->vn == 0 || x->vn > 20 || strspn(x->v, "0123456789") < x->vn)
		return -1;
	memcpy(tmp, x->v, x->vn);
	tmp[x->vn] = '\0';
	*out = strtoull(tmp, NULL, 10);
	return 0;
}

/* --- responses --- */

/* "* n FETCH (...)": the message it carries, to the fetch handler. */
static int
parse_fetch(struct imap *s, struct lexer *x, struct fetched *f, int *hasbody)
{
	unsigned long long v;
	enum tok t;

	memset(f, 0, sizeof(*f));
	*hasbody = 0;
	if (lex(x) != T_OPEN)
		return -1;
	while ((t = lex(x)) == T_ATOM) {
		if (atom_is(x, "UID")) {
			if (lex(x) != T_ATOM || atom_num(x, &v) == -1 ||
			    v == 0 || v > UINT32_MAX)
				return -1;
			f->uid = (uint32_t)v;
		} else if (atom_is(x, "BODY[]") || atom_is(x, "RFC822")) {
			*hasbody = 1;
			t = lex(x);
			if (t == T_LITERAL && x->lit >= 0 && x->lit < s->nlits) {
				struct literal *l = &s->lits[x->lit];

				f->size = l->size;
				f->toolarge = l->dropped;
				f->data = l->dropped ? NULL : s->lit + l->off;
				f->len = l->len;
			} else if (t == T_STRING && x->vn > s->maxlit) {
				f->toolarge = 1;
				f->size = x->vn;
			} else if (t == T_STRING) {
				/* Kept apart: the next quoted item reuses qbuf. */
				xgrow(&s->lit, &s->litcap, s->litlen + x->vn + 1);
				memcpy(s->lit + s->litlen, x->v, x->vn);
				f->data = s->lit + s->litlen;
				f->len = f->size = x->vn;
				s->litlen += x->vn;
			} else if (!(t == T_ATOM && atom_is(x, "NIL")))
				return -1;
		} else if (atom_is(x, "INTERNALDATE")) {
			if (lex(x) != T_STRING)
				return -1;
			snprintf(f->internaldate, sizeof(f->internaldate),
			    "%.*s", (int)x->vn, x->v);
		} else if (skip_value(x, lex(x)) == -1)
			return -1;
	}
	return t == T_CLOSE ? 0 : -1;
}

/* A response code "[NAME value]" at the start of text. */
static void
resp_code(struct imap *s, const char *text)
{
	unsigned long long v;

	if (*text != '[' || s->mb == NULL)
		return;
	if (strncasecmp(text, "[UIDVALIDITY ", 13) == 0) {
		v = strtoull(text + 13, NULL, 10);
		s->mb->uidvalidity = v;
	} else if (strncasecmp(text, "[UIDNEXT ", 9) == 0) {
		v = strtoull(text + 9, NULL, 10);
		s->mb->uidnext = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	} else if (strncasecmp(text, "[READ-ONLY]", 11) == 0)
		s->mb->readonly = 1;
	else if (strncasecmp(text, "[READ-WRITE]", 12) == 0)
		s->mb->readonly = 0;
}

static const char *untagged_known[] = {
	"OK", "NO", "BAD", "BYE", "PREAUTH", "CAPABILITY", "FLAGS", "LIST",
	"LSUB", "STATUS", "SEARCH", "ESEARCH", "ENABLED", "ID", "NAMESPACE",
	"QUOTA", "QUOTAROOT", "ACL", "MYRIGHTS", "LISTRIGHTS", "METADATA",
	"SORT", "THREAD", "VANISHED", NULL
};

static int
untagged(struct imap *s)
{
	struct lexer x = { s->unit + 2, s->unit + s->ulen, NULL, 0, 0, NULL };
	unsigned long long n;
	const char **k;
	char *sp;
	int r = 0;

	if (lex(&x) != T_ATOM)
		goto unknown;
	if (atom_num(&x, &n) == 0) {
		if (lex(&x) != T_ATOM)
			goto unknown;
		if (atom_is(&x, "EXISTS")) {
			if (s->mb != NULL)
				s->mb->exists = n;
		} else if (atom_is(&x, "FETCH")) {
			if (s->onfetch != NULL)
				r = s->onfetch(s, &x);
		} else if (!atom_is(&x, "EXPUNGE") && !atom_is(&x, "RECENT"))
			goto unknown;
		free(x.qbuf);
		return r;
	}
	if (atom_is(&x, "OK") || atom_is(&x, "NO") || atom_is(&x, "BAD")) {
		resp_code(s, x.p + (*x.p == ' '));
	} else if (atom_is(&x, "BYE")) {
		/* The connection is about to close: say why (unless we asked). */
		if (strcmp(s->step, "LOGOUT") != 0)
			diag(s->server, s->step, "server says BYE:%s", x.p);
	} else if (atom_is(&x, "CAPABILITY")) {
		free(s->caps);
		s->caps = xasprintf(" %s ", x.p);
	} else if (atom_is(&x, "SEARCH") && s->search != NULL) {
		while (lex(&x) == T_ATOM)
			if (atom_num(&x, &n) == 0 && n > 0 && n <= UINT32_MAX)
				uidset_add(s->search, (uint32_t)n);
	} else if (atom_is(&x, "ESEARCH") && s->search != NULL) {
		/* (TAG "x") UID ALL 1:5,9 */
		if ((sp = strcasestr(x.p, " ALL ")) != NULL) {
			char *end = sp + 5;

			end += strcspn(end, " ");
			if (uidset_parse(s->search, sp + 5,
			    (size_t)(end - (sp + 5))) == -1)
				r = fail(s, EX_PROTOCOL, "bad ESEARCH set");
		}
	} else {
		for (k = untagged_known; *k != NULL; k++)
			if (atom_is(&x, *k))
				break;
		if (*k == NULL)
			goto unknown;
	}
	free(x.qbuf);
	return r;
unknown:
	free(x.qbuf);
	return fail(s, EX_PROTOCOL, "unknown response: %.200s", s->unit);
}

static struct tagstate *
tagslot(struct imap *s, unsigned tag)
{
	int i;

	for (i = 0; i < s->ntags; i++)
		if (s->tags[i].tag == tag)
			return &s->tags[i];
	return NULL;
}

/* Send a command; its tag into *tag. */
static int	vcommand(struct imap *, unsigned *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static int
vcommand(struct imap *s, unsigned *tag, const char *fmt, va_list ap)
{
	struct tagstate *t;
	char *line, *body;
	int r;

	if (s->ntags == MAX_INFLIGHT)
		return fail(s, EX_SOFTWARE, "too many commands in flight");
	if (vasprintf(&body, fmt, ap) == -1)
		return fail(s, EX_OSERR, "out of memory");
	*tag = ++s->nexttag;
	line = xasprintf("m%u %s\r\n", *tag, body);
	free(body);
	r = send_all(s, line, strlen(line));
	free(line);
	if (r != 0)
		return r;
	t = &s->tags[s->ntags++];
	memset(t, 0, sizeof(*t));
	t->tag = *tag;
	return 0;
}

static int
command(struct imap *s, unsigned *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
command(struct imap *s, unsigned *tag, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vcommand(s, tag, fmt, ap);
	va_end(ap);
	return r;
}

/* Read responses until tag is done; its status into *st, text into *text. */
static int
await(struct imap *s, unsigned tag, char *st, char *text, size_t textsz)
{
	struct tagstate *t;
	unsigned long long v;
	char *p, *q;
	int r;

	while ((t = tagslot(s, tag)) != NULL && !t->done) {
		if ((r = read_unit(s)) != 0)
			return r;
		if (strncmp(s->unit, "* ", 2) == 0) {
			if ((r = untagged(s)) != 0)
				return r;
			continue;
		}
		if (strncmp(s->unit, "+", 1) == 0)
			return fail(s, EX_PROTOCOL, "unexpected continuation "
			    "request: %.200s", s->unit);
		p = s->unit;
		q = strchr(p, ' ');
		if (*p != 'm' || q == NULL || atom_num(&(struct lexer){
		    .v = p + 1, .vn = (size_t)(q - p - 1) }, &v) == -1 ||
		    (t = tagslot(s, (unsigned)v)) == NULL)
			return fail(s, EX_PROTOCOL, "unknown response: %.200s",
			    s->unit);
		q++;
		if (strncasecmp(q, "OK", 2) == 0)
			t->status = 'O';
		else if (strncasecmp(q, "NO", 2) == 0)
			t->status = 'N';
		else
			t->status = 'B';
		q += strcspn(q, " ");
		q += *q == ' ';
		snprintf(t->text, sizeof(t->text), "%s", q);
		resp_code(s, q);
		t->done = 1;
	}
	if (t == NULL)
		return fail(s, EX_SOFTWARE, "tag m%u is not in flight", tag);
	*st = t->status;
	snprintf(text, textsz, "%s", t->text);
	*t = s->tags[--s->ntags];
	return 0;
}

/* Send a command and wait for it: 0 on OK, else a diagnostic and code. */
static int simple(struct imap *s, int nocode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
simple(struct imap *s, int nocode, const char *fmt, ...)
{
	char st, text[DIAG_MAX];
	unsigned tag;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vcommand(s, &tag, fmt, ap);
	va_end(ap);
	if (r != 0 || (r = await(s, tag, &st, text, sizeof(text))) != 0)
		return r;
	if (st == 'O')
		return 0;
	return fail(s, st == 'N' ? nocode : EX_PROTOCOL, "%s %s",
	    st == 'N' ? "NO" : "BAD", text);
}

/* --- folder names: modified UTF-7 (RFC 3501 5.1.3), quoted --- */

static char *
mutf7_quoted(const char *utf8)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	const unsigned char *p = (const unsigned char *)utf8;
	size_t cap = strlen(utf8) * 4 + 8, n = 0;
	char *out = xmalloc(cap);
	unsigned bits = 0, nbits = 0;
	int inb64 = 0;
	uint32_t c;

	out[n++] = '"';
	while (*p != '\0') {
		if (*p < 0x80) {
			c = *p++;
		} else {
			int k = *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : 1;

			c = *p++ & (0x3f >> k);
			while (k-- > 0 && (*p & 0xc0) == 0x80)
				c = c << 6 | (*p++ & 0x3f);
		}
		if (c >= 0x20 && c < 0x7f) {
			if (inb64) {
				if (nbits > 0)
					out[n++] = b64[(bits << (6 - nbits)) & 0x3f];
				out[n++] = '-';
				inb64 = 0;
				bits = nbits = 0;
			}
			if (c == '&') {
				out[n++] = '&';
				out[n++] = '-';
			} else {
				if (c == '"' || c == '\\')
					out[n++] = '\\';
				out[n++] = (char)c;
			}
			continue;
		}
		if (!inb64) {
			out[n++] = '&';
			inb64 = 1;
		}
		{
			uint16_t u[2];
			int nu = 1, i;

			if (c >= 0x10000) {
				c -= 0x10000;
				u[0] = (uint16_t)(0xd800 | (c >> 10));
				u[1] = (uint16_t)(0xdc00 | (c & 0x3ff));
				nu = 2;
			} else
				u[0] = (uint16_t)c;
			for (i = 0; i < nu; i++) {
				bits = bits << 16 | u[i];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					out[n++] = b64[(bits >> nbits) & 0x3f];
				}
				bits &= (1u << nbits) - 1;
			}
		}
	}
	if (inb64) {
		if (nbits > 0)
			out[n++] = b64[(bits << (6 - nbits)) & 0x3f];
		out[n++] = '-';
	}
	out[n++] = '"';
	out[n] = '\0';
	return out;
}

/* --- the session --- */

static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t n, void *arg)
{
	struct imap *s = arg;

	(void)h;
	/* Only what the server said: what we say holds the credentials. */
	if (type == CURLINFO_HEADER_IN && n > 0) {
		while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
			n--;
		if (n >= sizeof(s->lastin))
			n = sizeof(s->lastin) - 1;
		memcpy(s->lastin, data, n);
		s->lastin[n] = '\0';
	}
	return 0;
}

static int
curl_code(CURLcode cc)
{
	switch (cc) {
	case CURLE_LOGIN_DENIED:
		return EX_NOPERM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_USE_SSL_FAILED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return EX_CONFIG;
	case CURLE_OUT_OF_MEMORY:
		return EX_OSERR;
	default:
		return EX_TEMPFAIL;
	}
}

int
imap_connect(struct imap **out, const struct account *a, int quiet_auth)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct imap *s = xcalloc(1, sizeof(*s));
	CURLcode cc;
	curl_socket_t sock;
	int r;

	*out = NULL;
	s->server = xstrdup(a->server);
	s->timeout_ms = a->timeout * 1000;
	s->step = "connect";
	s->maxlit = 0;
	if ((s->h = curl_easy_init()) == NULL) {
		r = fail(s, EX_OSERR, "out of memory");
		goto bad;
	}
	curl_easy_setopt(s->h, CURLOPT_URL, a->url);
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
	account_curl(s->h, a);
	curl_easy_setopt(s->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(s->h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(s->h, CURLOPT_DEBUGDATA, s);
	curl_easy_setopt(s->h, CURLOPT_VERBOSE, 1L);
	cc = curl_easy_perform(s->h);
	curl_easy_setopt(s->h, CURLOPT_VERBOSE, 0L);
	if (cc != CURLE_OK) {
		r = curl_code(cc);
		s->step = r == EX_NOPERM ? "login" : cc == CURLE_USE_SSL_FAILED ?
		    "STARTTLS" : cc == CURLE_PEER_FAILED_VERIFICATION ? "TLS" :
		    "connect";
		if (r == EX_NOPERM && quiet_auth)
			goto bad;
		if (cc == CURLE_USE_SSL_FAILED)
			fail(s, r, "the server offers no STARTTLS; not logging "
			    "in in clear text (set tls off to allow that)");
		else if (r == EX_NOPERM)
			fail(s, r, "refused as %s: %s", a->user ? a->user : "?",
			    *s->lastin ? s->lastin : cerr);
		else if (cc == CURLE_PEER_FAILED_VERIFICATION)
			fail(s, r, "%s (a private CA goes in tls_ca_file)",
			    *cerr ? cerr : curl_easy_strerror(cc));
		else
			fail(s, r, "%s", *cerr ? cerr : curl_easy_strerror(cc));
		goto bad;
	}
	if (curl_easy_getinfo(s->h, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
	    sock == CURL_SOCKET_BAD) {
		r = fail(s, EX_SOFTWARE, "no socket after login");
		goto bad;
	}
	s->sock = sock;
	s->step = "CAPABILITY";
	if ((r = simple(s, EX_PROTOCOL, "CAPABILITY")) != 0)
		goto bad;
	*out = s;
	return 0;
bad:
	s->broken = 1;
	imap_close(s);
	return r;
}

int
imap_has_cap(struct imap *s, const char *cap)
{
	char want[64];

	snprintf(want, sizeof(want), " %s ", cap);
	return s->caps != NULL && strcasestr(s->caps, want) != NULL;
}

void
imap_close(struct imap *s)
{
	unsigned tag;
	char st, text[DIAG_MAX];

	if (s == NULL)
		return;
	if (!s->broken && s->h != NULL && s->sock) {
		s->step = "LOGOUT";
		s->timeout_ms = 5000;
		if (command(s, &tag, "LOGOUT") == 0)
			(void)await(s, tag, &st, text, sizeof(text));
	}
	if (s->h != NULL)
		curl_easy_cleanup(s->h);
	free(s->server);
	free(s->buf);
	free(s->unit);
	free(s->lit);
	free(s->caps);
	free(s);
}

int
imap_select(struct imap *s, const char *folder, int rw, struct mailbox *mb)
{
	char *q;
	int r;

	memset(mb, 0, sizeof(*mb));
	s->mb = mb;
	s->step = rw ? "SELECT" : "EXAMINE";
	q = mutf7_quoted(folder);
	r = simple(s, EX_CONFIG, "%s %s", rw ? "SELECT" : "EXAMINE", q);
	free(q);
	s->mb = NULL;
	if (r == 0 && mb->uidvalidity == 0)
		r = fail(s, EX_PROTOCOL, "no UIDVALIDITY for the folder");
	return r;
}

int
imap_search_from(struct imap *s, uint32_t lo, struct uidset *out)
{
	int r;

	s->search = out;
	s->step = "UID SEARCH";
	if (imap_has_cap(s, "ESEARCH"))
		r = simple(s, EX_TEMPFAIL, "UID SEARCH RETURN (ALL) UID %u:*", lo);
	else
		r = simple(s, EX_TEMPFAIL, "UID SEARCH UID %u:*", lo);
	s->search = NULL;
	/* "n:*" names the highest UID even when it is below n. */
	uidset_minus(out, &(struct uidset){ &(struct uidrange){ 1, lo - 1 },
	    lo > 1, 1 });
	return r;
}

/* --- FETCH --- */

struct fetchctx {
	int		(*fn)(const struct fetched *, void *);
	void		*arg;
	const struct uidset *want;
	struct uidset	 got;
};

static int
on_fetch(struct imap *s, struct lexer *x)
{
	struct fetchctx *c = s->fc;
	struct fetched f;
	int hasbody, r;

	if (parse_fetch(s, x, &f, &hasbody) == -1)
		return fail(s, EX_PROTOCOL, "malformed FETCH response: %.200s",
		    s->unit);
	/* Flag changes and the like carry no message. */
	if (!hasbody)
		return 0;
	if (f.uid == 0 || !uidset_has(c->want, f.uid))
		return fail(s, EX_PROTOCOL, "FETCH response for UID %u, "
		    "which was not asked for", f.uid);
	if (uidset_has(&c->got, f.uid))
		return fail(s, EX_PROTOCOL, "UID %u sent twice", f.uid);
	uidset_add(&c->got, f.uid);
	if (f.data == NULL && !f.toolarge)
		return 0;	/* NIL: expunged meanwhile */
	r = c->fn(&f, c->arg);
	if (r != 0)
		s->broken = 1;
	return r;
}

/* UID FETCH of the next FETCH_CHUNK UIDs of set from (*ri, *at) on. */
static int
send_chunk(struct imap *s, const struct uidset *set, size_t *ri, uint32_t *at,
    unsigned *tag)
{
	struct uidset chunk = { NULL, 0, 0 };
	unsigned long long take = FETCH_CHUNK;
	char *list;
	int r;

	while (take > 0 && *ri < set->n) {
		uint32_t hi = set->r[*ri].hi;

		if ((unsigned long long)hi - *at + 1 > take)
			hi = (uint32_t)(*at + take - 1);
		uidset_add_range(&chunk, *at, hi);
		take -= (unsigned long long)hi - *at + 1;
		if (hi == set->r[*ri].hi) {
			if (++*ri < set->n)
				*at = set->r[*ri].lo;
		} else
			*at = hi + 1;
	}
	list = uidset_format(&chunk, 0, chunk.n, NULL);
	r = command(s, tag, "UID FETCH %s (UID INTERNALDATE BODY.PEEK[])", list);
	free(list);
	uidset_free(&chunk);
	return r;
}

int
imap_fetch(struct imap *s, const struct uidset *set, unsigned long long maxsize,
    int (*fn)(const struct fetched *, void *), int (*chunk_done)(void *),
    void *arg, struct uidset *gone)
{
	struct fetchctx c = { fn, arg, set, { NULL, 0, 0 } };
	struct uidset missing = { NULL, 0, 0 }, still = { NULL, 0, 0 };
	unsigned tags[1] = { 0 };
	int ntags = 0, r = 0;
	size_t ri = 0;
	uint32_t at = set->n ? set->r[0].lo : 0;
	char st, text[DIAG_MAX], *list;

	s->maxlit = maxsize;
	s->step = "UID FETCH";
	s->onfetch = on_fetch;
	s->fc = &c;
	for (;;) {
		/*
		 * One FETCH at a time: a server may run two at once and
		 * interleave their answers (Dovecot does), and the cursor needs
		 * the messages in UID order to strike off a prefix.  The next
		 * is sent as soon as the last is answered, before the work
		 * between them, so the server is busy meanwhile.
		 */
		if (ntags == 0 && ri < set->n) {
			if ((r = send_chunk(s, set, &ri, &at, &tags[0])) != 0)
				goto done;
			ntags = 1;
		}
		if (ntags == 0)
			break;
		if ((r = await(s, tags[0], &st, text, sizeof(text))) != 0)
			goto done;
		ntags = 0;
		if (st != 'O') {
			r = fail(s, st == 'N' ? EX_TEMPFAIL : EX_PROTOCOL,
			    "%s %s", st == 'N' ? "NO" : "BAD", text);
			goto done;
		}
		if (ri < set->n) {
			if ((r = send_chunk(s, set, &ri, &at, &tags[0])) != 0)
				goto done;
			ntags = 1;
		}
		if (chunk_done != NULL && (r = chunk_done(arg)) != 0) {
			s->broken = ntags > 0;
			goto done;
		}
	}
	/* Asked for and not sent: gone, or the server is lying. */
	uidset_union(&missing, set);
	uidset_minus(&missing, &c.got);
	if (missing.n > 0) {
		list = uidset_format(&missing, 0, missing.n, NULL);
		s->search = &still;
		s->onfetch = NULL;
		s->step = "UID SEARCH";
		r = simple(s, EX_TEMPFAIL, "UID SEARCH UID %s", list);
		free(list);
		if (r == 0 && still.n > 0) {
			list = uidset_format(&still, 0, still.n, NULL);
			s->step = "UID FETCH";
			r = fail(s, EX_PROTOCOL, "UIDs %s exist but the "
			    "server did not send them", list);
			free(list);
		}
		if (r == 0) {
			uidset_union(gone, &missing);
			uidset_minus(gone, &still);
		}
	}
done:
	s->search = NULL;
	s->onfetch = NULL;
	s->fc = NULL;
	uidset_free(&missing);
	uidset_free(&still);
	uidset_free(&c.got);
	return r;
}

int
imap_mark_seen(struct imap *s, const struct uidset *set)
{
	char *list;
	int r;

	if (set->n == 0)
		return 0;
	s->step = "UID STORE";
	list = uidset_format(set, 0, set->n, NULL);
	r = simple(s, EX_TEMPFAIL, "UID STORE %s +FLAGS.SILENT (\\Seen)", list);
	free(list);
	return r;
}

int
imap_move(struct imap *s, const struct uidset *set, const char *folder)
{
	char *list, *q;
	int r;

	if (set->n == 0)
		return 0;
	list = uidset_format(set, 0, set->n, NULL);
	q = mutf7_quoted(folder);
	if (imap_has_cap(s, "MOVE")) {
		s->step = "UID MOVE";
		r = simple(s, EX_TEMPFAIL, "UID MOVE %s %s", list, q);
	} else {
		s->step = "UID COPY";
		if ((r = simple(s, EX_TEMPFAIL, "UID COPY %s %s", list, q)) == 0) {
			s->step = "UID STORE";
			r = simple(s, EX_TEMPFAIL,
			    "UID STORE %s +FLAGS.SILENT (\\Deleted)", list);
		}
		if (r == 0 && imap_has_cap(s, "UIDPLUS")) {
			s->step = "UID EXPUNGE";
			r = simple(s, EX_TEMPFAIL, "UID EXPUNGE %s", list);
		}
	}
	free(q);
	free(list);
	return r;
}
