/*
 * Indicators out of text, in one forward pass and linear time whatever
 * the text holds (no regular expressions, so nothing to backtrack: the
 * fix Splunk SOAR's 3.4.8 had to make).
 *
 * The text is cut into tokens at white space, quotes and the characters
 * no URL carries.  It is read 64 bytes at a time (block_loop): compares
 * give a mask of each byte class the finders ask about, and bit
 * arithmetic on the masks tells, for all the tokens of the block at once,
 * which may hold an indicator (block_triggers).  Only those are looked at
 * again, from their own bytes (scan, analyse), and a token analysed
 * before in the same message is counted, not analysed again (struct
 * memo).  Defanged forms ("[.]", "(dot)", " [at] ", "hxxp") are undone on
 * a copy of the token, and the indicators found in it say so.
 */
#include <arpa/inet.h>

#include <stdint.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "artifactx.h"
#include "html.h"
#include "xalloc.h"

/*
 * Longest token looked at: longer than any URL a browser takes (64K is
 * far past the 2K most servers allow).  A longer run of bytes with no
 * space in it is read in pieces of this size.
 */
#define MAX_TOKEN	65536
/* Defang markers remembered per token. */
#define MAX_MARKS	64

enum {
	C_SEP = 1 << 0, C_DIGIT = 1 << 1, C_ALPHA = 1 << 2, C_HEX = 1 << 3,
	C_DOT = 1 << 4, C_COLON = 1 << 5, C_AT = 1 << 6, C_OPEN = 1 << 7,
	C_HIGH = 1 << 8, C_SLASH = 1 << 9, C_TRIGGER = 1 << 10,
	C_HEXRUN = 1 << 11,	/* not in the table: a token with 32 hex in a row */
	C_MARK2 = 1 << 12	/* second in a defang marker: "[.]", "(dot)" */
};

static unsigned short cls[256];

#ifdef __SSE2__
static void choose_block_masks(void);
#endif

/*
 * The classes of a token packed one bit each into a byte (token_flags
 * or-s them sixteen bytes at a time), and what each such byte means.
 */
enum {
	B_DOT = 1, B_COLON = 2, B_AT = 4, B_OPEN = 8, B_SLASH = 16,
	B_DIGIT = 32, B_ALPHA = 64, B_HIGH = 128
};
static unsigned short bits_flags[256];

struct token {
	char		 buf[MAX_TOKEN + 1];	/* the token, refanged */
	size_t		 len;
	unsigned	 flags;
	int		 defanged;
	size_t		 marks[MAX_MARKS];	/* where a "." was put back */
	int		 nmarks;
	size_t		 colons;		/* how many ':' it holds */
	size_t		 skip_from, skip_to;	/* a URL's span: no hashes */
	size_t		 authority_end;		/* where its host part ends */
};

struct ctx {
	struct iocset	*set;
	const char	*where;
	enum role	 role;		/* of the token's line */
	enum role	 fixed;		/* of the whole text (address fields) */
	long		 place;		/* where's number in set */
	struct memo	*rec;		/* what analyse() adds goes here too */
};

/*
 * Tokens seen before in the same set.  Mail says the same thing again and
 * again (a message's text and HTML alternatives, a newsletter's links, a
 * quoted reply): of the tokens analysed in the corpus, 72% are repeats.
 * What analyse() added for a token is kept, as the indicators' numbers in
 * the set, and a repeat adds them once more (iocset_again) without being
 * analysed again.  The key is all analyse() reads: the token's bytes,
 * whether a marker joined it, its line's role and the text's, the place.
 */
#define MEMO_SLOTS	4096	/* a power of 2 */
#define MEMO_LEN	512	/* longer tokens are analysed each time */
#define MEMO_ADDS	8	/* and so are tokens with more indicators */

struct memo {
	unsigned long	 epoch;		/* the set's (iocset_epoch); 0: none */
	long		 place;
	int		 role, fixed, joined;
	size_t		 len, cap;
	char		*tok;		/* cap bytes, kept for the next token */
	int		 nadds;		/* MEMO_ADDS + 1: too many */
	size_t		 adds[MEMO_ADDS];
};

static struct memo memo[MEMO_SLOTS];
/* Each slot's hash, apart: most lookups end on it, and 32K stay cached. */
static uint64_t memo_hash[MEMO_SLOTS];

/* iocset_add(), and into c->rec when a token is being memoised. */
static void
add(struct ctx *c, enum ioctype t, const char *value, size_t n, int defanged,
    enum role role, json_t *extra)
{
	long k = iocset_add(c->set, t, value, n, c->where, defanged, role, extra);
	struct memo *m = c->rec;

	if (m == NULL || k == -1)
		return;
	if (m->nadds < MEMO_ADDS)
		m->adds[m->nadds++] = (size_t)k;
	else
		m->nadds = MEMO_ADDS + 1;
}

void
scan_init(void)
{
	int c;

	for (c = 0; c < 256; c++) {
		if (c < 0x20 || c == 0x7f || strchr(" \"<>`{}|\\^'", c) != NULL)
			cls[c] |= C_SEP;
		if (c >= '0' && c <= '9')
			cls[c] |= C_DIGIT | C_HEX;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			cls[c] |= C_ALPHA;
		if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			cls[c] |= C_HEX;
		if (c >= 0x80)
			cls[c] |= C_HIGH;
	}
	cls[0] |= C_SEP;
	cls['.'] |= C_DOT;
	cls[':'] |= C_COLON;
	cls['@'] |= C_AT;
	cls['['] |= C_OPEN;
	cls['('] |= C_OPEN;
	cls['/'] |= C_SLASH;
	cls['.'] |= C_TRIGGER;
	cls[':'] |= C_TRIGGER;
	cls['@'] |= C_TRIGGER;
	cls['['] |= C_TRIGGER;
	cls['('] |= C_TRIGGER;
	for (c = 0; c < 256; c++)
		if (c != 0 && strchr(".dDaA@:/", c) != NULL)
			cls[c] |= C_MARK2;
	for (c = 0; c < 256; c++)
		bits_flags[c] = (c & B_DOT ? C_DOT : 0) |
		    (c & B_COLON ? C_COLON : 0) | (c & B_AT ? C_AT : 0) |
		    (c & B_OPEN ? C_OPEN : 0) | (c & B_SLASH ? C_SLASH : 0) |
		    (c & B_DIGIT ? C_DIGIT : 0) | (c & B_ALPHA ? C_ALPHA : 0) |
		    (c & B_HIGH ? C_HIGH : 0);
#ifdef __SSE2__
	choose_block_masks();
#endif
}

static int
alnum(unsigned char c)
{
	return (cls[c] & (C_DIGIT | C_ALPHA)) != 0;
}

/* Multi-byte characters that end a token: typographic quotes, spaces. */
static size_t
high_sep(const unsigned char *s, size_t n)
{
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0xab || s[1] == 0xbb ||
	    s[1] == 0xa0))
		return 2;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    (s[2] == 0x98 || s[2] == 0x99 || s[2] == 0x9c || s[2] == 0x9d ||
	    (s[2] >= 0x8b && s[2] <= 0x8d) || s[2] == 0xa8 || s[2] == 0xa9))
		return 3;
	if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
		return 3;
	return 0;
}

/*
 * A defang marker at s (n bytes): its length, and what it stands for in
 * *repl; 0 when there is none.
 */
static size_t
marker(const char *s, size_t n, const char **repl)
{
	static const struct {
		const char	*m;
		size_t		 len;
		const char	*r;
	} marks[] = {
		{ "[.]", 3, "." }, { "(.)", 3, "." }, { "[dot]", 5, "." },
		{ "(dot)", 5, "." }, { "[@]", 3, "@" }, { "(@)", 3, "@" },
		{ "[at]", 4, "@" }, { "(at)", 4, "@" }, { "[:]", 3, ":" },
		{ "[://]", 5, "://" }, { "[/]", 3, "/" },
	};
	size_t i;

	/* Most brackets in text are no markers: look at the next byte first. */
	if (n < 3 || !(cls[(unsigned char)s[1]] & C_MARK2))
		return 0;
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (n >= marks[i].len && s[0] == marks[i].m[0] &&
		    !strncasecmp(s, marks[i].m, marks[i].len)) {
			*repl = marks[i].r;
			return marks[i].len;
		}
	return 0;
}

/*
 * Does s[0..n) hold a defang marker?  One test a byte, on a table: an
 * opening bracket, with what a marker has second after it.
 */
static int
has_marker(const char *s, size_t n)
{
	const char *repl;
	size_t i;

	for (i = 0; i + 2 < n; i++)
		if ((cls[(unsigned char)s[i]] & C_OPEN) &&
		    (cls[(unsigned char)s[i + 1]] & C_MARK2) &&
		    marker(s + i, n - i, &repl) > 0)
			return 1;
	return 0;
}

/* Is the dot at s[k] the one of "www." (k >= 3)? */
static inline int
www_dot(const char *s, size_t k)
{
	return (s[k - 3] | 0x20) == 'w' && (s[k - 2] | 0x20) == 'w' &&
	    (s[k - 1] | 0x20) == 'w';
}

static void
tok_put(struct token *t, const char *s, size_t n)
{
	if (t->len + n > MAX_TOKEN)
		n = MAX_TOKEN - t->len;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

/* Copy s[0..n) into t, undoing defang markers. */
static void
refang(struct token *t, const char *s, size_t n)
{
	const char *repl;
	size_t i = 0, m, run;

	while (i < n && t->len < MAX_TOKEN) {
		if ((s[i] == '[' || s[i] == '(') &&
		    (m = marker(s + i, n - i, &repl)) > 0) {
			if (repl[0] == '.' && t->nmarks < MAX_MARKS)
				t->marks[t->nmarks++] = t->len;
			tok_put(t, repl, strlen(repl));
			t->defanged = 1;
			i += m;
			continue;
		}
		for (run = i + 1; run < n && s[run] != '[' && s[run] != '('; run++)
			;
		tok_put(t, s + i, run - i);
		i = run;
	}
	t->buf[t->len] = '\0';
}

static int
has_mark(const struct token *t, size_t from, size_t to)
{
	int k;

	for (k = 0; k < t->nmarks; k++)
		if (t->marks[k] >= from && t->marks[k] < to)
			return 1;
	return 0;
}

/* Is s[..at) the head of an IPv6 address ("::ffff:")? Two colons say so. */
static int
v6_tail(const char *s, size_t at)
{
	size_t k = at, colons = 0;

	while (k > 0 && ((cls[(unsigned char)s[k - 1]] & C_HEX) || s[k - 1] == ':')) {
		colons += s[k - 1] == ':';
		k--;
	}
	return colons >= 2;
}

/* IPv4 dotted quads in the token. */
static void
find_ipv4(struct ctx *c, const struct token *t)
{
	const char *s = t->buf;
	unsigned char a[4];
	size_t i, end, e;
	char val[16];
	json_t *x;

	for (i = 0; i < t->len; i++) {
		if (!(cls[(unsigned char)s[i]] & C_DIGIT))
			continue;
		if (i >= t->skip_from && i < t->skip_to) {
			/* A URL's host is added with it; its path is no place. */
			i = t->skip_to - 1;
			continue;
		}
		/* Not inside a longer token, nor the tail of an IPv6. */
		if (i > 0 && (alnum((unsigned char)s[i - 1]) || s[i - 1] == '.' ||
		    (s[i - 1] == ':' && v6_tail(s, i)))) {
			while (i < t->len && (cls[(unsigned char)s[i]] & C_DIGIT))
				i++;
			continue;
		}
		for (end = i; end < t->len && ((cls[(unsigned char)s[end]] &
		    C_DIGIT) || s[end] == '.'); end++)
			;
		for (e = end; e > i && s[e - 1] == '.'; e--)
			;
		/* Not followed by a letter or digit, nor ".x". */
		if ((end < t->len && alnum((unsigned char)s[end])) ||
		    host_ipv4(s + i, e - i, a) == -1) {
			i = end;
			continue;
		}
		snprintf(val, sizeof(val), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		x = json_object();
		json_object_set_new(x, "version", json_integer(4));
		json_object_set_new(x, "scope", json_string(host_scope4(a)));
		add(c, IOC_IP, val, strlen(val),
		    t->defanged && has_mark(t, i, e), ROLE_NONE, x);
		i = end;
	}
}

static int
is_v6char(unsigned char ch)
{
	return (cls[ch] & C_HEX) || ch == ':' || ch == '.';
}

static void
add_ipv6(struct ctx *c, const char *s, size_t n, int defanged)
{
	unsigned char a[16];
	char buf[64], out[INET6_ADDRSTRLEN];
	json_t *x;

	if (n >= sizeof(buf))
		return;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, a) != 1 ||
	    inet_ntop(AF_INET6, a, out, sizeof(out)) == NULL)
		return;
	x = json_object();
	json_object_set_new(x, "version", json_integer(6));
	json_object_set_new(x, "scope", json_string(host_scope6(a)));
	add(c, IOC_IP, out, strlen(out), defanged,
	    ROLE_NONE, x);
}

/* IPv6 addresses in the token, outside any URL. */
static void
find_ipv6(struct ctx *c, const struct token *t)
{
	const char *s = t->buf;
	size_t i, end, e, colons, z;
	int digit, dbl;

	for (i = 0; i < t->len; i++) {
		if (i >= t->skip_from && i < t->skip_to) {
			i = t->skip_to - 1;
			continue;
		}
		if (!is_v6char((unsigned char)s[i]) || s[i] == '.')
			continue;
		if (i > 0 && (alnum((unsigned char)s[i - 1]) || s[i - 1] == ':' ||
		    s[i - 1] == '.')) {
			while (i < t->len && is_v6char((unsigned char)s[i]))
				i++;
			continue;
		}
		colons = 0;
		digit = dbl = 0;
		for (end = i; end < t->len && is_v6char((unsigned char)s[end]); end++) {
			colons += s[end] == ':';
			digit |= s[end] >= '0' && s[end] <= '9';
			dbl |= s[end] == ':' && end > i && s[end - 1] == ':';
		}
		e = end;
		while (e > i && s[e - 1] == '.')
			e--;
		/* A zone (%eth0) goes with the address but not in it. */
		z = end;
		if (z < t->len && s[z] == '%')
			for (z++; z < t->len && (alnum((unsigned char)s[z]) ||
			    s[z] == '_' || s[z] == '-'); z++)
				;
		if ((z < t->len && alnum((unsigned char)s[z])) || !digit ||
		    (!dbl && colons < 7)) {
			i = end;
			continue;
		}
		add_ipv6(c, s + i, e - i, 0);
		i = z;
	}
}

/* Hex runs of hash length, outside any URL. */
static void
find_hashes(struct ctx *c, const struct token *t)
{
	const char *s = t->buf;
	char val[129];
	size_t i, end, k, len;
	const char *algo;
	json_t *x;

	/*
	 * Only runs of 32 or more count, and each holds one of every 32nd
	 * byte: look at those, and go back and on from a hex one to its
	 * run's ends.  No run starts before i.
	 */
	for (i = 0; i + 32 <= t->len; i = end) {
		if (!(cls[(unsigned char)s[i + 31]] & C_HEX)) {
			end = i + 32;
			continue;
		}
		for (k = i + 31; k > i && (cls[(unsigned char)s[k - 1]] & C_HEX); k--)
			;
		for (end = i + 32; end < t->len && (cls[(unsigned char)s[end]] & C_HEX);
		    end++)
			;
		i = k;
		len = end - i;
		if (len < 32)
			continue;
		if ((i > 0 && (alnum((unsigned char)s[i - 1]) || s[i - 1] == '_' ||
		    s[i - 1] == '-')) || (end < t->len &&
		    (alnum((unsigned char)s[end]) || s[end] == '_' || s[end] == '-')) ||
		    (len != 32 && len != 40 && len != 64 && len != 128) ||
		    (i < t->skip_to && end > t->skip_from))
			continue;
		for (k = 1; k < len && (s[i + k] | 0x20) == (s[i] | 0x20); k++)
			;
		if (k < len) {
			for (k = 0; k < len; k++)
				val[k] = (char)((cls[(unsigned char)s[i + k]] & C_ALPHA) ?
				    s[i + k] | 0x20 : s[i + k]);
			algo = len == 32 ? "md5" : len == 40 ? "sha1" :
			    len == 64 ? "sha256" : "sha512";
			x = json_object();
			json_object_set_new(x, "algo", json_string(algo));
			add(c, IOC_HASH, val, len, 0, ROLE_NONE, x);
		}
	}
}

static int
domain_char(unsigned char ch)
{
	return alnum(ch) || ch == '-' || ch == '.' || ch >= 0x80;
}

static int
local_char(unsigned char ch)
{
	/* RFC 5322 allows / = ? too; real addresses do not use them, URLs do. */
	return alnum(ch) || ch >= 0x80 || (ch != 0 && strchr(".!#$%&*+_~-", ch));
}

/* Addresses in the token, each with its domain. */
static void
find_emails(struct ctx *c, const struct token *t)
{
	const char *s = t->buf, *at;
	char dom[512], val[1024];
	size_t i = 0, l, r, e;
	enum role role = c->fixed != ROLE_NONE ? c->fixed : c->role;

	while (i < t->len && (at = memchr(s + i, '@', t->len - i)) != NULL) {
		size_t p = (size_t)(at - s);

		i = p + 1;
		if (p == 0 || s[p - 1] == '@' || p + 1 >= t->len || s[p + 1] == '@')
			continue;
		if (p >= t->skip_from && p < t->skip_to && t->authority_end > p)
			continue;	/* http://paypal.com@evil.example/ */
		for (l = p; l > 0 && local_char((unsigned char)s[l - 1]); l--)
			;
		while (l < p && s[l] == '.')
			l++;
		for (r = p + 1; r < t->len && domain_char((unsigned char)s[r]); r++)
			;
		for (e = r; e > p + 1 && (s[e - 1] == '.' || s[e - 1] == '-'); e--)
			;
		if (l == p || e == p + 1 || s[p - 1] == '.' ||
		    host_domain(s + p + 1, e - p - 1, dom, sizeof(dom)) == -1)
			continue;
		if (snprintf(val, sizeof(val), "%.*s@%s", (int)(p - l), s + l,
		    dom) >= (int)sizeof(val))
			continue;
		add(c, IOC_EMAIL, val, strlen(val),
		    t->defanged, role, NULL);
		add(c, IOC_DOMAIN, dom, strlen(dom),
		    t->defanged, ROLE_NONE, NULL);
		i = r;
	}
}

/* Strip what ends a sentence, and closing brackets that open nowhere. */
static size_t
url_trim(const char *u, size_t n)
{
	size_t i;
	int paren, bracket, brace;
	char ch;

	while (n > 0) {
		ch = u[n - 1];
		if (strchr(".,;:!?*", ch) != NULL) {
			n--;
			continue;
		}
		if (ch == ')' || ch == ']' || ch == '}') {
			paren = bracket = brace = 0;
			for (i = 0; i < n; i++) {
				paren += (u[i] == '(') - (u[i] == ')');
				bracket += (u[i] == '[') - (u[i] == ']');
				brace += (u[i] == '{') - (u[i] == '}');
			}
			if ((ch == ')' && paren < 0) || (ch == ']' && bracket < 0) ||
			    (ch == '}' && brace < 0)) {
				n--;
				continue;
			}
		}
		break;
	}
	return n;
}

/*
 * A URL starting at t->buf[at] whose scheme is the scheme bytes given
 * (NULL: "www." with none).  Adds it, its host as ip or domain; returns
 * where it ends, or at when it is not a URL.
 */
static size_t
take_url(struct ctx *c, struct token *t, size_t at, const char *scheme,
    size_t rest, int defanged)
{
	char *s = t->buf, host[512], dom[512], val[MAX_TOKEN + 16];
	size_t end, h, hend, n, o;
	unsigned char a4[4];
	int is_domain = 0;

	end = at + url_trim(s + at, t->len - at);
	/* The authority: [userinfo@]host[:port] */
	for (hend = rest; hend < end && s[hend] != '/' && s[hend] != '?' &&
	    s[hend] != '#'; hend++)
		;
	h = rest;
	{
		const char *ui = memrchr(s + rest, '@', hend - rest);

		if (ui != NULL)
			h = (size_t)(ui - s) + 1;
	}
	if (h < hend && s[h] == '[') {
		const char *cl = memchr(s + h, ']', hend - h);

		if (cl == NULL)
			return at;
		n = (size_t)(cl - s) - h - 1;
		if (n == 0 || n >= sizeof(host))
			return at;
		memcpy(host, s + h + 1, n);
		host[n] = '\0';
		{
			unsigned char a6[16];

			if (inet_pton(AF_INET6, host, a6) != 1)
				return at;
		}
		add_ipv6(c, host, n, defanged);
		o = h + n + 2;
		n = 0;
	} else {
		for (o = h; o < hend && s[o] != ':'; o++)
			;
		n = o - h;
		if (n == 0 || n >= sizeof(host))
			return at;
		memcpy(host, s + h, n);
		host[n] = '\0';
		if (host_ipv4(host, n, a4) == 0) {
			json_t *x = json_object();

			json_object_set_new(x, "version", json_integer(4));
			json_object_set_new(x, "scope", json_string(host_scope4(a4)));
			add(c, IOC_IP, host, n, defanged,
			    ROLE_NONE, x);
		} else if (host_domain(host, n, dom, sizeof(dom)) == 0) {
			add(c, IOC_DOMAIN, dom, strlen(dom),
			    defanged, ROLE_NONE, NULL);
			is_domain = 1;
		} else
			return at;
	}
	/* scheme://userinfo@ + host (lowercase) + the rest as written */
	o = 0;
	if (scheme == NULL)
		o += (size_t)snprintf(val, sizeof(val), "http://");
	else {
		for (n = 0; scheme[n] != '\0'; n++)
			val[o++] = scheme[n];
		memcpy(val + o, "://", 3);
		o += 3;
	}
	memcpy(val + o, s + rest, h - rest);
	o += h - rest;
	if (is_domain) {
		int ascii = 1;

		for (n = 0; host[n] != '\0'; n++)
			ascii &= (unsigned char)host[n] < 0x80;
		if (ascii)
			for (n = 0; host[n] != '\0'; n++)
				val[o++] = (char)((cls[(unsigned char)host[n]] &
				    C_ALPHA) ? host[n] | 0x20 : host[n]);
		else {
			memcpy(val + o, dom, strlen(dom));
			o += strlen(dom);
		}
		h += strlen(host);
	}
	if (s[h] == '[') {
		/* An IPv6 host, lowercase like any host. */
		for (; h < end && s[h] != ']'; h++)
			val[o++] = (char)((cls[(unsigned char)s[h]] & C_ALPHA) ?
			    s[h] | 0x20 : s[h]);
	}
	memcpy(val + o, s + h, end - h);
	o += end - h;
	add(c, IOC_URL, val, o, defanged, ROLE_NONE, NULL);
	t->skip_from = at;
	t->skip_to = end;
	t->authority_end = hend;
	return end;
}

/* A scheme ending at t->buf[colon] ("://" follows): http, https, ftp. */
static const char *
scheme_at(const char *s, size_t colon, size_t *start, int *defanged)
{
	static const struct {
		const char	*written;
		const char	*is;
		int		 defanged;
	} schemes[] = {
		{ "https", "https", 0 }, { "http", "http", 0 }, { "ftp", "ftp", 0 },
		{ "hxxps", "https", 1 }, { "hxxp", "http", 1 }, { "hxtps", "https", 1 },
		{ "hxtp", "http", 1 }, { "fxp", "ftp", 1 }, { "fxps", "ftps", 1 },
	};
	size_t i, len, b;

	for (b = colon; b > 0 && (cls[(unsigned char)s[b - 1]] & C_ALPHA); b--)
		;
	len = colon - b;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (len == strlen(schemes[i].written) &&
		    !strncasecmp(s + b, schemes[i].written, len)) {
			if (!strcmp(schemes[i].is, "ftps"))
				return NULL;
			*start = b;
			*defanged = schemes[i].defanged;
			return schemes[i].is;
		}
	return NULL;
}

static void
find_urls(struct ctx *c, struct token *t)
{
	const char *s = t->buf, *sc, *p, *d;
	size_t start, at;
	int def;

	t->skip_from = t->skip_to = 0;
	/* scheme://, found by memchr rather than byte by byte */
	for (p = memchr(s, ':', t->len); p != NULL;
	    p = memchr(p + 1, ':', t->len - (size_t)(p + 1 - s))) {
		if ((size_t)(p - s) + 3 > t->len || p[1] != '/' || p[2] != '/' ||
		    (sc = scheme_at(s, (size_t)(p - s), &start, &def)) == NULL)
			continue;
		take_url(c, t, start, sc, (size_t)(p - s) + 3, def || t->defanged);
		if (t->skip_to > 0)
			return;	/* one URL a token: the rest is its path */
	}
	/* www. at a word's start, with no scheme: look at the dots only */
	for (d = memchr(s, '.', t->len); d != NULL;
	    d = memchr(d + 1, '.', t->len - (size_t)(d + 1 - s))) {
		at = (size_t)(d - s);
		if (at < 3 || at + 1 >= t->len || (s[at - 1] | 0x20) != 'w' ||
		    (s[at - 2] | 0x20) != 'w' || (s[at - 3] | 0x20) != 'w' ||
		    (at > 3 && alnum((unsigned char)s[at - 4])))
			continue;
		take_url(c, t, at - 3, NULL, at - 3, t->defanged);
		if (t->skip_to > 0)
			return;
	}
}

/* Defanged names with no scheme: "evil-login[.]net". */
static void
find_bare_domains(struct ctx *c, const struct token *t)
{
	const char *s = t->buf;
	char dom[512];
	size_t i, end, e;

	for (i = 0; i < t->len; i++) {
		if (!domain_char((unsigned char)s[i]) || s[i] == '.' || s[i] == '-')
			continue;
		for (end = i; end < t->len && domain_char((unsigned char)s[end]); end++)
			;
		for (e = end; e > i && (s[e - 1] == '.' || s[e - 1] == '-'); e--)
			;
		if (has_mark(t, i, e) && !(i < t->skip_to && end > t->skip_from) &&
		    (end >= t->len || s[end] != '@') && (i == 0 || s[i - 1] != '@') &&
		    host_domain(s + i, e - i, dom, sizeof(dom)) == 0)
			add(c, IOC_DOMAIN, dom, strlen(dom),
			    1, ROLE_NONE, NULL);
		i = end;
	}
}

static void
analyse(struct ctx *c, struct token *t)
{
	unsigned f = t->flags;

	t->skip_from = t->skip_to = t->authority_end = 0;
	if ((f & C_COLON) && (f & C_SLASH))
		find_urls(c, t);
	else if ((f & C_DOT) && (f & C_ALPHA) && t->len > 4)
		find_urls(c, t);
	if ((f & C_DIGIT) && (f & C_DOT))
		find_ipv4(c, t);
	/* An IPv6 has "::" or all seven colons. */
	if ((f & C_COLON) && (f & C_DIGIT) && t->colons >= 2 &&
	    (t->skip_to == 0 || t->colons > 3) &&
	    (t->colons >= 7 || memmem(t->buf, t->len, "::", 2) != NULL))
		find_ipv6(c, t);
	if (f & C_AT)
		find_emails(c, t);
	if (f & C_HEXRUN)
		find_hashes(c, t);
	if (t->nmarks > 0)
		find_bare_domains(c, t);
}

/* Is there a spaced defang marker (" [at] ") at s[i], a space? */
static size_t
spaced_marker(const char *s, size_t n, size_t i)
{
	const char *repl;
	size_t j = i, m;

	while (j < n && s[j] == ' ' && j - i < 2)
		j++;
	if (j >= n || (s[j] != '[' && s[j] != '(') ||
	    (m = marker(s + j, n - j, &repl)) == 0)
		return 0;
	j += m;
	while (j < n && s[j] == ' ' && j - i < 8)
		j++;
	if (j >= n || (cls[(unsigned char)s[j]] & C_SEP))
		return 0;
	return j - i;
}

/* A spaced marker joining the token that ends at r to what follows. */
static inline size_t
spaced_after(const char *s, size_t n, size_t r)
{
	if (r + 2 < n && s[r] == ' ' && ((cls[(unsigned char)s[r + 1]] &
	    C_OPEN) || s[r + 1] == ' '))
		return spaced_marker(s, n, r);
	return 0;
}

/*
 * Byte classes sixteen bytes at a time, for next_trigger()'s tail and
 * token_end(), and for the SSE2 block_masks().
 */
#ifdef __SSE2__
#include <emmintrin.h>

/* Bit k set where byte k of the 16 at p is an ASCII separator. */
static inline unsigned
sep_mask(__m128i v)
{
	__m128i m, t;

	/* Control characters and space: bytes 0..0x20.  No byte >= 0x80 is
	 * in the mask: the lead bytes of high_sep()'s are lead_mask()'s. */
	m = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)),
	    _mm_set1_epi8(0x20));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\'')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('`')));
	/* '<' 0x3c and '>' 0x3e; '\\' 0x5c and '^' 0x5e: one compare each */
	t = _mm_or_si128(v, _mm_set1_epi8(2));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(t, _mm_set1_epi8('>')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(t, _mm_set1_epi8('^')));
	/* '{' '|' '}' 0x7b..0x7d and DEL 0x7f: v - 0x7b in 0..4 but not 3 */
	t = _mm_sub_epi8(v, _mm_set1_epi8(0x7b));
	t = _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(4)), t);
	t = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7e)), t);
	m = _mm_or_si128(m, t);
	return (unsigned)_mm_movemask_epi8(m);
}

/* Where a multi-byte separator (see high_sep) may start: 0xc2, 0xe2, 0xe3. */
static inline unsigned
lead_mask(__m128i v)
{
	__m128i m;

	m = _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xc2));
	/* 0xe2 and 0xe3: one compare with the low bit set */
	m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(1)),
	    _mm_set1_epi8((char)0xe3)));
	return (unsigned)_mm_movemask_epi8(m);
}

static inline unsigned
trigger_mask(__m128i v)
{
	__m128i m;

	m = _mm_cmpeq_epi8(v, _mm_set1_epi8('.'));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('@')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('[')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('(')));
	return (unsigned)_mm_movemask_epi8(m);
}

/* Bit k set where byte k of the 16 is a hex digit. */
static inline unsigned
hex_mask(__m128i v)
{
	__m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
	__m128i a = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
	    _mm_set1_epi8('a'));

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(
	    _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d),
	    _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(5)), a)));
}
#endif

#ifdef __SSE2__
/* What the scan asks of 64 bytes: bit k of each mask for byte k. */
struct block {
	uint64_t	 sep;		/* ASCII separators (multi-byte: added) */
	uint64_t	 lead;		/* where a multi-byte one may start */
	uint64_t	 dot, colon, at, open, slash;
	uint64_t	 hex;
	uint64_t	 w, da, space;	/* w W, d D a A, ' ' */
	uint64_t	 hexrun;	/* block_at(): bits in 32 hex in a row */
	uint64_t	 trig;		/* block_at(): the tokens to look at */
};

static inline uint64_t
bytes_eq(__m128i v, char c)
{
	return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v,
	    _mm_set1_epi8(c)));
}

/* The masks block_masks() or-s into, cleared one by one: GCC clears the
 * struct as a whole with a loop. */
static inline void
block_clear(struct block *b)
{
	b->sep = b->lead = b->dot = b->colon = b->at = b->open = b->slash =
	    b->hex = b->w = b->da = b->space = 0;
}

static inline __attribute__((always_inline)) void
block_masks(const char *p, struct block *b)
{
	int k;

	block_clear(b);
#pragma GCC unroll 4
	for (k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
		__m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
		int sh = 16 * k;

		b->sep |= (uint64_t)sep_mask(v) << sh;
		b->lead |= (uint64_t)lead_mask(v) << sh;
		b->dot |= bytes_eq(v, '.') << sh;
		b->colon |= bytes_eq(v, ':') << sh;
		b->at |= bytes_eq(v, '@') << sh;
		b->open |= (bytes_eq(v, '[') | bytes_eq(v, '(')) << sh;
		b->slash |= bytes_eq(v, '/') << sh;
		b->hex |= (uint64_t)hex_mask(v) << sh;
		b->w |= bytes_eq(lower, 'w') << sh;
		b->da |= (bytes_eq(lower, 'd') | bytes_eq(lower, 'a')) << sh;
		b->space |= bytes_eq(v, ' ') << sh;
	}
}

#ifdef __x86_64__
#include <immintrin.h>

/*
 * block_masks() thirty-two bytes at a time, for the processors that have
 * AVX2 (nearly all x86-64 since 2013); scan_init() chooses.  The same
 * tests as sep_mask(), lead_mask() and hex_mask(), on twice the bytes.
 */
static inline __attribute__((target("avx2"), always_inline)) void
block_masks_avx2(const char *p, struct block *b)
{
#define EQ(v, c)	_mm256_cmpeq_epi8((v), _mm256_set1_epi8((char)(c)))
#define BITS(m)		((uint64_t)(uint32_t)_mm256_movemask_epi8(m))
	int k;

	block_clear(b);
#pragma GCC unroll 2
	for (k = 0; k < 2; k++) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
		__m256i m, t, d, a;
		int sh = 32 * k;

		m = EQ(_mm256_max_epu8(v, _mm256_set1_epi8(0x20)), 0x20);
		m = _mm256_or_si256(m, EQ(v, '"'));
		m = _mm256_or_si256(m, EQ(v, '\''));
		m = _mm256_or_si256(m, EQ(v, '`'));
		t = _mm256_or_si256(v, _mm256_set1_epi8(2));
		m = _mm256_or_si256(m, EQ(t, '>'));
		m = _mm256_or_si256(m, EQ(t, '^'));
		t = _mm256_sub_epi8(v, _mm256_set1_epi8(0x7b));
		t = _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(4)), t);
		t = _mm256_andnot_si256(EQ(v, 0x7e), t);
		b->sep |= BITS(_mm256_or_si256(m, t)) << sh;
		b->lead |= BITS(_mm256_or_si256(EQ(v, 0xc2),
		    EQ(_mm256_or_si256(v, _mm256_set1_epi8(1)), 0xe3))) << sh;
		b->dot |= BITS(EQ(v, '.')) << sh;
		b->colon |= BITS(EQ(v, ':')) << sh;
		b->at |= BITS(EQ(v, '@')) << sh;
		b->open |= BITS(_mm256_or_si256(EQ(v, '['), EQ(v, '('))) << sh;
		b->slash |= BITS(EQ(v, '/')) << sh;
		d = _mm256_sub_epi8(v, _mm256_set1_epi8('0'));
		a = _mm256_sub_epi8(_mm256_or_si256(v, _mm256_set1_epi8(0x20)),
		    _mm256_set1_epi8('a'));
		b->hex |= BITS(_mm256_or_si256(
		    _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d),
		    _mm256_cmpeq_epi8(_mm256_min_epu8(a, _mm256_set1_epi8(5)), a))) << sh;
		t = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
		b->w |= BITS(EQ(t, 'w')) << sh;
		b->da |= BITS(_mm256_or_si256(EQ(t, 'd'), EQ(t, 'a'))) << sh;
		b->space |= BITS(EQ(v, ' ')) << sh;
	}
#undef EQ
#undef BITS
}

/*
 * block_masks() sixty-four bytes at once, for the processors that have
 * AVX-512BW (Intel since 2017, AMD since Zen 4): its compares give the
 * 64-bit masks themselves.  The same tests again.
 */
static inline __attribute__((target("avx512bw"), always_inline)) void
block_masks_avx512(const char *p, struct block *b)
{
#define EQ(v, c)	_mm512_cmpeq_epi8_mask((v), _mm512_set1_epi8((char)(c)))
#define LE(v, c)	_mm512_cmple_epu8_mask((v), _mm512_set1_epi8((char)(c)))
	__m512i v = _mm512_loadu_si512((const void *)p);
	__m512i t = _mm512_or_si512(v, _mm512_set1_epi8(2));
	__m512i brace = _mm512_sub_epi8(v, _mm512_set1_epi8(0x7b));
	__m512i d = _mm512_sub_epi8(v, _mm512_set1_epi8('0'));
	__m512i a = _mm512_sub_epi8(_mm512_or_si512(v, _mm512_set1_epi8(0x20)),
	    _mm512_set1_epi8('a'));

	/* 0..0x20, " ' ` < > \ ^, and { | } DEL (0x7b..0x7f but not ~) */
	b->sep = LE(v, 0x20) | EQ(v, '"') | EQ(v, '\'') | EQ(v, '`') |
	    EQ(t, '>') | EQ(t, '^') | (LE(brace, 4) & ~EQ(v, 0x7e));
	b->lead = EQ(v, 0xc2) | EQ(_mm512_or_si512(v, _mm512_set1_epi8(1)), 0xe3);
	b->dot = EQ(v, '.');
	b->colon = EQ(v, ':');
	b->at = EQ(v, '@');
	b->open = EQ(v, '[') | EQ(v, '(');
	b->slash = EQ(v, '/');
	b->hex = LE(d, 9) | LE(a, 5);
	t = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
	b->w = EQ(t, 'w');
	b->da = EQ(t, 'd') | EQ(t, 'a');
	b->space = EQ(v, ' ');
#undef EQ
#undef LE
}
#endif


/* The bits from the first of x in each run of t's to the run's end. */
static inline uint64_t
fill(uint64_t t, uint64_t x)
{
	return (t & ~(t + x)) | x;
}

/*
 * The triggers of a block worth looking at.  A token that lies inside the
 * block is looked at only if it holds what some finder needs, and that is
 * asked of all its tokens at once, by bit arithmetic on the masks: an '@',
 * a hex run, a bracket that may open a defang marker, "://", "::", three
 * colons (an IPv6 has "::" or seven), three dots (an IPv4), "www.", or a
 * space after it that may join it to a marker (spaced_after).  The rest
 * are what nothing_in() lets go; so are they here, without a look each.
 * The first and last tokens may go on beyond the block: all their triggers
 * count, and block_loop() looks at them as before.
 */
static inline __attribute__((always_inline)) uint64_t
block_triggers(const struct block *b)
{
	uint64_t t = ~b->sep, all, edge, ends, d2, d3, c2, c3, want, j;
	const uint64_t top = (uint64_t)1 << 63;

	all = b->dot | b->colon | b->at | b->open | b->hexrun;
	if (all == 0)
		return 0;
	if (b->sep == 0)
		return all;
	edge = (t & ((b->sep & -b->sep) - 1)) |
	    (t & ~((top >> __builtin_clzll(b->sep) << 1) - 1));
	ends = t & ~(t >> 1);
	d2 = b->dot & (fill(t, b->dot) << 1);
	d3 = d2 & (fill(t, d2) << 1);
	c2 = b->colon & (fill(t, b->colon) << 1);
	c3 = c2 & (fill(t, c2) << 1);
	/* a space at k, then what spaced_after() looks for (unknown at 63) */
	j = b->space & (((b->open | b->space) >> 1) | top);
	want = b->at | b->hexrun | d3 | c3 |
	    (b->open & ((b->dot | b->at | b->colon | b->slash | b->da) >> 1)) |
	    (b->colon & (b->slash >> 1) & (b->slash >> 2)) |
	    (b->colon & (b->colon >> 1)) |
	    (b->dot & (b->w << 1) & (b->w << 2) & (b->w << 3)) |
	    (ends & (j >> 1) & fill(t, all));
	return (all & edge) | (want & ~edge);
}

/*
 * A block's masks as the scan uses them: separators with the multi-byte
 * ones added, and the runs of 32 hex digits.  *carry holds the bytes of
 * a multi-byte separator that the last block began, *run the hex digits
 * it ended with; both are moved on to the end of this block.
 */
static inline __attribute__((always_inline)) void
block_at(const char *s, size_t i, size_t n, struct block *b, uint64_t *carry,
    size_t *run, void (*block_masks_of)(const char *, struct block *))
{
	uint64_t m, x;
	size_t hs;
	unsigned k;

	block_masks_of(s + i, b);
	b->sep |= *carry;
	*carry = 0;
	for (m = b->lead; m != 0; m &= m - 1) {
		k = (unsigned)__builtin_ctzll(m);
		if ((hs = high_sep((const unsigned char *)s + i + k, n - i - k)) == 0)
			continue;
		b->sep |= (((uint64_t)1 << hs) - 1) << k;
		if (k + hs > 64)
			*carry |= (((uint64_t)1 << hs) - 1) >> (64 - k);
	}
	/* A run that goes on from the last block, and those that lie in
	 * this one (bit k of x: hex digits k..k+31). */
	b->hexrun = 0;
	x = ~b->hex == 0 ? 64 : (uint64_t)__builtin_ctzll(~b->hex);
	if (*run + x >= 32)
		b->hexrun |= *run >= 32 ? 1 : (uint64_t)1 << (32 - *run - 1);
	x = b->hex;
	x &= x >> 1;
	x &= x >> 2;
	x &= x >> 4;
	x &= x >> 8;
	x &= x >> 16;
	b->hexrun |= x << 31;
	*run = ~b->hex == 0 ? *run + 64 : (size_t)__builtin_clzll(~b->hex);
	b->trig = block_triggers(b);
}

/* The masks of the 64 bytes from bit l of a (l < 64) into b. */
static inline void
window(const struct block *a, const struct block *b, unsigned l,
    struct block *w)
{
	if (l == 0) {
		*w = *a;
		return;
	}
#define W(f)	w->f = (a->f >> l) | (b->f << (64 - l))
	W(dot); W(colon); W(at); W(open); W(slash); W(hexrun);
#undef W
}

/*
 * nothing_in() for the token of len bytes at tok, bit k of w's masks for
 * tok[k], asked of the masks rather than of the bytes.
 */
static inline __attribute__((always_inline)) int
window_nothing_in(const char *tok, size_t len, const struct block *w)
{
	uint64_t R = ((uint64_t)1 << len) - 1;
	uint64_t d = w->dot & R, c = w->colon & R, m;
	const char *repl;
	size_t k, n;

	if (((w->at | w->hexrun) & R) || (c != 0 && (w->slash & R)))
		return 0;
	for (m = w->open & R; m != 0; m &= m - 1) {
		k = (size_t)__builtin_ctzll(m);
		if (k + 2 < len && (cls[(unsigned char)tok[k + 1]] & C_MARK2) &&
		    marker(tok + k, len - k, &repl) > 0)
			return 0;
	}
	if (c & (c >> 1))
		return 0;	/* "::" */
	for (n = 0, m = c; m != 0 && n < 7; m &= m - 1)
		n++;
	if (n >= 7)
		return 0;
	for (n = 0, m = d; m != 0; m &= m - 1) {
		k = (size_t)__builtin_ctzll(m);
		if (++n >= 3 || (k >= 3 && k + 1 < len && www_dot(tok, k)))
			return 0;
	}
	return 1;
}

/*
 * next_trigger() sixty-four bytes at a time, for as long as 64 are left.
 * A token shorter than 64 bytes that starts in a block (and ends in it or
 * in the next) and that nothing_in() would let go is let go here, from
 * the blocks' masks, without leaving the loop; *passed is moved past it.
 * Returns 1 with *at on a trigger the caller must look at, or 0 with *at
 * where the blocks stopped, fewer than 64 bytes before the end, and *run
 * the hex digits in a row before it.
 */
static inline __attribute__((always_inline)) int
block_loop(const char *s, size_t *at, size_t n, size_t *lastsep,
    size_t *end, size_t *passed, size_t *run,
    void (*block_masks_of)(const char *, struct block *))
{
	/* This block, the next one when a token goes on into it, the last. */
	struct block bk[3], *a = &bk[0], *b = &bk[1], *prev = &bk[2], *t, w;
	uint64_t carry = 0, trig, below, above, skip = 0;
	size_t i = *at, l, len, from, to;
	unsigned p;
	int have_next = 0, have_prev = 0;

	for (; i + 64 <= n; i += 64) {
		if (!have_next)
			block_at(s, i, n, a, &carry, run, block_masks_of);
		have_next = 0;
		/* Triggers of a token let go in the last block are past. */
		trig = a->trig & ~skip;
		skip = 0;
		while (trig != 0) {
			p = (unsigned)__builtin_ctzll(trig);
			below = a->sep & (((uint64_t)1 << p) - 1);
			above = a->sep & ~(((uint64_t)2 << p) - 1);
			if (below != 0) {
				*lastsep = i + 63 - (size_t)__builtin_clzll(below);
				l = *lastsep + 1 - i;
				if (above != 0) {
					len = (size_t)__builtin_ctzll(above) - l;
					window(a, a, (unsigned)l, &w);
				} else {
					/* It goes on into the next block. */
					if (i + 128 > n)
						goto caller;
					block_at(s, i + 64, n, b, &carry, run,
					    block_masks_of);
					have_next = 1;
					if (b->sep == 0 || (len = 64 - l +
					    (size_t)__builtin_ctzll(b->sep)) >= 64)
						goto caller;
					window(a, b, (unsigned)l, &w);
				}
			} else {
				/* It began in the last block, past its first byte
				 * (its bytes there hold no trigger). */
				if (!have_prev || above == 0 ||
				    *lastsep == (size_t)-1 || *lastsep + 64 < i)
					goto caller;
				l = *lastsep + 1 - (i - 64);	/* 64: a's start */
				len = 64 - l + (size_t)__builtin_ctzll(above);
				if (len >= 64)
					goto caller;
				if (l == 64)
					window(a, a, 0, &w);
				else
					window(prev, a, (unsigned)l, &w);
			}
			from = *lastsep + 1;
			to = from + len;
			if (!window_nothing_in(s + from, len, &w) ||
			    spaced_after(s, n, to) > 0) {
				*end = to;
				goto caller;
			}
			*passed = to;
			if (to >= i + 64) {
				skip = ((uint64_t)1 << (to - i - 64)) - 1;
				break;
			}
			trig &= ~(((uint64_t)1 << (to - i)) - 1);
		}
		if (a->sep != 0)
			*lastsep = i + 63 - (size_t)__builtin_clzll(a->sep);
		t = prev;
		prev = a;
		if (have_next) {
			a = b;
			b = t;
		} else
			a = t;
		have_prev = 1;
	}
	/* A multi-byte separator the last block began. */
	if (carry != 0) {
		*lastsep = i + 63 - (size_t)__builtin_clzll(carry);
		i += 64 - (size_t)__builtin_clzll(carry);
		*run = 0;
	}
	*at = i;
	return 0;
caller:
	*at = i + p;
	return 1;
}

/* The loop built three times, each with its block_masks inlined: SSE2,
 * AVX2 and AVX-512BW; scan_init chooses the widest the processor runs. */
static int
next_block_trigger_sse2(const char *s, size_t *at, size_t n, size_t *lastsep,
    size_t *end, size_t *passed, size_t *run)
{
	return block_loop(s, at, n, lastsep, end, passed, run, block_masks);
}

#ifdef __x86_64__
static __attribute__((target("avx2"))) int
next_block_trigger_avx2(const char *s, size_t *at, size_t n, size_t *lastsep,
    size_t *end, size_t *passed, size_t *run)
{
	return block_loop(s, at, n, lastsep, end, passed, run, block_masks_avx2);
}

static __attribute__((target("avx512bw"))) int
next_block_trigger_avx512(const char *s, size_t *at, size_t n,
    size_t *lastsep, size_t *end, size_t *passed, size_t *run)
{
	return block_loop(s, at, n, lastsep, end, passed, run,
	    block_masks_avx512);
}
#endif

static int (*next_block_trigger)(const char *, size_t *, size_t, size_t *,
    size_t *, size_t *, size_t *) = next_block_trigger_sse2;

/*
 * The widest loop the processor runs; ARTIFACTX_SIMD=avx2 or sse2 keeps
 * a narrower one (see artifactx.1).
 */
static void
choose_block_masks(void)
{
#ifdef __x86_64__
	const char *v = getenv("ARTIFACTX_SIMD");
	int most = 3;	/* any other value: the widest */

	if (v != NULL && !strcmp(v, "sse2"))
		most = 1;
	else if (v != NULL && !strcmp(v, "avx2"))
		most = 2;

	if (most >= 3 && __builtin_cpu_supports("avx512bw"))
		next_block_trigger = next_block_trigger_avx512;
	else if (most >= 2 && __builtin_cpu_supports("avx2"))
		next_block_trigger = next_block_trigger_avx2;
#endif
}
#endif

/*
 * The next byte that can be part of an indicator, at or after i: one of
 * . : @ [ (, or the 32nd hex digit in a row, in a token that may hold
 * one.  Every IP, URL, address and defang marker holds one of the five,
 * and every hash is such a run.  The text is read 64 bytes at a time
 * (next_block_trigger), and the last bytes 16 and then one at a time.
 * *lastsep is moved to the last separator byte before it, so the token
 * around it is known without looking back; *end to where it ends, when
 * that is known; *passed past the tokens let go on the way.  A call
 * starts at a token's edge, so a hex run starts there too.
 */
static size_t
next_trigger(const char *s, size_t i, size_t n, size_t *lastsep, size_t *end,
    size_t *passed)
{
	size_t k, run = 0;	/* hex digits in a row before s[i] */
	unsigned cl;

	*end = (size_t)-1;
#ifdef __SSE2__
	if (next_block_trigger(s, &i, n, lastsep, end, passed, &run))
		return i;
#else
	(void)passed;
#endif

	for (;;) {
#ifdef __SSE2__
		while (i + 16 <= n) {
			__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
			unsigned tm, sm, hm, lead;

			if (lead_mask(v) != 0)
				break;	/* maybe a UTF-8 separator: byte by byte */
			tm = trigger_mask(v);
			sm = sep_mask(v);
			hm = hex_mask(v);
			/* Runs of 32 begin in an earlier chunk: one that began
			 * here is 16 long at most. */
			lead = (unsigned)__builtin_ctz(~hm | 0x10000u);
			if (run + lead >= 32)
				tm |= 1u << (32 - run - 1);
			if (tm != 0) {
				unsigned p = (unsigned)__builtin_ctz(tm);
				unsigned below = sm & ((1u << p) - 1);
				unsigned above = sm & ~((2u << p) - 1);

				if (below != 0)
					*lastsep = i + 31 - (size_t)__builtin_clz(below);
				/* Most tokens end in the same sixteen bytes. */
				if (above != 0)
					*end = i + (size_t)__builtin_ctz(above);
				return i + p;
			}
			run = hm == 0xffff ? run + 16 :
			    (size_t)__builtin_clz(~(hm << 16));
			if (sm != 0)
				*lastsep = i + 31 - (size_t)__builtin_clz(sm);
			i += 16;
		}
#endif
		/* Sixteen bytes (or the rest) one at a time. */
		for (k = 0; k < 16 && i < n; k++) {
			cl = cls[(unsigned char)s[i]];
			run = (cl & C_HEX) ? run + 1 : 0;
			if ((cl & C_TRIGGER) || run >= 32)
				return i;
			if (cl & C_SEP)
				*lastsep = i;
			else if (cl & C_HIGH) {
				size_t hs = high_sep((const unsigned char *)s + i, n - i);

				if (hs > 0) {
					*lastsep = i + hs - 1;
					i += hs;
					run = 0;
					continue;
				}
			}
			i++;
		}
		if (i >= n)
			return n;
	}
}

/* Where the token that holds s[i] ends: the next separator, or n. */
static size_t
token_end(const char *s, size_t i, size_t n)
{
	unsigned cl;

	for (;;) {
#ifdef __SSE2__
		while (i + 16 <= n) {
			__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
			unsigned stop = sep_mask(v) | lead_mask(v);

			if (stop != 0) {
				i += (size_t)__builtin_ctz(stop);
				break;
			}
			i += 16;
		}
#endif
		if (i >= n)
			return n;
		cl = cls[(unsigned char)s[i]];
		if (cl & C_SEP)
			return i;
		if ((cl & C_HIGH) && high_sep((const unsigned char *)s + i, n - i) > 0)
			return i;
		i++;
	}
}

/* Is s[at..) a token char, not a separator (one- or multi-byte)? */
static inline int
token_byte(const char *s, size_t n, size_t at)
{
	unsigned cl = cls[(unsigned char)s[at]];

	if (cl & C_SEP)
		return 0;
	if ((cl & C_HIGH) && high_sep((const unsigned char *)s + at, n - at) > 0)
		return 0;
	return 1;
}

/*
 * Does a separator end just before s[at], looking no further back than b?
 * A multi-byte one is known by its lead byte, so it is looked for there.
 */
static int
sep_ends(const char *s, size_t b, size_t at)
{
	const unsigned char *u = (const unsigned char *)s;

	if (cls[u[at - 1]] & C_SEP)
		return 1;
	if (u[at - 1] < 0x80)
		return 0;
	return (at >= b + 2 && high_sep(u + at - 2, 2) == 2) ||
	    (at >= b + 3 && high_sep(u + at - 3, 3) == 3);
}

/*
 * The role of the line that starts at b and holds s[at]: a forwarded
 * "From:" block's.
 */
static enum role
line_role(const char *s, size_t b, size_t at)
{
	size_t e;

	while (b < at && (s[b] == ' ' || s[b] == '\t' || s[b] == '>'))
		b++;
	for (e = b; e < at && s[e] != ':' && s[e] != ' '; e++)
		;
	if (e >= at || s[e] != ':')
		return ROLE_NONE;
	switch (e - b) {
	case 4:
		return !strncasecmp(s + b, "from", 4) ? ROLE_FROM : ROLE_NONE;
	case 6:
		return !strncasecmp(s + b, "sender", 6) ? ROLE_FROM : ROLE_NONE;
	case 8:
		return !strncasecmp(s + b, "reply-to", 8) ? ROLE_FROM : ROLE_NONE;
	case 2:
		return !strncasecmp(s + b, "to", 2) || !strncasecmp(s + b, "cc", 2) ?
		    ROLE_TO : ROLE_NONE;
	case 3:
		return !strncasecmp(s + b, "bcc", 3) ? ROLE_TO : ROLE_NONE;
	}
	return ROLE_NONE;
}

/* Does s[l..r) end with a defang marker? */
static int
ends_marker(const char *s, size_t l, size_t r)
{
	const char *repl;
	size_t k;

	if (s[r - 1] != ']' && s[r - 1] != ')')
		return 0;
	for (k = r - 1; k > l && r - k < 6; k--)
		if ((s[k - 1] == '[' || s[k - 1] == '(') &&
		    marker(s + k - 1, r - k + 1, &repl) == r - k + 1)
			return 1;
	return 0;
}

/*
 * What the token s[l..r) may hold: the classes of its bytes that the
 * finders ask about, and C_HEXRUN for 32 hex digits in a row (a hash);
 * and how many colons it has (an IPv6 address has two to seven).
 * Sixteen bytes at a time, the last sixteen masked to the token when the
 * text goes on that far (n is the text's length).
 */
static unsigned
token_flags(const char *s, size_t l, size_t r, size_t n, size_t *colons)
{
	unsigned f = 0, cl;
	size_t k = l, run = 0;

	*colons = 0;
#ifndef __SSE2__
	(void)n;
#else
	/* ones + 16 - j: j bytes of 0xff, then zeros. */
	static const unsigned char ones[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	__m128i acc = _mm_setzero_si128();
	int hex = r - l >= 32;

	for (; k < r && k + 16 <= n; k += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + k));
		unsigned live = r - k >= 16 ? 0xffff : (1u << (r - k)) - 1, cm;
		__m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
		__m128i a = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
		    _mm_set1_epi8('a'));
		__m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
		__m128i m, colon;

		m = _mm_and_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')),
		    _mm_set1_epi8(B_DOT));
		colon = _mm_cmpeq_epi8(v, _mm_set1_epi8(':'));
		m = _mm_or_si128(m, _mm_and_si128(colon, _mm_set1_epi8(B_COLON)));
		m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(v,
		    _mm_set1_epi8('@')), _mm_set1_epi8(B_AT)));
		m = _mm_or_si128(m, _mm_and_si128(_mm_or_si128(
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('[')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('('))), _mm_set1_epi8(B_OPEN)));
		m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(v,
		    _mm_set1_epi8('/')), _mm_set1_epi8(B_SLASH)));
		m = _mm_or_si128(m, _mm_and_si128(digit, _mm_set1_epi8(B_DIGIT)));
		m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(_mm_min_epu8(a,
		    _mm_set1_epi8(25)), a), _mm_set1_epi8(B_ALPHA)));
		/* B_HIGH is the top bit: the byte's own. */
		m = _mm_or_si128(m, _mm_and_si128(v, _mm_set1_epi8((char)B_HIGH)));
		if (live != 0xffff)
			m = _mm_and_si128(m, _mm_loadu_si128((const __m128i *)
			    (ones + 16 - (r - k))));
		acc = _mm_or_si128(acc, m);
		/* A chunk holds a colon or two at most, mostly none. */
		for (cm = live & (unsigned)_mm_movemask_epi8(colon); cm != 0;
		    cm &= cm - 1)
			(*colons)++;
		if (hex && !(f & C_HEXRUN)) {
			unsigned hm = live & (unsigned)_mm_movemask_epi8(
			    _mm_or_si128(digit, _mm_cmpeq_epi8(_mm_min_epu8(a,
			    _mm_set1_epi8(5)), a)));
			unsigned gaps = ~hm & 0xffff;

			if (gaps == 0)
				run += 16;
			else {
				if (run + (size_t)__builtin_ctz(gaps) >= 32)
					f |= C_HEXRUN;
				run = (size_t)__builtin_clz(gaps) - 16;
			}
			if (run >= 32)
				f |= C_HEXRUN;
		}
	}
	acc = _mm_or_si128(acc, _mm_srli_si128(acc, 8));
	acc = _mm_or_si128(acc, _mm_srli_si128(acc, 4));
	acc = _mm_or_si128(acc, _mm_srli_si128(acc, 2));
	acc = _mm_or_si128(acc, _mm_srli_si128(acc, 1));
	f |= bits_flags[_mm_cvtsi128_si32(acc) & 0xff];
#endif
	for (; k < r; k++) {
		cl = cls[(unsigned char)s[k]];
		f |= cl;
		*colons += s[k] == ':';
		run = (cl & C_HEX) ? run + 1 : 0;
		if (run == 32)
			f |= C_HEXRUN;
	}
	return f;
}

/*
 * Tokens that hold a trigger and still no indicator, by far the most
 * that pass the first test ("Subject:", "font-size:12.0pt;", "12:30:25",
 * ".btn", "(see", "end."): what each finder in analyse() needs is
 * missing.  An address needs an '@', a hash a hex run, a defanged name a
 * marker (unless joined), a URL "://" (a colon and a slash) or "www.", an
 * IPv4 three dots, an IPv6 "::" or seven colons.  colons: how many.
 */
static int
nothing_in(const char *s, size_t n, unsigned f, size_t colons)
{
	size_t k, dots = 0;

	if ((f & (C_AT | C_HEXRUN)) || ((f & C_COLON) && (f & C_SLASH)))
		return 0;
	if ((f & C_OPEN) && has_marker(s, n))
		return 0;
	if (colons >= 2 && (colons >= 7 || memmem(s, n, "::", 2) != NULL))
		return 0;
	for (k = 0; k < n; k++)
		if (s[k] == '.' && (++dots >= 3 ||
		    (k >= 3 && k + 1 < n && www_dot(s, k))))
			return 0;
	return 1;
}

/*
 * Has the token tok[0..len) been analysed before in this set, with the
 * same key (see struct memo)?  Then its indicators are counted again and
 * 1 returned.  Otherwise *slot is where it may be kept (NULL: it may not),
 * by remember() once it is known to be worth analysing.
 */
static int
seen_before(struct ctx *c, const char *tok, size_t len, int joined,
    struct memo **slot, uint64_t *hash)
{
	struct memo *m;
	uint64_t h;
	int k;

	*slot = NULL;
	if (len > MEMO_LEN || c->place == -1)
		return 0;
	h = XXH3_64bits_withSeed(tok, len, (uint64_t)c->place << 8 |
	    (uint64_t)c->role << 4 | (uint64_t)c->fixed << 1 | (uint64_t)joined);
	m = &memo[h & (MEMO_SLOTS - 1)];
	if (memo_hash[h & (MEMO_SLOTS - 1)] == h &&
	    m->epoch == iocset_epoch(c->set) && m->len == len &&
	    m->place == c->place && m->role == (int)c->role &&
	    m->fixed == (int)c->fixed && m->joined == joined &&
	    !memcmp(m->tok, tok, len)) {
		for (k = 0; k < m->nadds; k++)
			iocset_again(c->set, m->adds[k]);
		return 1;
	}
	*slot = m;
	*hash = h;
	return 0;
}

/* Keep the token in slot m; analyse() then records into it (c->rec). */
static void
remember(struct ctx *c, struct memo *m, uint64_t h, const char *tok,
    size_t len, int joined)
{
	if (m->cap < len) {
		free(m->tok);
		m->cap = len < 64 ? 64 : len;
		m->tok = xmalloc(m->cap);
	}
	memcpy(m->tok, tok, len);
	m->epoch = 0;	/* until analyse() is done */
	memo_hash[h & (MEMO_SLOTS - 1)] = h;
	m->len = len;
	m->place = c->place;
	m->role = (int)c->role;
	m->fixed = (int)c->fixed;
	m->joined = joined;
	m->nadds = 0;
	c->rec = m;
}

static void
scan(struct ctx *c, const char *s, size_t n)
{
	static struct token tok;	/* one scan at a time */
	struct token *t = &tok;
	size_t i = 0, lo = 0, l, r, k, m, sp, q, line = 0, seen = 0;
	size_t lastsep = (size_t)-1, end, colons, passed = 0;
	struct memo *slot;
	uint64_t h;
	const char *repl;
	enum role role = ROLE_NONE;
	unsigned f;
	int joined, line_known = 0;

	while ((i = next_trigger(s, i, n, &lastsep, &end, &passed)) < n) {
		if (passed > lo)
			lo = passed;	/* tokens let go on the way */
		/* The token around the trigger, not reaching back past lo. */
		l = lastsep + 1 > lo ? lastsep + 1 : lo;
		if (l > i)
			l = i;
		if (i - l >= MAX_TOKEN)
			l = i - (MAX_TOKEN - 1);
		joined = 0;
		/* "victim [at] example": a marker joins the word before it. */
		if (l > lo + 1 && s[l - 1] == ' ' && (s[l] == '[' || s[l] == '(') &&
		    marker(s + l, n - l, &repl) > 0) {
			for (q = l - 1; q > lo && s[q - 1] == ' ' && l - q < 2; q--)
				;
			if (q > lo && !sep_ends(s, lo, q)) {
				for (l = q; l > lo && !sep_ends(s, lo, l) &&
				    i - l < MAX_TOKEN; l--)
					;
				joined = 1;
			}
		}
		for (r = i;;) {
			/* Never look past the longest token: a run with no
			 * space in it must not be read again for each piece. */
			if (end != (size_t)-1 && r == i)
				r = end;
			else
				r = token_end(s, r, n - l > MAX_TOKEN ? l + MAX_TOKEN : n);
			if (r - l > MAX_TOKEN)
				r = l + MAX_TOKEN;
			if ((sp = spaced_after(s, n, r)) > 0 && r - l < MAX_TOKEN) {
				r += sp;
				joined = 1;
				continue;
			}
			/* "[at] example": a marker joins the word after it. */
			if (r + 1 < n && s[r] == ' ' && r > l && ends_marker(s, l, r)) {
				for (q = r; q < n && s[q] == ' ' && q - r < 2; q++)
					;
				if (q < n && token_byte(s, n, q)) {
					r = q;
					joined = 1;
					continue;
				}
			}
			break;
		}
		lo = i = r > i ? r : i + 1;
		lastsep = i - 1;
		if (r <= l)
			continue;
		/* An address takes its line's role: a forwarded "From:". */
		if (c->fixed == ROLE_NONE && memchr(s + l, '@', r - l) != NULL) {
			/* Lines are found once each: tokens come in order. */
			const char *nl = l > seen ? memrchr(s + seen, '\n', l - seen) :
			    NULL;

			if (nl != NULL || !line_known) {
				line = nl ? (size_t)(nl - s) + 1 : line;
				role = line_role(s, line, l);
				line_known = 1;
			}
			seen = l;
			c->role = role;
		} else
			c->role = ROLE_NONE;
		if (seen_before(c, s + l, r - l, joined, &slot, &h))
			continue;
		f = token_flags(s, l, r, n, &colons);
		if (!(f & (C_DOT | C_COLON | C_AT | C_OPEN | C_HEXRUN)))
			continue;
		if (!joined && nothing_in(s + l, r - l, f, colons))
			continue;
		if (slot != NULL)
			remember(c, slot, h, s + l, r - l, joined);
		t->len = 0;
		t->nmarks = 0;
		t->defanged = 0;
		t->flags = f;
		t->colons = colons;
		if (joined || ((f & C_OPEN) && has_marker(s + l, r - l))) {
			/* Spaces around a joined marker go; the marker is undone. */
			size_t j = l;

			while (j < r && t->len < MAX_TOKEN) {
				if (s[j] == ' ' && (m = spaced_marker(s, r, j)) > 0) {
					for (q = j; s[q] == ' '; q++)
						;
					refang(t, s + q, m - (q - j));
					while (t->len > 0 && t->buf[t->len - 1] == ' ')
						t->len--;
					j += m;
					continue;
				}
				for (k = j; k < r && s[k] != ' '; k++)
					;
				refang(t, s + j, k - j);
				j = k;
				while (j < r && s[j] == ' ' && spaced_marker(s, r, j) == 0)
					j++;
			}
			t->buf[t->len] = '\0';
			/* What the undone markers put back counts too. */
			for (t->colons = 0, k = 0; k < t->len; k++) {
				t->flags |= cls[(unsigned char)t->buf[k]];
				t->colons += t->buf[k] == ':';
			}
		} else {
			tok_put(t, s + l, r - l);
			t->buf[t->len] = '\0';
		}
		analyse(c, t);
		if (c->rec != NULL) {
			if (c->rec->nadds <= MEMO_ADDS)
				c->rec->epoch = iocset_epoch(c->set);
			c->rec = NULL;
		}
	}
}

void
scan_text(struct iocset *set, const char *s, size_t n, const char *where)
{
	struct ctx c = { set, where, ROLE_NONE, ROLE_NONE,
	    iocset_place(set, where), NULL };

	scan(&c, s, n);
}

void
scan_address(struct iocset *set, const char *s, size_t n, const char *where,
    enum role role)
{
	struct ctx c = { set, where, ROLE_NONE, role, iocset_place(set, where),
	    NULL };

	scan(&c, s, n);
}

/*
 * A forwarded header block in HTML puts its label and its address in
 * separate runs ("<b>From:</b> boss@x"): a run that is only a label
 * gives its role to the text after it, up to the next block.
 */
static void
on_html_text(void *arg, const char *s, size_t n)
{
	struct ctx *c = arg;
	size_t b = 0, e = n;
	enum role r;

	while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' ||
	    s[b] == '\r'))
		b++;
	while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' ||
	    s[e - 1] == '\n' || s[e - 1] == '\r'))
		e--;
	if (e > b && s[e - 1] == ':' && e - b <= 9 &&
	    (r = line_role(s, b, e)) != ROLE_NONE) {
		c->fixed = r;
		return;
	}
	scan(c, s, n);
}

static void
on_html_tag(void *arg, const char *name, int closing)
{
	struct ctx *c = arg;
	static const char *const inline_tags[] = { "b", "strong", "i", "em",
		"u", "span", "font", "a", "small", "big", "code", "tt", NULL };
	const char *const *t;

	(void)closing;
	for (t = inline_tags; *t != NULL; t++)
		if (!strcmp(name, *t))
			return;
	c->fixed = ROLE_NONE;
}

static void
on_html_attr(void *arg, const char *tag, const char *name, const char *v,
    size_t n)
{
	struct ctx *c = arg;

	(void)tag;
	if (!strcmp(name, "href") || !strcmp(name, "src") ||
	    !strcmp(name, "action") || !strcmp(name, "background") ||
	    !strcmp(name, "data") || !strcmp(name, "formaction"))
		scan(c, v, n);
}

void
scan_html(struct iocset *set, const char *s, size_t n, const char *where)
{
	static const struct html_cb cb = { on_html_text, on_html_tag, on_html_attr };
	struct ctx c = { set, where, ROLE_NONE, ROLE_NONE,
	    iocset_place(set, where), NULL };

	html_scan(s, n, &cb, &c);
}
