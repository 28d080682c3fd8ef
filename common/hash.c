#include <string.h>

#include <sodium.h>

#include "hash.h"

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
	unsigned char md[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(md, data, len);
	hash_hex(md, sizeof(md), hex);
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
