/*
 * RFC 2047 encoded-words, decoded here rather than by GMime: GMime 3.2
 * joins the base64 of adjacent words before decoding it and stops at the
 * first padding, so "=?UTF-8?B?YWI=?= =?UTF-8?B?Yw==?=" reads "ab" -- and
 * phishing subjects are runs of such words.  Each word is decoded on its
 * own; the bytes of adjacent words in one charset are joined before the
 * charset is converted, so a character split across two words survives.
 * White space between encoded-words is dropped, as the RFC says.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "mailparse.h"
#include "xalloc.h"

/* Longest charset name and encoded text taken for an encoded-word. */
#define MAX_CHARSET	64
#define MAX_WORD	4096

struct word {
	char	 charset[MAX_CHARSET + 1];
	char	 enc;		/* 'B' or 'Q' */
	const char *text;
	size_t	 textlen;
	size_t	 len;		/* bytes of the whole word */
};

struct dbuf {
	char	*s;
	size_t	 len, cap;
};

static void
dadd(struct dbuf *b, const char *s, size_t n)
{
	xgrow(&b->s, &b->cap, b->len + n + 1);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* An encoded-word at s (n bytes), or 0. */
static int
parse_word(const char *s, size_t n, struct word *w)
{
	size_t i = 2, k = 0;
	const char *end;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	while (i < n && s[i] != '?' && s[i] != ' ' && s[i] != '\t') {
		if (k < MAX_CHARSET)
			w->charset[k++] = s[i];
		i++;
	}
	if (i >= n || s[i] != '?' || k == 0 || k >= MAX_CHARSET)
		return 0;
	w->charset[k] = '\0';
	/* RFC 2231 adds a language: charset*lang. */
	if ((end = strchr(w->charset, '*')) != NULL)
		w->charset[end - w->charset] = '\0';
	if (i + 3 > n || s[i + 2] != '?')
		return 0;
	w->enc = (char)(s[i + 1] & ~0x20);
	if (w->enc != 'B' && w->enc != 'Q')
		return 0;
	w->text = s + i + 3;
	for (k = 0; w->text + k + 1 < s + n && k < MAX_WORD; k++) {
		if (w->text[k] == '?' && w->text[k + 1] == '=')
			break;
		if (w->text[k] == '\r' || w->text[k] == '\n')
			return 0;
	}
	if (w->text + k + 1 >= s + n || k >= MAX_WORD)
		return 0;
	w->textlen = k;
	w->len = (size_t)(w->text + k + 2 - s);
	return 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static signed char b64val[256];

static void
b64val_init(void)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i;

	memset(b64val, -1, sizeof(b64val));
	for (i = 0; i < 64; i++)
		b64val[(unsigned char)alpha[i]] = (signed char)i;
}

static void
decode_word(const struct word *w, struct dbuf *out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	unsigned bits = 0;
	int nbits = 0, h, l, v;
	size_t i;
	char c;

	pthread_once(&once, b64val_init);
	xgrow(&out->s, &out->cap, out->len + w->textlen + 1);
	for (i = 0; i < w->textlen; i++) {
		c = w->text[i];
		if (w->enc == 'B') {
			if ((v = b64val[(unsigned char)c]) < 0)
				continue;
			bits = bits << 6 | (unsigned)v;
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				out->s[out->len++] = (char)(bits >> nbits);
			}
		} else if (c == '_')
			out->s[out->len++] = ' ';
		else if (c == '=' && i + 2 < w->textlen &&
		    (h = hexval(w->text[i + 1])) >= 0 &&
		    (l = hexval(w->text[i + 2])) >= 0) {
			out->s[out->len++] = (char)(h << 4 | l);
			i += 2;
		} else
			out->s[out->len++] = c;
	}
	out->s[out->len] = '\0';
}

/* Convert the run's bytes, or raw text (charset NULL), onto out. */
static void
flush(struct dbuf *out, struct dbuf *pend, const char *charset)
{
	const char *defect;
	size_t n;
	char *t;

	if (pend->len == 0)
		return;
	t = charset_decode(pend->s, pend->len, charset, &n, &defect);
	dadd(out, t, n);
	free(t);
	pend->len = 0;
}

/*
 * Decode the encoded-words in s (n bytes) into UTF-8.  Text outside them
 * is read as UTF-8, else windows-1252.  Malloc'ed; length in *outlen.
 */
char *
rfc2047_decode(const char *s, size_t n, size_t *outlen)
{
	struct dbuf out = { NULL, 0, 0 }, pend = { NULL, 0, 0 };
	struct word w;
	char charset[MAX_CHARSET + 1] = "";
	size_t i = 0, j;
	int inword = 0;		/* pend holds encoded bytes in charset */

	dadd(&out, "", 0);
	while (i < n) {
		if (s[i] == '=' && parse_word(s + i, n - i, &w)) {
			if (!inword || strcasecmp(w.charset, charset) != 0) {
				flush(&out, &pend, inword ? charset : NULL);
				memcpy(charset, w.charset, sizeof(charset));
			}
			inword = 1;
			decode_word(&w, &pend);
			i += w.len;
			/* White space up to another encoded-word is dropped. */
			for (j = i; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
				;
			if (j > i && j < n && s[j] == '=' &&
			    parse_word(s + j, n - j, &w))
				i = j;
			continue;
		}
		if (inword) {
			flush(&out, &pend, charset);
			inword = 0;
		}
		/* Plain text up to the next possible encoded-word. */
		for (j = i + 1; j < n && !(s[j] == '=' && j + 1 < n &&
		    s[j + 1] == '?'); j++)
			;
		dadd(&pend, s + i, j - i);
		i = j;
	}
	flush(&out, &pend, inword ? charset : NULL);
	free(pend.s);
	*outlen = out.len;
	return out.s;
}

/*
 * s with every run of encoded-words replaced by one UTF-8 base64 word
 * that GMime decodes right, for the places (address lists, parameters)
 * where GMime must still do the parsing.  Malloc'ed.
 */
char *
rfc2047_normalize(const char *s)
{
	struct dbuf out = { NULL, 0, 0 };
	struct word w;
	size_t i = 0, j, n = strlen(s), runend, dlen;
	char *dec, *b64;

	dadd(&out, "", 0);
	while (i < n) {
		if (!(s[i] == '=' && parse_word(s + i, n - i, &w))) {
			for (j = i + 1; j < n && s[j] != '='; j++)
				;
			dadd(&out, s + i, j - i);
			i = j;
			continue;
		}
		/* The run: words separated by white space only. */
		runend = i + w.len;
		for (;;) {
			for (j = runend; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
				;
			if (j < n && s[j] == '=' && parse_word(s + j, n - j, &w))
				runend = j + w.len;
			else
				break;
		}
		dec = rfc2047_decode(s + i, runend - i, &dlen);
		b64 = g_base64_encode((const guchar *)dec, dlen);
		dadd(&out, "=?UTF-8?B?", 10);
		dadd(&out, b64, strlen(b64));
		dadd(&out, "?=", 2);
		g_free(b64);
		free(dec);
		i = runend;
	}
	return out.s;
}
