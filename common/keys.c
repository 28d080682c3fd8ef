#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "spool.h"

int
key_read(int dirfd, const char *name, unsigned char key[KEY_BYTES])
{
	char path[64];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "keys/%s", name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, key, KEY_BYTES);
	close(fd);
	if (n != KEY_BYTES) {
		sodium_memzero(key, KEY_BYTES);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int
key_get(struct spool *sp, const char *name, unsigned char key[KEY_BYTES])
{
	int dirfd = spool_dirfd(sp), fd, r, saved;
	char tmp[96], path[64];

	if (key_read(dirfd, name, key) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	snprintf(path, sizeof(path), "keys/%s", name);
	if (mkdirat(dirfd, "keys", 0700) == -1 && errno != EEXIST)
		return -1;
	if (spool_tmppath(sp, tmp, sizeof(tmp)) == -1)
		return -1;
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	crypto_auth_keygen(key);
	r = spool_write_all(fd, key, KEY_BYTES) == 0 && fsync(fd) == 0 ? 0 : -1;
	saved = errno;
	close(fd);
	sodium_memzero(key, KEY_BYTES);
	/* link(2), not rename(2): the first key made wins, never replaced. */
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
	return key_read(dirfd, name, key);
}
