#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cases.h"
#include "hash.h"
#include "keys.h"
#include "msgid.h"
#include "spool.h"

#define MAC_BYTES	16

static void
mac_hex(const unsigned char key[crypto_auth_KEYBYTES], const char *msg,
    size_t len, char out[2 * MAC_BYTES + 1])
{
	unsigned char mac[crypto_auth_BYTES];

	crypto_auth(mac, (const unsigned char *)msg, len, key);
	hash_hex(mac, MAC_BYTES, out);
}

int
msgid_make(struct spool *sp, const char *code, const char *domain, char *out,
    size_t outsz)
{
	unsigned char key[crypto_auth_KEYBYTES], nonce[8];
	char body[64], noncehex[17], mac[2 * MAC_BYTES + 1];
	int n;

	if (!cases_code_ok(code) || strchr(domain, '>') || *domain == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (key_get(sp, "msgid", key) == -1)
		return -1;
	randombytes_buf(nonce, sizeof(nonce));
	hash_hex(nonce, sizeof(nonce), noncehex);
	n = snprintf(body, sizeof(body), "mc.%s.%s", code, noncehex);
	mac_hex(key, body, (size_t)n, mac);
	sodium_memzero(key, sizeof(key));
	if (snprintf(out, outsz, "%s.%s@%s", body, mac, domain) >= (int)outsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
msgid_verify(struct spool *sp, const char *msgid, char *code)
{
	unsigned char key[crypto_auth_KEYBYTES];
	char want[2 * MAC_BYTES + 1];
	const char *p, *dot, *at;
	size_t codelen, bodylen;
	int ok;

	/* mc.CODE.NONCE16.MAC32@ */
	if (strncmp(msgid, "mc.", 3) != 0 || (at = strchr(msgid, '@')) == NULL)
		return 0;
	p = msgid + 3;
	if ((dot = strchr(p, '.')) == NULL || dot > at)
		return 0;
	codelen = (size_t)(dot - p);
	if (codelen == 0 || codelen > CASE_CODE_MAX ||
	    strspn(p, "0123456789") != codelen)
		return 0;
	if (strspn(dot + 1, "0123456789abcdef") != 16 || dot[17] != '.' ||
	    strspn(dot + 18, "0123456789abcdef") != 2 * MAC_BYTES ||
	    dot + 18 + 2 * MAC_BYTES != at)
		return 0;
	bodylen = (size_t)(dot + 17 - msgid);
	if (key_read(spool_dirfd(sp), "msgid", key) == -1)
		return errno == ENOENT ? 0 : -1;
	mac_hex(key, msgid, bodylen, want);
	sodium_memzero(key, sizeof(key));
	ok = sodium_memcmp(want, dot + 18, 2 * MAC_BYTES) == 0;
	if (ok) {
		memcpy(code, p, codelen);
		code[codelen] = '\0';
	}
	return ok;
}
