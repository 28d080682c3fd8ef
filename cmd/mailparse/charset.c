/*
 * Text parts say what charset they are in, and often lie.  The rules,
 * after the WHATWG encoding standard and what mail clients do:
 * us-ascii and iso-8859-1 mean windows-1252; a single-byte declaration
 * over bytes that are valid multi-byte UTF-8 means UTF-8 (no real Latin
 * text is also valid UTF-8); UTF-8 that is not valid keeps its valid
 * sequences and reads the stray bytes as windows-1252; anything iconv
 * cannot convert becomes U+FFFD and decoding goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "mailparse.h"
#include "utf8.h"
#include "xalloc.h"

/* windows-1252 0x80-0x9f; the five holes map as iso-8859-1 C1 controls. */
static const unsigned short cp1252_high[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

enum cskind { CS_NONE, CS_UTF8, CS_LATIN1, CS_SINGLE, CS_OTHER };

static enum cskind
classify(const char *cs)
{
	if (cs == NULL || *cs == '\0')
		return CS_NONE;
	if (!strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8"))
		return CS_UTF8;
	if (!strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii") ||
	    !strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "iso8859-1") ||
	    !strcasecmp(cs, "latin1") || !strcasecmp(cs, "windows-1252") ||
	    !strcasecmp(cs, "cp1252") || !strcasecmp(cs, "iso_8859-1"))
		return CS_LATIN1;
	if (!strncasecmp(cs, "iso-8859-", 9) || !strncasecmp(cs, "windows-125", 11) ||
	    !strncasecmp(cs, "koi8-", 5) || !strncasecmp(cs, "cp125", 5))
		return CS_SINGLE;
	return CS_OTHER;
}

/* Valid UTF-8 sequences kept, every other byte read as windows-1252. */
static char *
utf8_or_1252(const char *s, size_t n, int keep_utf8, size_t *outlen)
{
	size_t i = 0, o = 0, len;
	unsigned char c;
	char *out;

	if (n > ((size_t)-1 - 1) / 3)
		exit(71);
	out = xmalloc(3 * n + 1);
	while (i < n) {
		c = (unsigned char)s[i];
		if (c < 0x80) {
			out[o++] = (char)c;
			i++;
		} else if (keep_utf8 && (len = utf8_seqlen(s + i, n - i)) > 1) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			o += utf8_put(out + o, c < 0xa0 ? cp1252_high[c - 0x80] : c);
			i++;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static int
has_multibyte(const char *s, size_t n)
{
	unsigned long long w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ULL)
			return 1;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * iconv_open() looks its converters up (and dlopen()s them) every time;
 * each thread keeps the few it has used.
 */
#define ICONV_CACHE	8

static __thread struct {
	char	 name[40];
	iconv_t	 cd;
} cache[ICONV_CACHE];
static __thread unsigned cache_next;

static iconv_t
cached_iconv(const char *charset)
{
	iconv_t cd;
	unsigned i;

	for (i = 0; i < ICONV_CACHE; i++)
		if (cache[i].cd != NULL && !strcasecmp(cache[i].name, charset))
			return cache[i].cd;
	if (strlen(charset) >= sizeof(cache[0].name))
		return (iconv_t)-1;
	if ((cd = g_mime_iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return cd;
	i = cache_next++ % ICONV_CACHE;
	if (cache[i].cd != NULL)
		g_mime_iconv_close(cache[i].cd);
	snprintf(cache[i].name, sizeof(cache[i].name), "%s", charset);
	cache[i].cd = cd;
	return cd;
}

static char *
via_iconv(iconv_t cd, const char *s, size_t n, size_t *outlen, int *lossy)
{
	char *out, *in = (char *)s, *o;
	size_t cap, inleft = n, oleft, r, used;

	cap = n * 2 + 16;
	out = xmalloc(cap);
	o = out;
	oleft = cap - 1;
	iconv(cd, NULL, NULL, NULL, NULL);
	while (inleft > 0) {
		r = iconv(cd, &in, &inleft, &o, &oleft);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG || oleft < 8) {
			used = (size_t)(o - out);
			cap = cap * 2 + 16;
			out = xrealloc(out, cap);
			o = out + used;
			oleft = cap - used - 1;
			continue;
		}
		/* EILSEQ, or EINVAL at the end: one replacement, go on. */
		*lossy = 1;
		memcpy(o, "\xef\xbf\xbd", 3);
		o += 3;
		oleft -= 3;
		in++;
		inleft--;
	}
	/* Flush any shift state. */
	if (oleft < 16) {
		used = (size_t)(o - out);
		out = xrealloc(out, cap + 16);
		o = out + used;
		oleft += 16;
	}
	iconv(cd, NULL, NULL, &o, &oleft);
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

char *
charset_decode(const char *s, size_t n, const char *charset, size_t *outlen,
    const char **defect)
{
	enum cskind k = classify(charset);
	iconv_t cd;
	char *out, *fixed;
	int lossy = 0;
	size_t len;

	*defect = NULL;
	if (n == 0) {
		*outlen = 0;
		return xstrdup("");
	}
	if (!has_multibyte(s, n)) {
		/* ASCII reads the same in every charset we meet in mail but
		 * the 7-bit ones (UTF-7, ISO-2022): those go to iconv. */
		if (k != CS_OTHER) {
			out = xmalloc(n + 1);
			memcpy(out, s, n);
			out[n] = '\0';
			*outlen = n;
			return out;
		}
	}
	switch (k) {
	case CS_NONE:
	case CS_UTF8:
	case CS_LATIN1:
		if (utf8_valid(s, n)) {
			if (k == CS_LATIN1)
				*defect = "charset-mismatch";
			out = xmalloc(n + 1);
			memcpy(out, s, n);
			out[n] = '\0';
			*outlen = n;
			return out;
		}
		if (k != CS_LATIN1)
			*defect = "charset-mismatch";
		return utf8_or_1252(s, n, k != CS_LATIN1, outlen);
	case CS_SINGLE:
		if (has_multibyte(s, n) && utf8_valid(s, n)) {
			*defect = "charset-mismatch";
			out = xmalloc(n + 1);
			memcpy(out, s, n);
			out[n] = '\0';
			*outlen = n;
			return out;
		}
		break;
	case CS_OTHER:
		break;
	}
	cd = cached_iconv(charset);
	if (cd == (iconv_t)-1) {
		*defect = "unknown-charset";
		return utf8_or_1252(s, n, 1, outlen);
	}
	out = via_iconv(cd, s, n, outlen, &lossy);
	if (lossy)
		*defect = "charset-mismatch";
	/* iconv's UTF-8 is valid, but be sure: records carry only UTF-8. */
	if (!utf8_valid(out, *outlen)) {
		if ((fixed = utf8_repair(out, *outlen, &len)) == NULL)
			exit(71);
		free(out);
		out = fixed;
		*outlen = len;
	}
	return out;
}
