#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cases.h"
#include "hash.h"
#include "msgid.h"
#include "spool.h"

#define MAC_BYTES	16

static int
read_key(int dirfd, unsigned char key[crypto_auth_KEYBYTES])
{
	ssize_t n;
	int fd;

	if ((fd = openat(dirfd, "keys/msgid", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, key, crypto_auth_KEYBYTES);
	close(fd);
	if (n != crypto_auth_KEYBYTES) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* The key, made on first use; two tools racing to make it agree on one. */
static int
get_key(struct spool *sp, unsigned char key[crypto_auth_KEYBYTES])
{
	int dirfd = spool_dirfd(sp), fd, r, saved;
	char tmp[96];

	if (read_key(dirfd, key) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (mkdirat(dirfd, "keys", 0700) == -1 && errno != EEXIST)
		return -1;
	if (spool_tmppath(sp, tmp, sizeof(tmp)) == -1)
		return -1;
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	crypto_auth_keygen(key);
	r = write(fd, key, crypto_auth_KEYBYTES) == crypto_auth_KEYBYTES &&
	    fsync(fd) == 0 ? 0 : -1;
	saved = errno;
	close(fd);
	sodium_memzero(key, crypto_auth_KEYBYTES);
	/* link(2), not rename(2): the first key made wins, never replaced. */
	if (r == 0 && linkat(dirfd, tmp, dirfd, "keys/msgid", 0) == -1 &&
	    errno != EEXIST) {
		saved = errno;
		r = -1;
	}
	unlinkat(dirfd, tmp, 0);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	if ((fd = openat(dirfd, "keys", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
	return read_key(dirfd, key);
}

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
	if (get_key(sp, key) == -1)
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
	if (read_key(spool_dirfd(sp), key) == -1)
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
