#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "spool.h"

/* keys/<name><suffix>, exactly n bytes, into buf. */
static int
read_file(int dirfd, const char *name, const char *suffix, unsigned char *buf,
    size_t n)
{
	char path[64];
	ssize_t got;
	int fd;

	if (snprintf(path, sizeof(path), "keys/%s%s", name, suffix) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	got = read(fd, buf, n);
	close(fd);
	if (got != (ssize_t)n) {
		sodium_memzero(buf, n);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/*
 * Make keys/<name><suffix> holding n bytes, unless it exists.  link(2),
 * not rename(2): the first made wins and is never replaced.
 */
static int
make_file(struct spool *sp, const char *name, const char *suffix,
    const unsigned char *buf, size_t n, mode_t mode)
{
	int dirfd = spool_dirfd(sp), fd, r, saved;
	char tmp[96], path[64];

	snprintf(path, sizeof(path), "keys/%s%s", name, suffix);
	if (mkdirat(dirfd, "keys", 0700) == -1 && errno != EEXIST)
		return -1;
	if (spool_tmppath(sp, tmp, sizeof(tmp)) == -1)
		return -1;
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1)
		return -1;
	r = spool_write_all(fd, buf, n) == 0 && fsync(fd) == 0 ? 0 : -1;
	saved = errno;
	close(fd);
	if (r == 0 && linkat(dirfd, tmp, dirfd, path, 0) == -1 &&
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
	return 0;
}

int
key_read(int dirfd, const char *name, unsigned char key[KEY_BYTES])
{
	return read_file(dirfd, name, "", key, KEY_BYTES);
}

int
key_get(struct spool *sp, const char *name, unsigned char key[KEY_BYTES])
{
	int r;

	if (key_read(spool_dirfd(sp), name, key) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	crypto_auth_keygen(key);
	r = make_file(sp, name, "", key, KEY_BYTES, 0600);
	sodium_memzero(key, KEY_BYTES);
	if (r == -1)
		return -1;
	return key_read(spool_dirfd(sp), name, key);
}

int
key_read_public(int dirfd, const char *name, unsigned char pk[KEY_PUBLIC_BYTES])
{
	return read_file(dirfd, name, ".pub", pk, KEY_PUBLIC_BYTES);
}

int
key_pair_get(struct spool *sp, const char *name,
    unsigned char pk[KEY_PUBLIC_BYTES], unsigned char sk[KEY_SECRET_BYTES])
{
	unsigned char have[KEY_PUBLIC_BYTES];
	int dirfd = spool_dirfd(sp), r;

	if (read_file(dirfd, name, "", sk, KEY_SECRET_BYTES) == -1) {
		if (errno != ENOENT)
			return -1;
		crypto_sign_keypair(pk, sk);
		r = make_file(sp, name, "", sk, KEY_SECRET_BYTES, 0600);
		sodium_memzero(sk, KEY_SECRET_BYTES);
		if (r == -1 || read_file(dirfd, name, "", sk,
		    KEY_SECRET_BYTES) == -1)
			return -1;
	}
	/* The public half follows from the secret one that won. */
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	if (key_read_public(dirfd, name, have) == 0) {
		if (memcmp(have, pk, KEY_PUBLIC_BYTES) == 0)
			return 0;
		errno = EBADMSG;	/* a .pub that is not this key's */
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return make_file(sp, name, ".pub", pk, KEY_PUBLIC_BYTES, 0644);
}
