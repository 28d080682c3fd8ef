/*
 * mailparse - mail to message records.
 *
 * Input is files, Maildirs, directories of message files, or stdin; each
 * holds one message or an mbox, which msgsrc splits itself (GMime's own
 * mbox mode gives up for good at the first message it cannot read, and
 * every later one is lost).  Messages are parsed on -j threads and their
 * records written in input order.  Raw mail and attachments are staged in
 * the spool and committed in batches; a batch's records are written only
 * after its files are durable, so a record never names bytes a crash lost.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "diag.h"
#include "html.h"
#include "jsonl.h"
#include "mailparse.h"
#include "msgsrc.h"
#include "spool.h"
#include "xalloc.h"

/* Records held back until their batch is committed. */
#define BATCH_RECORDS	256
#define BATCH_BYTES	(32UL * 1024 * 1024)
/* Most threads worth starting. */
#define MAX_JOBS	64
/* Messages in flight per thread: with fewer, a thread waits for the
 * next message more often than it takes one (a futex wake each). */
#define RING_PER_THREAD	16

enum jobstate { J_FREE, J_QUEUED, J_RUNNING, J_DONE };

struct job {
	enum jobstate	 state;
	struct rawmsg	 m;
	json_t		*source;
	char		*label;		/* for the stderr line */
	char		*line;		/* the record, serialized */
	size_t		 linelen;
	int		 bad;
	char		*why;
};

static struct {
	struct spool	*sp;
	int		 nthreads;
	int		 progress;
	struct job	*ring;
	size_t		 nring, head, tail;	/* emit at head, submit at tail */
	pthread_mutex_t	 lock;
	pthread_cond_t	 work, done;
	int		 idle;		/* workers waiting for work */
	struct job	*want;		/* the job emit_head waits for */
	int		 stop;
	struct parser	*inline_parser;
	pthread_t	 tids[MAX_JOBS];
	char		*out;
	size_t		 outlen, outcap, outrecs;
	int		 status;
	int		 outfd;
	unsigned long long bytes, total, msgs;
	double		 start, last;
} g;

static void	usage(void) __attribute__((noreturn));
static void	run_job(struct parser *, struct job *);
static void	drain(void);

static void
usage(void)
{
	fprintf(stderr, "usage: mailparse [-d spool] [--no-store] [-j jobs] "
	    "[--progress | --quiet] [file | dir ...]\n");
	exit(EX_USAGE);
}

static double
now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static void
show_progress(int final)
{
	double t = now(), el = t - g.start, rate;
	char eta[32] = "";

	if (!g.progress || (!final && t - g.last < 0.5))
		return;
	g.last = t;
	rate = el > 0 ? g.bytes / el : 0;
	if (g.total > g.bytes && rate > 0)
		snprintf(eta, sizeof(eta), ", ETA %.0fs",
		    (g.total - g.bytes) / rate);
	fprintf(stderr, "\r%s: %.1f MB, %llu messages, %.1f MB/s%s   %s",
	    diag_prog(), g.bytes / 1e6, g.msgs, rate / 1e6, eta,
	    final ? "\n" : "");
}

/* Commit the batch's files, then write its records. */
static void
flush_out(void)
{
	size_t off = 0;
	ssize_t n;

	if (g.sp != NULL && spool_commit(g.sp) == -1) {
		/* Records must not name files we failed to keep. */
		diag(spool_dir(g.sp), "commit", "%s", strerror(errno));
		exit(errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL :
		    EX_CANTCREAT);
	}
	while (off < g.outlen) {
		n = write(g.outfd, g.out + off, g.outlen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			diag("stdout", "write", "%s", strerror(errno));
			exit(EX_IOERR);
		}
		off += (size_t)n;
	}
	g.outlen = 0;
	g.outrecs = 0;
}

static void
emit(struct job *j)
{
	if (j->bad) {
		diag(j->label, "parse", "%s", j->why ? j->why : "bad message");
		g.status = status_worse(g.status, EX_DATAERR);
	}
	xgrow(&g.out, &g.outcap, g.outlen + j->linelen);
	memcpy(g.out + g.outlen, j->line, j->linelen);
	g.outlen += j->linelen;
	g.outrecs++;
	g.bytes += j->m.size;
	g.msgs++;
	free(j->line);
	free(j->label);
	free(j->why);
	j->line = j->label = j->why = NULL;
	if (g.outrecs >= BATCH_RECORDS || g.outlen >= BATCH_BYTES)
		flush_out();
	show_progress(0);
}

static void
run_job(struct parser *p, struct job *j)
{
	const char *why;
	json_t *rec;

	rec = parser_record(p, &j->m, j->source, &j->bad, &why);
	j->source = NULL;
	if (why != NULL)
		j->why = xstrdup(why);
	j->line = jsonl_dump(rec, &j->linelen);
	json_decref(rec);
	if (!j->m.borrowed)
		free(j->m.data);
	j->m.data = NULL;
}

static void *
worker(void *arg)
{
	struct parser *p = parser_new(g.sp);
	struct job *j;
	size_t i;

	(void)arg;
	pthread_mutex_lock(&g.lock);
	for (;;) {
		j = NULL;
		for (i = g.head; i != g.tail; i = (i + 1) % g.nring)
			if (g.ring[i].state == J_QUEUED) {
				j = &g.ring[i];
				break;
			}
		if (j == NULL) {
			if (g.stop)
				break;
			g.idle++;
			pthread_cond_wait(&g.work, &g.lock);
			g.idle--;
			continue;
		}
		j->state = J_RUNNING;
		pthread_mutex_unlock(&g.lock);
		run_job(p, j);
		pthread_mutex_lock(&g.lock);
		j->state = J_DONE;
		/* A wake-up costs a system call: only for the one waited on. */
		if (g.want == j)
			pthread_cond_signal(&g.done);
	}
	pthread_mutex_unlock(&g.lock);
	parser_free(p);
	return NULL;
}

/* Emit the oldest job, waiting for it. */
static void
emit_head(void)
{
	struct job *j = &g.ring[g.head];

	pthread_mutex_lock(&g.lock);
	g.want = j;
	while (j->state != J_DONE)
		pthread_cond_wait(&g.done, &g.lock);
	g.want = NULL;
	pthread_mutex_unlock(&g.lock);
	emit(j);
	/* Workers read the ring's states and head under the lock. */
	pthread_mutex_lock(&g.lock);
	j->state = J_FREE;
	g.head = (g.head + 1) % g.nring;
	pthread_mutex_unlock(&g.lock);
}

static void
drain(void)
{
	while (g.head != g.tail)
		emit_head();
}

static void
submit(struct rawmsg *m, json_t *source, const char *label)
{
	struct job *j, one;

	if (g.nthreads <= 1) {
		memset(&one, 0, sizeof(one));
		one.m = *m;
		one.source = source;
		one.label = xstrdup(label);
		run_job(g.inline_parser, &one);
		emit(&one);
		return;
	}
	if ((g.tail + 1) % g.nring == g.head)
		emit_head();
	j = &g.ring[g.tail];
	j->m = *m;
	j->source = source;
	j->label = xstrdup(label);
	pthread_mutex_lock(&g.lock);
	j->state = J_QUEUED;
	g.tail = (g.tail + 1) % g.nring;
	if (g.idle > 0)
		pthread_cond_signal(&g.work);
	pthread_mutex_unlock(&g.lock);
}

/* Input would block: let everything read so far out first. */
static void
idle(void *arg)
{
	(void)arg;
	drain();
	flush_out();
}

static json_t *
source_for(const char *kind, const char *path, const struct rawmsg *m)
{
	json_t *s = json_object();

	if (m->mbox) {
		json_object_set_new(s, "kind", jsonl_cstr("mbox"));
		json_object_set_new(s, "path", jsonl_cstr(path ? path : "-"));
		json_object_set_new(s, "index", json_integer((json_int_t)m->index));
		json_object_set_new(s, "offset", json_integer((json_int_t)m->offset));
		return s;
	}
	json_object_set_new(s, "kind", jsonl_cstr(kind));
	if (path != NULL)
		json_object_set_new(s, "path", jsonl_cstr(path));
	return s;
}

/* Every message in fd. */
static void
do_fd(int fd, const char *path, const char *kind)
{
	struct msgsrc *src;
	struct rawmsg m;
	char *label;
	int r, any = 0;

	if ((src = msgsrc_new(fd)) == NULL) {
		diag(NULL, NULL, "out of memory");
		exit(EX_OSERR);
	}
	msgsrc_set_idle(src, idle, NULL);
	/* One thread is done with each message before the next is read. */
	msgsrc_set_lend(src, g.nthreads <= 1);
	while ((r = msgsrc_next(src, &m)) == 1) {
		any = 1;
		label = m.mbox ? xasprintf("%s: message %zu", path ? path :
		    "stdin", m.index + 1) : xstrdup(path ? path : "stdin");
		submit(&m, source_for(kind, path, &m), label);
		free(label);
	}
	if (r == -1) {
		diag(path ? path : "stdin", "read", "%s", strerror(errno));
		g.status = status_worse(g.status, EX_IOERR);
	}
	if (!any && r == 0 && path != NULL) {
		/* A file named on the command line that holds nothing. */
		memset(&m, 0, sizeof(m));
		m.data = xmalloc(1);
		submit(&m, source_for(kind, path, &m), path);
	}
	msgsrc_free(src);
}

static void	do_path(const char *, const char *, int);

static int
visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static void
do_dir(const char *path, int depth)
{
	struct dirent **names;
	struct stat st;
	char *sub;
	int i, n, maildir;

	if (depth > 32) {
		diag(path, "read", "directories nested too deep");
		g.status = status_worse(g.status, EX_DATAERR);
		return;
	}
	sub = xasprintf("%s/cur", path);
	maildir = stat(sub, &st) == 0 && S_ISDIR(st.st_mode);
	free(sub);
	if (maildir) {
		/* A Maildir: new/ then cur/, never tmp/. */
		const char *box[] = { "new", "cur" };

		for (i = 0; i < 2; i++) {
			sub = xasprintf("%s/%s", path, box[i]);
			if ((n = scandir(sub, &names, visible, alphasort)) >= 0) {
				int k;

				for (k = 0; k < n; k++) {
					char *f = xasprintf("%s/%s", sub,
					    names[k]->d_name);

					do_path(f, "maildir", depth + 1);
					free(f);
					free(names[k]);
				}
				free(names);
			}
			free(sub);
		}
		return;
	}
	if ((n = scandir(path, &names, visible, alphasort)) < 0) {
		diag(path, "read", "%s", strerror(errno));
		g.status = status_worse(g.status, EX_NOINPUT);
		return;
	}
	for (i = 0; i < n; i++) {
		sub = xasprintf("%s/%s", path, names[i]->d_name);
		/* Links to files are followed, links to directories not: no loops. */
		if (lstat(sub, &st) == 0 && (S_ISDIR(st.st_mode) ||
		    (S_ISLNK(st.st_mode) && stat(sub, &st) == 0 &&
		    S_ISREG(st.st_mode)) || S_ISREG(st.st_mode)))
			do_path(sub, "file", depth + 1);
		free(sub);
		free(names[i]);
	}
	free(names);
}

static void
do_path(const char *path, const char *kind, int depth)
{
	struct stat st;
	int fd;

	if (strcmp(path, "-") == 0) {
		do_fd(STDIN_FILENO, NULL, "stdin");
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		diag(path, "open", "%s", strerror(errno));
		g.status = status_worse(g.status, EX_NOINPUT);
		if (fd != -1)
			close(fd);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		do_dir(path, depth);
		return;
	}
	do_fd(fd, path, kind);
	close(fd);
}

static unsigned long long
input_size(int argc, char **argv)
{
	unsigned long long total = 0;
	struct stat st;
	int i;

	if (argc == 0)
		return fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) ?
		    (unsigned long long)st.st_size : 0;
	for (i = 0; i < argc; i++)
		if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode))
			total += (unsigned long long)st.st_size;
	return total;
}

/*
 * Records go to a private copy of stdout; fd 1 becomes /dev/null, so a
 * library that prints (libytnef does, its own words for what the record's
 * defects already say) cannot corrupt the stream.
 */
static void
private_stdout(void)
{
	int nullfd;

	if ((g.outfd = dup(STDOUT_FILENO)) == -1 ||
	    (nullfd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    dup2(nullfd, STDOUT_FILENO) == -1) {
		diag("stdout", "dup", "%s", strerror(errno));
		exit(EX_OSERR);
	}
	close(nullfd);
}

/*
 * With --no-store the spool is not opened, let alone made, but its
 * keys/source is still looked for there, to believe mailfetch's lines.
 */
static void
open_spool(const char *dir, int nostore)
{
	char *d = NULL;

	if (dir == NULL && (dir = d = spool_default_dir()) == NULL &&
	    !nostore) {
		diag(NULL, "spool", "no spool: set MAILCASE_SPOOL or HOME, "
		    "or give -d");
		exit(EX_CONFIG);
	}
	if (!nostore && (g.sp = spool_open(dir)) == NULL) {
		diag(dir, "open spool", "%s", strerror(errno));
		exit(EX_CANTCREAT);
	}
	source_init(dir);
	free(d);
}

static void
start_workers(void)
{
	int i;

	if (g.nthreads <= 1)
		return;
	g.nring = (size_t)g.nthreads * RING_PER_THREAD + 1;
	g.ring = xcalloc(g.nring, sizeof(*g.ring));
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.work, NULL);
	pthread_cond_init(&g.done, NULL);
	for (i = 0; i < g.nthreads; i++)
		if (pthread_create(&g.tids[i], NULL, worker, NULL) != 0) {
			diag(NULL, "threads", "cannot start a thread");
			exit(EX_OSERR);
		}
}

static void
stop_workers(void)
{
	int i;

	if (g.nthreads <= 1)
		return;
	pthread_mutex_lock(&g.lock);
	g.stop = 1;
	pthread_cond_broadcast(&g.work);
	pthread_mutex_unlock(&g.lock);
	for (i = 0; i < g.nthreads; i++)
		pthread_join(g.tids[i], NULL);
	free(g.ring);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "no-store",	no_argument,		NULL, 'n' },
		{ "progress",	no_argument,		NULL, 'P' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *dir = NULL, *end;
	int ch, i, nostore = 0, progress = -1;
	long n;

	diag_init(argv[0]);
	private_stdout();
	/*
	 * Where glibc's malloc is used (the sanitizer build), keep freed
	 * memory rather than fault every page of every message in again.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	g.nthreads = 1;
	while ((ch = getopt_long(argc, argv, "d:j:h", longopts, NULL)) != -1)
		switch (ch) {
		case 'd':	dir = optarg; break;
		case 'n':	nostore = 1; break;
		case 'P':	progress = 1; break;
		case 'q':	progress = 0; break;
		case 'j':
			n = strtol(optarg, &end, 10);
			if (*end != '\0' || n < 1 || n > MAX_JOBS)
				usage();
			g.nthreads = (int)n;
			break;
		default:	usage();
		}
	argc -= optind;
	argv += optind;

	open_spool(dir, nostore);
	g_mime_init();
	json_object_seed(0);
	g.progress = progress == -1 ? isatty(STDERR_FILENO) : progress;
	g.total = input_size(argc, argv);
	g.start = g.last = now();
	g.inline_parser = parser_new(g.sp);
	start_workers();

	if (argc == 0)
		do_path("-", NULL, 0);
	for (i = 0; i < argc; i++)
		do_path(argv[i], "file", 0);

	drain();
	flush_out();
	show_progress(1);
	stop_workers();
	parser_free(g.inline_parser);
	spool_close(g.sp);
	free(g.out);
	return g.status;
}
