#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "hash.h"
#include "origin.h"


static int
plain_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	    c == '/' || c == '+';
}

/* Append the percent-encoding of s at *p (below end); -1 when full. */
static int
put_encoded(char **p, char *end, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u;

	for (u = (const unsigned char *)s; *u != '\0'; u++) {
		if (end - *p < 4)
			return -1;
		if (plain_byte(*u))
			*(*p)++ = (char)*u;
		else {
			*(*p)++ = '%';
			*(*p)++ = hex[*u >> 4];
			*(*p)++ = hex[*u & 15];
		}
	}
	return 0;
}

int
origin_header(const unsigned char sk[KEY_SECRET_BYTES], const char *account,
    const char *folder, unsigned long long uidvalidity, unsigned long long uid,
    const void *msg, size_t len, char *out, size_t outsz)
{
	char sha[HASH_HEX_LEN + 1], hex[2 * crypto_sign_BYTES + 1];
	unsigned char sig[crypto_sign_BYTES];
	char *p = out, *end = out + (outsz < ORIGIN_LINE_MAX ? outsz :
	    ORIGIN_LINE_MAX), *value;
	int n;

	hash_sha256_hex(msg, len, sha);
	n = snprintf(p, (size_t)(end - p), "%s: v=1; account=", ORIGIN_HEADER);
	if (n < 0 || n >= end - p)
		goto toolong;
	value = p + strlen(ORIGIN_HEADER) + 2;
	p += n;
	if (put_encoded(&p, end, account) == -1 ||
	    end - p < 10)
		goto toolong;
	memcpy(p, "; folder=", 9);
	p += 9;
	if (put_encoded(&p, end, folder) == -1)
		goto toolong;
	n = snprintf(p, (size_t)(end - p), "; uidvalidity=%llu; uid=%llu; "
	    "size=%zu; sha256=%s", uidvalidity, uid, len, sha);
	if (n < 0 || n >= end - p)
		goto toolong;
	p += n;
	crypto_sign_detached(sig, NULL, (unsigned char *)value,
	    (size_t)(p - value), sk);
	hash_hex(sig, sizeof(sig), hex);
	n = snprintf(p, (size_t)(end - p), "; sig=%s\n", hex);
	if (n < 0 || n >= end - p)
		goto toolong;
	return (int)(p + n - out);
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

static int
unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode n bytes of percent-encoding; NULL when malformed. */
static char *
decode(const char *s, size_t n)
{
	char *out, *o;
	size_t i;
	int hi, lo;

	if ((out = o = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n)
				goto bad;
			if ((hi = unhex(s[i + 1])) < 0 ||
			    (lo = unhex(s[i + 2])) < 0 || (hi == 0 && lo == 0))
				goto bad;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (plain_byte((unsigned char)s[i]))
			*o++ = s[i];
		else
			goto bad;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* "name=" at *p, its value up to "; " or the end; advances *p. */
static int
field(const char **p, const char *end, const char *name, const char **v,
    size_t *vn)
{
	size_t k = strlen(name);
	const char *q;

	if ((size_t)(end - *p) < k + 1 || memcmp(*p, name, k) != 0 ||
	    (*p)[k] != '=')
		return -1;
	*v = *p + k + 1;
	for (q = *v; q < end && *q != ';'; q++)
		;
	*vn = (size_t)(q - *v);
	if (q < end) {
		if (end - q < 2 || q[1] != ' ')
			return -1;
		q += 2;
	}
	*p = q;
	return 0;
}

static int
number(const char *v, size_t n, unsigned long long *out)
{
	unsigned long long x = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && v[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' ||
		    __builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (unsigned)(v[i] - '0'), &x))
			return -1;
	}
	*out = x;
	return 0;
}

int
origin_parse(const char *data, size_t len, struct origin *o, size_t *skip)
{
	size_t hl = strlen(ORIGIN_HEADER), n, vn;
	const char *nl, *p, *end, *v, *value, *macat;

	memset(o, 0, sizeof(*o));
	if (len < hl + 1 || strncasecmp(data, ORIGIN_HEADER, hl) != 0 ||
	    data[hl] != ':')
		return 0;
	n = len < ORIGIN_LINE_MAX ? len : ORIGIN_LINE_MAX;
	if ((nl = memchr(data, '\n', n)) == NULL)
		return -1;
	*skip = (size_t)(nl + 1 - data);
	end = nl;
	if (end > data && end[-1] == '\r')
		end--;
	p = data + hl + 1;
	if (p >= end || *p++ != ' ')
		return -1;
	value = p;
	if (field(&p, end, "v", &v, &vn) == -1 || vn != 1 || *v != '1' ||
	    field(&p, end, "account", &v, &vn) == -1 || vn == 0 ||
	    (o->account = decode(v, vn)) == NULL ||
	    field(&p, end, "folder", &v, &vn) == -1 || vn == 0 ||
	    (o->folder = decode(v, vn)) == NULL ||
	    field(&p, end, "uidvalidity", &v, &vn) == -1 ||
	    number(v, vn, &o->uidvalidity) == -1 ||
	    field(&p, end, "uid", &v, &vn) == -1 ||
	    number(v, vn, &o->uid) == -1 ||
	    field(&p, end, "size", &v, &vn) == -1 ||
	    number(v, vn, &o->size) == -1 ||
	    field(&p, end, "sha256", &v, &vn) == -1 || vn != HASH_HEX_LEN ||
	    strspn(v, "0123456789abcdef") < vn)
		goto bad;
	memcpy(o->sha256, v, vn);
	o->sha256[vn] = '\0';
	macat = p - 2;
	if (field(&p, end, "sig", &v, &vn) == -1 ||
	    vn != 2 * crypto_sign_BYTES || p != end)
		goto bad;
	for (n = 0; n < crypto_sign_BYTES; n++) {
		int hi = unhex(v[2 * n]), lo = unhex(v[2 * n + 1]);

		if (hi < 0 || lo < 0)
			goto bad;
		o->sig[n] = (unsigned char)(hi << 4 | lo);
	}
	if ((o->signed_part = strndup(value, (size_t)(macat - value))) == NULL)
		goto bad;
	return 1;
bad:
	origin_free(o);
	return -1;
}

int
origin_check(const unsigned char pk[KEY_PUBLIC_BYTES], const struct origin *o)
{
	if (o->signed_part == NULL)
		return 0;
	return crypto_sign_verify_detached(o->sig,
	    (const unsigned char *)o->signed_part, strlen(o->signed_part),
	    pk) == 0;
}

void
origin_free(struct origin *o)
{
	free(o->account);
	free(o->folder);
	free(o->signed_part);
	memset(o, 0, sizeof(*o));
}

void
origin_source_id(const char *folder, unsigned long long uid, char *out,
    size_t outsz)
{
	char hex[33];

	hash_md5_hex(folder, strlen(folder), hex);
	snprintf(out, outsz, "%s : %llu", hex, uid);
}
