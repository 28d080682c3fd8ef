#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/evp.h>

#include "diag.h"
#include "hash.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256, *md_sha1, *md_md5;

/* Fetch the implementations once: a fetch per call costs a lock. */
static void
init(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	if (md_sha256 == NULL || md_sha1 == NULL || md_md5 == NULL) {
		diag("libcrypto", "digest", "MD5, SHA-1 or SHA-256 unavailable");
		exit(EX_SOFTWARE);
	}
}

static void
digest(EVP_MD *md, const void *data, size_t len, char *hex)
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (!EVP_Digest(data, len, bin, &n, md, NULL)) {
		diag("libcrypto", "digest", "failed");
		exit(EX_SOFTWARE);
	}
	hash_hex(bin, n, hex);
}

void
hash_hex(const unsigned char *bin, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * n] = '\0';
}

void
hash_sha256_hex(const void *data, size_t len, char hex[HASH_HEX_LEN + 1])
{
	pthread_once(&once, init);
	digest(md_sha256, data, len, hex);
}

void
hash_md5_hex(const void *data, size_t len, char hex[33])
{
	pthread_once(&once, init);
	digest(md_md5, data, len, hex);
}

void
hash_all(const void *data, size_t len, struct digests *d)
{
	pthread_once(&once, init);
	digest(md_md5, data, len, d->md5);
	digest(md_sha1, data, len, d->sha1);
	digest(md_sha256, data, len, d->sha256);
}

int
hash_is_hex(const char *s)
{
	size_t i;

	for (i = 0; i < HASH_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}
