#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "xdg.h"

struct staged {
	char	 tmp[64];	/* name below tmp/ */
	char	 dst[96];	/* area/ab/hex */
};

struct spool {
	char		*dir;
	int		 dirfd;
	int		 tmpfd;
	pthread_mutex_t	 lock;
	unsigned long	 seq;
	struct staged	*staged;
	size_t		 nstaged, capstaged;
};

static int	mkdirs_at(int, const char *);
static int	tmp_create(struct spool *, char *, size_t);
static void	tmp_sweep(struct spool *);
static void	sweep_dir(int, const char *);

char *
spool_default_dir(void)
{
	return xdg_path("MAILCASE_SPOOL", "XDG_DATA_HOME", ".local/share", "");
}

struct spool *
spool_open(const char *dir)
{
	struct spool *sp;
	int saved;

	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return NULL;
	sp->dirfd = sp->tmpfd = -1;
	pthread_mutex_init(&sp->lock, NULL);
	if ((sp->dir = strdup(dir)) == NULL)
		goto fail;
	if (mkdirs_at(AT_FDCWD, dir) == -1)
		goto fail;
	if ((sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto fail;
	if (mkdirat(sp->dirfd, "tmp", 0700) == -1 && errno != EEXIST)
		goto fail;
	if ((sp->tmpfd = openat(sp->dirfd, "tmp",
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto fail;
	tmp_sweep(sp);
	return sp;
fail:
	saved = errno;
	spool_close(sp);
	errno = saved;
	return NULL;
}

const char *
spool_dir(const struct spool *sp)
{
	return sp->dir;
}

void
spool_close(struct spool *sp)
{
	size_t i;

	if (sp == NULL)
		return;
	for (i = 0; i < sp->nstaged; i++)
		unlinkat(sp->tmpfd, sp->staged[i].tmp, 0);
	if (sp->tmpfd != -1)
		close(sp->tmpfd);
	if (sp->dirfd != -1)
		close(sp->dirfd);
	pthread_mutex_destroy(&sp->lock);
	free(sp->staged);
	free(sp->dir);
	free(sp);
}

int
spool_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mkdir -p, relative to dirfd; mode 0700. */
static int
mkdirs_at(int dirfd, const char *path)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] != '/') {
			char c = *p;

			*p = '\0';
			if (mkdirat(dirfd, buf, 0700) == -1 && errno != EEXIST)
				return -1;
			*p = c;
		}
		if (*p == '\0')
			break;
	}
	return 0;
}

/* Create a new file in tmp/, its name into name; returns the fd. */
static int
tmp_create(struct spool *sp, char *name, size_t namesz)
{
	unsigned long seq;
	int fd, tries;

	for (tries = 0; tries < 100; tries++) {
		pthread_mutex_lock(&sp->lock);
		seq = sp->seq++;
		pthread_mutex_unlock(&sp->lock);
		if (snprintf(name, namesz, "%lld.%ld.%lu", (long long)time(NULL),
		    (long)getpid(), seq) >= (int)namesz) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(sp->tmpfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* A directory a crash left in tmp/: its files, then itself (one level). */
static void
sweep_dir(int tmpfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(tmpfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	unlinkat(tmpfd, name, AT_REMOVEDIR);
}

static void
tmp_sweep(struct spool *sp)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int fd;

	if ((fd = dup(sp->tmpfd)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(sp->tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    st.st_mtime + SPOOL_TMP_STALE >= now)
			continue;
		if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
			unlinkat(sp->tmpfd, de->d_name, 0);
		else if (S_ISDIR(st.st_mode))
			sweep_dir(sp->tmpfd, de->d_name);
	}
	closedir(d);
}

static int
addr_path(char *buf, size_t bufsz, const char *area, const char *hex)
{
	if (strlen(hex) < 3 || strchr(hex, '/') != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(buf, bufsz, "%s/%.2s/%s", area, hex, hex) >= (int)bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
spool_has(struct spool *sp, const char *area, const char *hex)
{
	char path[96];

	if (addr_path(path, sizeof(path), area, hex) == -1)
		return 0;
	return faccessat(sp->dirfd, path, F_OK, 0) == 0;
}

int
spool_put(struct spool *sp, const char *area, const char *hex,
    const void *data, size_t len)
{
	struct staged st;
	size_t i;
	int fd, saved, dup = 0;

	if (addr_path(st.dst, sizeof(st.dst), area, hex) == -1)
		return -1;
	if (faccessat(sp->dirfd, st.dst, F_OK, 0) == 0)
		return 0;
	pthread_mutex_lock(&sp->lock);
	for (i = 0; i < sp->nstaged; i++)
		if (strcmp(sp->staged[i].dst, st.dst) == 0)
			dup = 1;
	pthread_mutex_unlock(&sp->lock);
	if (dup)
		return 0;

	if ((fd = tmp_create(sp, st.tmp, sizeof(st.tmp))) == -1)
		return -1;
	if (spool_write_all(fd, data, len) == -1) {
		saved = errno;
		close(fd);
		unlinkat(sp->tmpfd, st.tmp, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		unlinkat(sp->tmpfd, st.tmp, 0);
		errno = saved;
		return -1;
	}

	pthread_mutex_lock(&sp->lock);
	if (sp->nstaged == sp->capstaged) {
		size_t n = sp->capstaged ? sp->capstaged * 2 : 64;
		struct staged *p = realloc(sp->staged, n * sizeof(*p));

		if (p == NULL) {
			pthread_mutex_unlock(&sp->lock);
			unlinkat(sp->tmpfd, st.tmp, 0);
			errno = ENOMEM;
			return -1;
		}
		sp->staged = p;
		sp->capstaged = n;
	}
	sp->staged[sp->nstaged++] = st;
	pthread_mutex_unlock(&sp->lock);
	return 0;
}

size_t
spool_staged(struct spool *sp)
{
	size_t n;

	pthread_mutex_lock(&sp->lock);
	n = sp->nstaged;
	pthread_mutex_unlock(&sp->lock);
	return n;
}

int
spool_commit(struct spool *sp)
{
	struct staged *batch;
	char dir[96], *slash;
	size_t i, n, done = 0;
	int r = -1, saved = 0;

	/*
	 * Take the batch and let go of the lock: threads that stage more
	 * meanwhile must not wait for the disk.  (A file staged again while
	 * its twin is committed is renamed over it: the same bytes.)
	 */
	pthread_mutex_lock(&sp->lock);
	batch = sp->staged;
	n = sp->nstaged;
	sp->staged = NULL;
	sp->nstaged = sp->capstaged = 0;
	pthread_mutex_unlock(&sp->lock);
	if (n == 0) {
		free(batch);
		return 0;
	}
	/*
	 * One syncfs() makes the data of every staged file durable, a
	 * second one the renames: cheaper than an fsync per file and per
	 * directory, and the same guarantee.
	 */
	if (syncfs(sp->tmpfd) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s", batch[i].dst);
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
		if (renameat(sp->tmpfd, batch[i].tmp, sp->dirfd,
		    batch[i].dst) == -1) {
			if (errno != ENOENT || mkdirs_at(sp->dirfd, dir) == -1 ||
			    renameat(sp->tmpfd, batch[i].tmp, sp->dirfd,
			    batch[i].dst) == -1)
				goto out;
		}
		done = i + 1;
	}
	if (syncfs(sp->dirfd) == -1)
		goto out;
	r = 0;
out:
	if (r == -1)
		saved = errno;
	for (i = done; i < n; i++)
		unlinkat(sp->tmpfd, batch[i].tmp, 0);
	free(batch);
	if (r == -1)
		errno = saved;
	return r;
}

int
spool_dirfd(const struct spool *sp)
{
	return sp->dirfd;
}

int
spool_sync(struct spool *sp)
{
	return syncfs(sp->dirfd);
}

int
spool_tmppath(struct spool *sp, char *buf, size_t bufsz)
{
	unsigned long seq;

	pthread_mutex_lock(&sp->lock);
	seq = sp->seq++;
	pthread_mutex_unlock(&sp->lock);
	if (snprintf(buf, bufsz, "tmp/%lld.%ld.%lu.d", (long long)time(NULL),
	    (long)getpid(), seq) >= (int)bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int	replace(struct spool *, const char *, const void *, size_t, int);

int
spool_replace(struct spool *sp, const char *relpath, const void *data,
    size_t len)
{
	return replace(sp, relpath, data, len, 1);
}

int
spool_replace_lazy(struct spool *sp, const char *relpath, const void *data,
    size_t len)
{
	return replace(sp, relpath, data, len, 0);
}

static int
replace(struct spool *sp, const char *relpath, const void *data, size_t len,
    int durable)
{
	char tmp[64], dir[PATH_MAX], *slash;
	int fd = -1, dfd = -1, saved;

	if (snprintf(dir, sizeof(dir), "%s", relpath) >= (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if (mkdirs_at(sp->dirfd, dir) == -1)
			return -1;
	} else
		snprintf(dir, sizeof(dir), ".");
	if ((fd = tmp_create(sp, tmp, sizeof(tmp))) == -1)
		return -1;
	if (spool_write_all(fd, data, len) == -1 || (durable && fsync(fd) == -1))
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(sp->tmpfd, tmp, sp->dirfd, relpath) == -1)
		goto fail;
	if (!durable)
		return 0;
	if ((dfd = openat(sp->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fsync(dfd) == -1) {
		saved = errno;
		close(dfd);
		errno = saved;
		return -1;
	}
	close(dfd);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(sp->tmpfd, tmp, 0);
	errno = saved;
	return -1;
}
