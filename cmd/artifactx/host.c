/*
 * Is this a host?  A domain must end in a suffix the Public Suffix List
 * names (libpsl, without its implicit "*" rule: "report.pdf" is a file,
 * not a host) and not be a suffix itself; RFC 6761's .example and .test
 * count too.  Internationalised names are
 * checked in their ASCII form (libidn2, UTS #46 non-transitional) and
 * given in their Unicode form, lowercase: one convention for every
 * domain, whichever way it was written.
 */
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <libpsl.h>
#include <xxhash.h>

#include "artifactx.h"

static const psl_ctx_t *psl;

void
host_init(void)
{
	psl = psl_builtin();
}

static int
label_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

static int	check_domain(const char *, size_t, char *, size_t);

/*
 * The same names come again and again (a mail's links, a newsletter's
 * domain): remember the last answers, a slot a name.
 */
#define CACHE_SLOTS	8192

static struct {
	char	 name[128];
	char	 answer[128];	/* "" when the name is no domain */
	int	 used;
} cache[CACHE_SLOTS];

int
host_domain(const char *s, size_t n, char *out, size_t outsz)
{
	size_t h;
	int r;

	if (n >= sizeof(cache[0].name))
		return check_domain(s, n, out, outsz);
	h = (size_t)XXH3_64bits(s, n) & (CACHE_SLOTS - 1);
	if (cache[h].used && !strncmp(cache[h].name, s, n) &&
	    cache[h].name[n] == '\0') {
		if (cache[h].answer[0] == '\0' ||
		    strlen(cache[h].answer) >= outsz)
			return -1;
		memcpy(out, cache[h].answer, strlen(cache[h].answer) + 1);
		return 0;
	}
	r = check_domain(s, n, out, outsz);
	memcpy(cache[h].name, s, n);
	cache[h].name[n] = '\0';
	if (r == 0 && strlen(out) < sizeof(cache[h].answer))
		memcpy(cache[h].answer, out, strlen(out) + 1);
	else if (r == 0)
		cache[h].used = 0;
	else
		cache[h].answer[0] = '\0';
	if (r == -1 || strlen(out) < sizeof(cache[h].answer))
		cache[h].used = 1;
	return r;
}

static int
check_domain(const char *s, size_t n, char *out, size_t outsz)
{
	char buf[256], *ascii = NULL, *uni = NULL;
	const char *tld, *p, *dot;
	size_t i, len;
	int nonascii = 0, ok = -1, dots = 0;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80)
			nonascii = 1;
		else if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		buf[i] = (char)c;
		dots += c == '.';
	}
	buf[n] = '\0';
	if (dots == 0 || buf[0] == '.' || buf[n - 1] == '.' || strstr(buf, ".."))
		return -1;
	if (nonascii || strstr(buf, "xn--") != NULL) {
		if (idn2_lookup_u8((const uint8_t *)buf, (uint8_t **)&ascii,
		    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK &&
		    idn2_lookup_u8((const uint8_t *)buf, (uint8_t **)&ascii,
		    IDN2_NFC_INPUT | IDN2_TRANSITIONAL) != IDN2_OK)
			return -1;
	}
	p = ascii ? ascii : buf;
	len = strlen(p);
	if (len > 253)
		goto out;
	for (tld = p; (dot = strchr(tld, '.')) != NULL; tld = dot + 1)
		if (!label_ok(tld, (size_t)(dot - tld)))
			goto out;
	if (!label_ok(tld, strlen(tld)) || (tld[0] >= '0' && tld[0] <= '9'))
		goto out;
	/*
	 * RFC 6761's .example and .test are no public suffixes, but they
	 * are what documentation, tests and training mail use.
	 */
	if (strcmp(tld, "example") != 0 && strcmp(tld, "test") != 0 &&
	    (!psl_is_public_suffix2(psl, tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) ||
	    psl_registrable_domain(psl, p) == NULL))
		goto out;
	if (ascii != NULL) {
		if (idn2_to_unicode_8z8z(ascii, &uni, 0) != IDN2_OK)
			goto out;
		p = uni;
	}
	if (strlen(p) >= outsz)
		goto out;
	memcpy(out, p, strlen(p) + 1);
	ok = 0;
out:
	idn2_free(ascii);
	idn2_free(uni);
	return ok;
}

int
host_ipv4(const char *s, size_t n, unsigned char addr[4])
{
	size_t i = 0;
	int k, digits;
	unsigned v;

	for (k = 0; k < 4; k++) {
		if (k > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		v = 0;
		digits = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 ||
		    (digits > 1 && s[i - digits] == '0'))
			return -1;
		addr[k] = (unsigned char)v;
	}
	return i == n ? 0 : -1;
}

static int
in4(const unsigned char a[4], unsigned net, int bits)
{
	unsigned v = (unsigned)a[0] << 24 | (unsigned)a[1] << 16 |
	    (unsigned)a[2] << 8 | a[3];

	return bits == 0 || (v >> (32 - bits)) == (net >> (32 - bits));
}

const char *
host_scope4(const unsigned char a[4])
{
	if (in4(a, 0x7f000000, 8))
		return "loopback";
	if (in4(a, 0x0a000000, 8) || in4(a, 0xac100000, 12) ||
	    in4(a, 0xc0a80000, 16) || in4(a, 0x64400000, 10))
		return "private";
	if (in4(a, 0xa9fe0000, 16))
		return "link-local";
	if (in4(a, 0xc0000200, 24) || in4(a, 0xc6336400, 24) ||
	    in4(a, 0xcb007100, 24))
		return "documentation";
	if (in4(a, 0xe0000000, 4))
		return "multicast";
	if (in4(a, 0x00000000, 8))
		return "unspecified";
	if (in4(a, 0xf0000000, 4) || in4(a, 0xc0000000, 24) ||
	    in4(a, 0xc6120000, 15))
		return "reserved";
	return "public";
}

const char *
host_scope6(const unsigned char a[16])
{
	static const unsigned char zero[16];

	if (!memcmp(a, zero, 15) && a[15] == 1)
		return "loopback";
	if (!memcmp(a, zero, 16))
		return "unspecified";
	if (!memcmp(a, zero, 10) && a[10] == 0xff && a[11] == 0xff)
		return host_scope4(a + 12);
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if ((a[0] & 0xfe) == 0xfc)
		return "private";
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return "documentation";
	if (a[0] == 0xff)
		return "multicast";
	if ((a[0] & 0xe0) == 0x20)
		return "public";
	return "reserved";
}
