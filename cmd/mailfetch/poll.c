/*
 * One poll of one folder, and the cursor that makes it exactly once.
 *
 * The cursor, fetch/<account>/<md5 of the folder>, says which UIDVALIDITY
 * it belongs to, the next UID never seen, the UIDs below it still owed
 * (the latest-first overflow, and a poll's selection while it runs) and
 * those held back for their size.  Before a message is asked for, the
 * cursor already lists it as owed; it is struck off only after its bytes
 * were written to stdout, so a poll killed at any moment owes, on the
 * next run, every message it did not finish, and re-sends at most the
 * few written since the cursor was last replaced (mailparse and codematch
 * know them by their id).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "diag.h"
#include "hash.h"
#include "keys.h"
#include "mailfetch.h"
#include "origin.h"
#include "spool.h"
#include "xalloc.h"

/* Messages written, or seconds, between two replacements of the cursor. */
#define CURSOR_EVERY	256
#define CURSOR_SECONDS	1.0
/* Output gathered into one write(2); a message larger goes alone. */
#define OUT_FLUSH	(1024 * 1024)

struct cursor {
	unsigned long long uidvalidity;
	uint32_t	 next;
	struct uidset	 pending;
	struct uidset	 held;
	int		 exists;	/* a file was there */
};

struct poll {
	struct spool	*sp;
	struct imap	*imap;
	const struct account *acct;
	const struct pollopts *o;
	struct mailbox	 mb;
	struct cursor	 c;
	int		 keep;		/* write the cursor */
	char		 path[300];
	unsigned char	 key[KEY_SECRET_BYTES];
	char		*out;		/* messages not yet written */
	size_t		 outlen, outcap;
	struct uidset	 inout;		/* their UIDs */
	unsigned	 nout;		/* and their number */
	unsigned	 unsaved;
	double		 saved_at;	/* monotonic seconds */
	struct uidset	 done;		/* written, for --mark-seen/--move-to */
	unsigned long long written, toolarge;
	int		 status;
};

static int	flush(struct poll *);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
cursor_free(struct cursor *c)
{
	uidset_free(&c->pending);
	uidset_free(&c->held);
	memset(c, 0, sizeof(*c));
}

static int
cursor_load(struct poll *p)
{
	char buf[1 << 16], *line, *save, *sp;
	ssize_t n;
	int fd;

	memset(&p->c, 0, sizeof(p->c));
	if ((fd = openat(spool_dirfd(p->sp), p->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		diag(p->path, "open", "%s", strerror(errno));
		return EX_IOERR;
	}
	/* Ranges keep it small; a file this big is not ours. */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n == sizeof(buf) - 1) {
		diag(p->path, "read", "%s", n < 0 ? strerror(errno) : "too big");
		return EX_IOERR;
	}
	buf[n] = '\0';
	p->c.exists = 1;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (*line == '#')
			continue;
		if ((sp = strchr(line, ' ')) == NULL)
			goto bad;
		*sp++ = '\0';
		if (strcmp(line, "uidvalidity") == 0)
			p->c.uidvalidity = strtoull(sp, NULL, 10);
		else if (strcmp(line, "next") == 0)
			p->c.next = (uint32_t)strtoul(sp, NULL, 10);
		else if (strcmp(line, "pending") == 0) {
			if (uidset_parse(&p->c.pending, sp, strlen(sp)) == -1)
				goto bad;
		} else if (strcmp(line, "held") == 0) {
			if (uidset_parse(&p->c.held, sp, strlen(sp)) == -1)
				goto bad;
		} else
			goto bad;
	}
	if (p->c.uidvalidity == 0 || p->c.next == 0)
		goto bad;
	return 0;
bad:
	diag(p->path, "read", "not a cursor file; move it away to start over");
	cursor_free(&p->c);
	return EX_DATAERR;
}

static int
cursor_save(struct poll *p)
{
	char *pend, *held, *text;
	int r;

	if ((r = flush(p)) != 0 || !p->keep)
		return r;
	pend = uidset_format(&p->c.pending, 0, p->c.pending.n, NULL);
	held = uidset_format(&p->c.held, 0, p->c.held.n, NULL);
	text = xasprintf("# mailfetch cursor: account %s, folder %s\n"
	    "uidvalidity %llu\nnext %u\n%s%s%s%s%s%s", p->acct->name,
	    p->o->folder, p->c.uidvalidity, p->c.next,
	    *pend ? "pending " : "", pend, *pend ? "\n" : "",
	    *held ? "held " : "", held, *held ? "\n" : "");
	if (spool_replace(p->sp, p->path, text, strlen(text)) == -1) {
		diag(p->path, "write", "%s", strerror(errno));
		r = errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_CANTCREAT;
	}
	p->unsaved = 0;
	p->saved_at = now();
	free(text);
	free(pend);
	free(held);
	return r;
}

/* "17-Jul-1996 02:44:25 -0700" as a From_ line's date, in UTC. */
static void
from_date(const char *internaldate, char *out, size_t outsz)
{
	struct tm tm;
	time_t t;
	const char *e;

	memset(&tm, 0, sizeof(tm));
	e = *internaldate ? strptime(internaldate + (*internaldate == ' '),
	    "%d-%b-%Y %H:%M:%S %z", &tm) : NULL;
	if (e != NULL) {
		long off = tm.tm_gmtoff;

		t = timegm(&tm) - off;
	} else
		t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(out, outsz, "%a %b %e %H:%M:%S %Y", &tm);
}

/* Does the line at s (n bytes left) need a '>' in mboxrd? */
static int
from_line(const char *s, size_t n)
{
	while (n > 0 && *s == '>') {
		s++;
		n--;
	}
	return n >= 5 && memcmp(s, "From ", 5) == 0;
}

static int
write_out(const char *buf, size_t n)
{
	if (spool_write_all(STDOUT_FILENO, buf, n) == -1) {
		diag("stdout", "write", "%s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

/*
 * Write the gathered messages; only now are they struck off.  Called
 * before every cursor save, so the cursor never passes a message that
 * is still in our buffer.
 */
static int
flush(struct poll *p)
{
	size_t i;
	uint32_t u;
	int r;

	if (p->outlen == 0)
		return 0;
	r = write_out(p->out, p->outlen);
	p->outlen = 0;
	p->nout = 0;
	if (r != 0) {
		uidset_free(&p->inout);
		return r;
	}
	for (i = 0; i < p->inout.n; i++)
		for (u = p->inout.r[i].lo; ; u++) {
			uidset_del(&p->c.pending, u);
			uidset_del(&p->c.held, u);
			p->written++;
			p->unsaved++;
			if (u == p->inout.r[i].hi)
				break;
		}
	uidset_union(&p->done, &p->inout);
	uidset_free(&p->inout);
	return 0;
}

/* One message to stdout as an mboxrd entry with its origin header. */
static int
deliver(struct poll *p, const struct fetched *f)
{
	char date[64], hdr[ORIGIN_LINE_MAX];
	const char *s = f->data, *e = f->data + f->len, *nl;
	size_t len = 0, need;
	int n;

	n = origin_header(p->key, p->acct->name, p->o->folder,
	    p->mb.uidvalidity, f->uid, f->data, f->len, hdr, sizeof(hdr));
	if (n < 0) {
		diag(p->o->folder, "origin", "folder name too long");
		return EX_CONFIG;
	}
	from_date(f->internaldate, date, sizeof(date));
	/* Every line may gain a '>'; count them first. */
	need = f->len + (size_t)n + strlen(p->acct->name) + 128;
	for (nl = s; nl < e; ) {
		if ((*nl == 'F' || *nl == '>') && from_line(nl, (size_t)(e - nl)))
			need++;
		if ((nl = memchr(nl, '\n', (size_t)(e - nl))) == NULL)
			break;
		nl++;
	}
	xgrow(&p->out, &p->outcap, p->outlen + need);
	len = p->outlen;
	len += (size_t)snprintf(p->out + len, p->outcap - len,
	    "From mailfetch@%s %s\n", p->acct->name, date);
	memcpy(p->out + len, hdr, (size_t)n);
	len += (size_t)n;
	while (s < e) {
		size_t k;

		if ((*s == 'F' || *s == '>') && from_line(s, (size_t)(e - s)))
			p->out[len++] = '>';
		nl = memchr(s, '\n', (size_t)(e - s));
		k = nl ? (size_t)(nl + 1 - s) : (size_t)(e - s);
		memcpy(p->out + len, s, k);
		len += k;
		s += k;
	}
	if (f->len > 0 && f->data[f->len - 1] != '\n')
		p->out[len++] = '\n';
	p->out[len++] = '\n';
	p->outlen = len;
	uidset_add(&p->inout, f->uid);
	p->nout++;
	return p->outlen >= OUT_FLUSH ? flush(p) : 0;
}

static int
on_message(const struct fetched *f, void *arg)
{
	struct poll *p = arg;
	int r;

	if (f->toolarge) {
		diag(imap_server(p->imap), "UID FETCH", "%s UID %u: %llu bytes, "
		    "over the limit of %llu: held back (--max-size to raise "
		    "it, --skip-uid %u to drop it)", p->o->folder, f->uid,
		    f->size, p->o->maxsize, f->uid);
		uidset_del(&p->c.pending, f->uid);
		uidset_add(&p->c.held, f->uid);
		p->toolarge++;
		p->unsaved++;
		return 0;
	}
	if ((r = deliver(p, f)) != 0)
		return r;
	/* Written or on their way, never more than CURSOR_EVERY unsaved. */
	if (p->unsaved + p->nout >= CURSOR_EVERY || (p->unsaved + p->nout > 0 &&
	    now() - p->saved_at >= CURSOR_SECONDS))
		return cursor_save(p);
	return 0;
}

static int
on_chunk(void *arg)
{
	struct poll *p = arg;
	struct uidset done;
	int r;

	if ((r = flush(p)) != 0 ||
	    (p->unsaved > 0 && (r = cursor_save(p)) != 0))
		return r;
	if (p->done.n == 0)
		return 0;
	/*
	 * Taken out first: the next FETCH is already at the server, and its
	 * messages arrive (and are written) while the STORE or MOVE waits.
	 */
	done = p->done;
	memset(&p->done, 0, sizeof(p->done));
	r = 0;
	if (p->o->mark_seen)
		r = imap_mark_seen(p->imap, &done);
	if (r == 0 && p->o->move_to != NULL)
		r = imap_move(p->imap, &done, p->o->move_to);
	uidset_free(&done);
	return r;
}

/* What a scheduled poll asks for this time; the plan goes in the cursor. */
static int
plan(struct poll *p, struct uidset *take)
{
	struct uidset news = { NULL, 0, 0 }, cand = { NULL, 0, 0 },
	    took_new = { NULL, 0, 0 };
	unsigned long long max;
	int first = !p->c.exists, r;
	uint32_t next;

	if (p->c.exists && p->c.uidvalidity != p->mb.uidvalidity) {
		diag(imap_server(p->imap), p->o->folder, "UIDVALIDITY changed "
		    "from %llu to %llu: the folder was made anew; fetching it "
		    "again from the start", p->c.uidvalidity, p->mb.uidvalidity);
		cursor_free(&p->c);
		first = 1;
	}
	if (first) {
		p->c.uidvalidity = p->mb.uidvalidity;
		p->c.next = 1;
	}
	max = first ? p->o->first_run_max : p->o->max;
	if ((r = imap_search_from(p->imap, p->c.next, &news)) != 0)
		goto done;
	/* Held ones are tried again each time: the limit may be higher. */
	uidset_minus(&p->c.held, &p->o->skip);
	uidset_minus(&p->c.pending, &p->o->skip);
	uidset_union(&cand, &p->c.pending);
	uidset_union(&cand, &news);
	uidset_minus(&cand, &p->c.held);
	uidset_take(&cand, max, p->o->newest, take);
	if (p->o->newest)
		next = news.n ? uidset_max(&news) + 1 : p->c.next;
	else {
		uidset_union(&took_new, take);
		uidset_minus(&took_new, &p->c.pending);
		next = took_new.n ? uidset_max(&took_new) + 1 : p->c.next;
	}
	/* Owed from now on: the pending, the new ones below next. */
	uidset_union(&p->c.pending, &news);
	uidset_below(&p->c.pending, next);
	p->c.next = next;
	uidset_union(take, &p->c.held);
	r = cursor_save(p);
done:
	uidset_free(&news);
	uidset_free(&cand);
	uidset_free(&took_new);
	return r;
}

static int
lock_folder(struct poll *p)
{
	char lock[320];
	int fd;

	/* The lock file is made once and never replaced: flock needs one inode. */
	snprintf(lock, sizeof(lock), "fetch/%s", p->acct->name);
	if ((mkdirat(spool_dirfd(p->sp), "fetch", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(spool_dirfd(p->sp), lock, 0700) == -1 && errno != EEXIST)) {
		diag(lock, "mkdir", "%s", strerror(errno));
		return -1;
	}
	snprintf(lock, sizeof(lock), "%s.lock", p->path);
	if ((fd = openat(spool_dirfd(p->sp), lock, O_RDWR | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		diag(lock, "open", "%s", strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		diag(p->o->folder, "lock", "another mailfetch is polling this "
		    "folder of account %s", p->acct->name);
		close(fd);
		return -2;
	}
	return fd;
}

int
poll_folder(struct spool *sp, struct imap *imap, const struct account *acct,
    const struct pollopts *o)
{
	struct poll p;
	struct uidset take = { NULL, 0, 0 }, gone = { NULL, 0, 0 };
	unsigned char pk[KEY_PUBLIC_BYTES];
	char folderhash[33];
	int r, lockfd = -1, rw = o->mark_seen || o->move_to != NULL;

	memset(&p, 0, sizeof(p));
	p.saved_at = now();
	p.sp = sp;
	p.imap = imap;
	p.acct = acct;
	p.o = o;
	hash_md5_hex(o->folder, strlen(o->folder), folderhash);
	snprintf(p.path, sizeof(p.path), "fetch/%s/%s", acct->name, folderhash);
	if ((r = imap_select(imap, o->folder, rw && !o->check, &p.mb)) != 0)
		return r;
	if (o->check) {
		printf("%s: %s: %llu messages, UIDVALIDITY %llu, UIDNEXT %u\n",
		    acct->name, o->folder, p.mb.exists, p.mb.uidvalidity,
		    p.mb.uidnext);
		return fflush(stdout) == 0 ? 0 : EX_IOERR;
	}
	if (key_pair_get(sp, "source", pk, p.key) == -1) {
		diag(spool_dir(sp), "keys/source", "%s", strerror(errno));
		return EX_CANTCREAT;
	}
	if (o->uid != 0) {
		uidset_add(&take, o->uid);
	} else if (o->poll_now) {
		struct uidset all = { NULL, 0, 0 };

		if ((r = imap_search_from(imap, 1, &all)) == 0)
			uidset_take(&all, o->max, o->newest, &take);
		uidset_free(&all);
		if (r != 0)
			goto done;
	} else {
		if ((lockfd = lock_folder(&p)) < 0) {
			r = lockfd == -2 ? EX_TEMPFAIL : EX_CANTCREAT;
			goto done;
		}
		if ((r = cursor_load(&p)) != 0)
			goto done;
		p.keep = 1;
		if ((r = plan(&p, &take)) != 0)
			goto done;
	}
	r = imap_fetch(imap, &take, o->maxsize, on_message, on_chunk, &p, &gone);
	if (r == 0 && gone.n > 0 && o->uid == 0) {
		char *list = uidset_format(&gone, 0, gone.n, NULL);

		diag(imap_server(imap), o->folder, "UIDs %s were deleted before "
		    "they could be fetched", list);
		free(list);
		uidset_minus(&p.c.pending, &gone);
		uidset_minus(&p.c.held, &gone);
		p.unsaved++;
	}
	if (r == 0 && o->uid != 0 && p.written == 0 && p.toolarge == 0) {
		diag(imap_server(imap), o->folder, "no message with UID %u", o->uid);
		r = EX_NOINPUT;
	}
	/* Whole messages gathered before a failure still go out. */
	{
		int r2 = p.keep ? cursor_save(&p) : flush(&p);

		if (r == 0)
			r = r2;
	}
	/* Held back for its size: said on every run until dealt with. */
	if (r == 0 && p.toolarge > 0)
		r = EX_DATAERR;
done:
	sodium_memzero(p.key, sizeof(p.key));
	if (lockfd >= 0)
		close(lockfd);
	cursor_free(&p.c);
	uidset_free(&take);
	uidset_free(&gone);
	uidset_free(&p.done);
	uidset_free(&p.inout);
	free(p.out);
	return r;
}
