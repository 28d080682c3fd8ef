/*
 * mkorigin - a tool for the tests, not a test: what mailfetch would write
 * for one message, without a server.
 *
 *	mkorigin SPOOL ACCOUNT FOLDER UIDVALIDITY UID FILE
 *
 * prints a From_ line, the X-Mailcase-Source header for the bytes of
 * FILE under SPOOL's keys/source (made when missing), and those bytes
 * mboxrd-quoted, then the empty line that ends a message in an mbox.
 * Output of several runs, concatenated, is an mbox.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "origin.h"
#include "spool.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mkorigin spool account folder uidvalidity "
	    "uid file\n");
	exit(EX_USAGE);
}

static unsigned long long
number(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		usage();
	return v;
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		return NULL;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return NULL;
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	*len = got;
	return buf;
}

/* Each line matching ^>*From  gets one more '>' (mboxrd). */
static void
put_quoted(const char *p, size_t len)
{
	const char *e = p + len, *nl, *q;

	while (p < e) {
		nl = memchr(p, '\n', (size_t)(e - p));
		nl = nl != NULL ? nl + 1 : e;
		for (q = p; q < nl && *q == '>'; q++)
			;
		if (nl - q >= 5 && memcmp(q, "From ", 5) == 0)
			putchar('>');
		fwrite(p, 1, (size_t)(nl - p), stdout);
		p = nl;
	}
	if (len > 0 && e[-1] != '\n')
		putchar('\n');
	putchar('\n');
}

int
main(int argc, char *argv[])
{
	unsigned char key[KEY_SECRET_BYTES], pk[KEY_PUBLIC_BYTES];
	char line[ORIGIN_LINE_MAX];
	unsigned long long uidvalidity, uid;
	struct spool *sp;
	size_t len;
	char *msg;
	int n;

	if (argc != 7)
		usage();
	uidvalidity = number(argv[4]);
	uid = number(argv[5]);
	if (sodium_init() == -1)
		return EX_OSERR;
	if ((msg = slurp(argv[6], &len)) == NULL) {
		fprintf(stderr, "mkorigin: %s: %s\n", argv[6], strerror(errno));
		return EX_NOINPUT;
	}
	if ((sp = spool_open(argv[1])) == NULL ||
	    key_pair_get(sp, "source", pk, key) == -1) {
		fprintf(stderr, "mkorigin: %s: keys/source: %s\n", argv[1],
		    strerror(errno));
		return EX_CANTCREAT;
	}
	n = origin_header(key, argv[2], argv[3], uidvalidity, uid, msg, len,
	    line, sizeof(line));
	sodium_memzero(key, sizeof(key));
	spool_close(sp);
	if (n == -1) {
		fprintf(stderr, "mkorigin: header too long\n");
		return EX_USAGE;
	}
	printf("From mailfetch@localhost Thu Jan  1 00:00:00 1970\n");
	fwrite(line, 1, (size_t)n, stdout);
	put_quoted(msg, len);
	free(msg);
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
