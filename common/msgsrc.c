#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "limits.h"
#include "msgsrc.h"

/* Read this much at a time. */
#define CHUNK	(1024 * 1024)

/* Bytes of a too-large message kept, enough for its headers. */
#define TOOLARGE_KEEP	(1024 * 1024)

struct msgsrc {
	int			 fd;
	char			*buf;
	size_t			 cap, pos, len;	/* unread data is buf[pos, len) */
	unsigned long long	 base;		/* input offset of buf[0] */
	int			 eof;
	int			 started, mbox;
	int			 mapped;	/* buf is a map of the file */
	int			 lend;		/* messages may be borrowed */
	int			 escaped;	/* this message has ">From " lines:
						   1, 0, or -1 when not known */
	size_t			 dropped;	/* map bytes given back */
	size_t			 index;
	void			(*idle)(void *);
	void			*idle_arg;
};

struct msgsrc *
msgsrc_new(int fd)
{
	struct msgsrc *s;

	struct stat st;
	void *map;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = fd;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (unsigned long long)st.st_size < (size_t)-1 / 2 &&
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
	    0)) != MAP_FAILED) {
		madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
		s->buf = map;
		s->len = s->cap = (size_t)st.st_size;
		s->eof = 1;
		s->mapped = 1;
	}
	return s;
}

void
msgsrc_free(struct msgsrc *s)
{
	if (s == NULL)
		return;
	if (s->mapped)
		munmap(s->buf, s->cap);
	else
		free(s->buf);
	free(s);
}

void
msgsrc_set_idle(struct msgsrc *s, void (*fn)(void *), void *arg)
{
	s->idle = fn;
	s->idle_arg = arg;
}

void
msgsrc_set_lend(struct msgsrc *s, int lend)
{
	s->lend = lend;
}

unsigned long long
msgsrc_consumed(const struct msgsrc *s)
{
	return s->base + s->len;
}

/*
 * The first "From " in p[0..n), or NULL: memmem's own search costs
 * several instructions a byte, and a mailbox is read through it whole.
 * Sixteen places at a time are tested for an 'F' with an 'm' three on.
 */
static const char *
find_from(const char *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i f = _mm_set1_epi8('F'), m = _mm_set1_epi8('m');
	unsigned hits, k;

	for (; i + 16 + 4 <= n; i += 16) {
		hits = (unsigned)_mm_movemask_epi8(_mm_and_si128(
		    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), f),
		    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i + 3)),
		    m)));
		for (; hits != 0; hits &= hits - 1) {
			k = (unsigned)__builtin_ctz(hits);
			if (memcmp(p + i + k, "From ", 5) == 0)
				return p + i + k;
		}
	}
#endif
	for (; i + 5 <= n; i++)
		if (p[i] == 'F' && memcmp(p + i, "From ", 5) == 0)
			return p + i;
	return NULL;
}

/* Read more input; keeps buf[keep, len).  0, or -1 on error. */
static int
fill(struct msgsrc *s, size_t keep)
{
	struct pollfd pfd;
	ssize_t n;
	char *p;

	if (keep > 0) {
		memmove(s->buf, s->buf + keep, s->len - keep);
		s->base += keep;
		s->len -= keep;
		s->pos -= keep;
	}
	if (s->cap - s->len < CHUNK) {
		size_t ncap = s->cap ? s->cap : CHUNK;

		while (ncap - s->len < CHUNK)
			ncap *= 2;
		if ((p = realloc(s->buf, ncap)) == NULL)
			return -1;
		s->buf = p;
		s->cap = ncap;
	}
	if (s->idle != NULL) {
		pfd.fd = s->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) == 0)
			s->idle(s->idle_arg);
	}
	do
		n = read(s->fd, s->buf + s->len, s->cap - s->len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0)
		s->eof = 1;
	s->len += (size_t)n;
	return 0;
}

int
msgsrc_is_from_line(const char *p, size_t n)
{
	size_t i, tok, toklen;

	if (n < 6 || memcmp(p, "From ", 5) != 0)
		return 0;
	i = 5;
	while (i < n && p[i] == ' ')
		i++;
	tok = i;
	while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
		i++;
	toklen = i - tok;
	/* "From :" or "From: " is a header, never a From_ line. */
	if (toklen == 0 || p[tok] == ':')
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	if (i == n)
		/* A sender alone: "From -", "From MAILER-DAEMON", an address. */
		return (toklen == 1 && p[tok] == '-') ||
		    memchr(p + tok, '@', toklen) != NULL ||
		    (toklen == 13 && memcmp(p + tok, "MAILER-DAEMON", 13) == 0);
	/* A sender and a date: something with a digit in it. */
	for (; i < n; i++)
		if (p[i] >= '0' && p[i] <= '9')
			return 1;
	return 0;
}

/* Is there a From_ line at buf[at] (a line start)?  -1: need more data. */
static int
from_line_at(struct msgsrc *s, size_t at)
{
	char *nl;

	if (s->len - at < 5)
		return s->eof ? 0 : -1;
	if (memcmp(s->buf + at, "From ", 5) != 0)
		return 0;
	if ((nl = memchr(s->buf + at, '\n', s->len - at)) == NULL) {
		if (!s->eof)
			return -1;
		return msgsrc_is_from_line(s->buf + at, s->len - at);
	}
	return msgsrc_is_from_line(s->buf + at, (size_t)(nl - (s->buf + at)));
}

/*
 * Copy buf[start, end) into m->data, unescaping mboxrd ">From " lines
 * when the input is an mbox.
 */
static int
take(struct msgsrc *s, size_t start, size_t end, struct rawmsg *m)
{
	const char *p = s->buf + start, *e = s->buf + end, *q, *line;
	char *o;

	if (s->mapped && s->lend && (!s->mbox || (s->escaped == 0 ||
	    (s->escaped == -1 && memmem(p, end - start, ">From ", 6) == NULL)))) {
		m->data = (char *)p;
		m->len = m->size = end - start;
		m->borrowed = 1;
		return 0;
	}
	if ((m->data = malloc(end - start + 1)) == NULL)
		return -1;
	o = m->data;
	if (!s->mbox) {
		memcpy(o, p, (size_t)(e - p));
		o += e - p;
	} else {
		line = p;
		for (;;) {
			/* line is a line start; unescape it if needed. */
			if (line < e && *line == '>') {
				q = line;
				while (q < e && *q == '>')
					q++;
				if (e - q >= 5 && memcmp(q, "From ", 5) == 0)
					line++;
			}
			q = memchr(line, '\n', (size_t)(e - line));
			q = q ? q + 1 : e;
			memcpy(o, line, (size_t)(q - line));
			o += q - line;
			if (q == e)
				break;
			/* Skip quickly to the next line that starts with '>'. */
			line = q;
			while (line < e && *line != '>') {
				q = memchr(line, '\n', (size_t)(e - line));
				if (q == NULL) {
					memcpy(o, line, (size_t)(e - line));
					o += e - line;
					line = e;
					break;
				}
				memcpy(o, line, (size_t)(q + 1 - line));
				o += q + 1 - line;
				line = q + 1;
			}
			if (line == e)
				break;
		}
	}
	m->len = (size_t)(o - m->data);
	m->size = m->len;
	m->data[m->len] = '\0';
	return 0;
}

/* Where the header block of a message starting at start ends, or 0. */
static size_t
header_end(struct msgsrc *s, size_t start)
{
	const char *p = s->buf + start, *e = s->buf + s->len, *q;

	for (;;) {
		if (p < e && *p == '\n')
			return (size_t)(p + 1 - s->buf);
		if (e - p >= 2 && p[0] == '\r' && p[1] == '\n')
			return (size_t)(p + 2 - s->buf);
		if ((q = memchr(p, '\n', (size_t)(e - p))) == NULL)
			return 0;
		p = q + 1;
	}
}

/* The Content-Length header in buf[start, hend), or -1. */
static long long
content_length(struct msgsrc *s, size_t start, size_t hend)
{
	const char *p = s->buf + start, *e = s->buf + hend, *q;
	char *end;
	long long v;

	while (p < e) {
		if (e - p > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
			errno = 0;
			v = strtoll(p + 15, &end, 10);
			if (errno == 0 && end != p + 15 && v >= 0)
				return v;
			return -1;
		}
		if ((q = memchr(p, '\n', (size_t)(e - p))) == NULL)
			break;
		p = q + 1;
	}
	return -1;
}

/* Drop the one empty line a writer puts between messages. */
static size_t
drop_separator(const char *buf, size_t start, size_t end)
{
	if (end - start >= 2 && buf[end - 1] == '\n' && buf[end - 2] == '\n')
		return end - 1;
	if (end - start >= 3 && buf[end - 1] == '\n' && buf[end - 2] == '\r' &&
	    buf[end - 3] == '\n')
		return end - 2;
	return end;
}

static int
next_single(struct msgsrc *s, struct rawmsg *m)
{
	if (s->mapped && s->len - s->pos > MAX_MESSAGE_BYTES) {
		if (take(s, s->pos, s->pos + TOOLARGE_KEEP, m) == -1)
			return -1;
		m->size = s->len - s->pos;
		m->toolarge = 1;
		s->pos = s->len;
		return 1;
	}
	while (!s->eof) {
		if (s->len - s->pos > MAX_MESSAGE_BYTES) {
			/* Keep the head, count the rest. */
			unsigned long long total = s->len - s->pos;

			while (!s->eof) {
				s->len = s->pos + TOOLARGE_KEEP;
				if (fill(s, 0) == -1)
					return -1;
				total += s->len - (s->pos + TOOLARGE_KEEP);
			}
			s->len = s->pos + TOOLARGE_KEEP;
			if (take(s, s->pos, s->len, m) == -1)
				return -1;
			m->size = total;
			m->toolarge = 1;
			s->pos = s->len;
			return 1;
		}
		if (fill(s, 0) == -1)
			return -1;
	}
	if (s->len == s->pos)
		return 0;
	if (take(s, s->pos, s->len, m) == -1)
		return -1;
	s->pos = s->len;
	return 1;
}

/*
 * Where the last message of the input ends.  An unfinished last line
 * after an empty one that is "From " or its beginning ("F", "Fr", ...)
 * is no line of the message, which an mbox writer would have escaped,
 * but a From_ line its writer was cut off in: it ends the message and
 * comes back alone, cut.
 */
static size_t
cut_tail(struct msgsrc *s, size_t start)
{
	const char *p = s->buf + start, *e = s->buf + s->len, *t;
	size_t n;

	if (e == p || e[-1] == '\n')
		return s->len;
	for (t = e; t > p && t[-1] != '\n'; t--)
		;
	/* After the empty line a writer puts before each From_ line. */
	if (t - p < 2 || !(t[-2] == '\n' || (t[-2] == '\r' && t - p >= 3 &&
	    t[-3] == '\n')))
		return s->len;
	n = (size_t)(e - t);
	if (memcmp(t, "From ", n < 5 ? n : 5) != 0)
		return s->len;
	return (size_t)(t - s->buf);
}

int
msgsrc_next(struct msgsrc *s, struct rawmsg *m)
{
	size_t start, body, scan, hend, at, end;
	long long cl;
	char *nl;
	const char *hit;
	int r, skipped = 0;

	memset(m, 0, sizeof(*m));
	if (!s->started) {
		while (s->len < 8 && !s->eof)
			if (fill(s, 0) == -1)
				return -1;
		if (s->len >= 3 && memcmp(s->buf, "\xef\xbb\xbf", 3) == 0)
			s->pos = 3;
		/* A first line "From  : x" is a header, not a From_ line. */
		nl = memchr(s->buf + s->pos, '\n', s->len - s->pos);
		s->mbox = msgsrc_is_from_line(s->buf + s->pos, nl ?
		    (size_t)(nl - (s->buf + s->pos)) : s->len - s->pos);
		s->started = 1;
		if (s->len == 0)
			return 0;
	}
	if (!s->mbox) {
		if (s->index > 0)
			return 0;
		s->index++;
		return next_single(s, m);
	}

	/*
	 * Drop what earlier messages used, but only once it is most of the
	 * buffer: moving the rest down for every message costs more than
	 * parsing it.
	 */
	if (s->mapped && s->pos - s->dropped > 64 * 1024 * 1024) {
		/* Borrowed messages fault back in if still in use. */
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t upto = s->pos / page * page;

		madvise(s->buf + s->dropped, upto - s->dropped, MADV_DONTNEED);
		s->dropped = upto;
	}
	if (!s->mapped && s->pos > 0 && s->pos >= s->cap / 2) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->base += s->pos;
		s->len -= s->pos;
		s->pos = 0;
	}
	while (s->pos == s->len || memchr(s->buf + s->pos, '\n',
	    s->len - s->pos) == NULL) {
		if (s->eof)
			break;
		if (fill(s, 0) == -1)
			return -1;
	}
	if (s->pos == s->len)
		return 0;
	m->mbox = 1;
	m->index = s->index++;
	m->offset = s->base + s->pos;
	nl = memchr(s->buf + s->pos, '\n', s->len - s->pos);
	if (nl == NULL) {
		/* A From_ line the input ends in: its writer was cut off. */
		m->cut = m->ateof = 1;
		if ((m->data = malloc(1)) == NULL)
			return -1;
		m->data[0] = '\0';
		s->pos = s->len;
		return 1;
	}
	start = nl ? (size_t)(nl + 1 - s->buf) : s->len;

	s->escaped = -1;
	/* Content-Length, when it lands exactly on the next From_ line. */
	while ((hend = header_end(s, start)) == 0 && !s->eof &&
	    s->len - start < 256 * 1024)
		if (fill(s, 0) == -1)
			return -1;
	/* fill() may have moved buf; start and hend are indexes. */
	if (hend != 0 && (cl = content_length(s, start, hend)) >= 0 &&
	    (unsigned long long)cl <= MAX_MESSAGE_BYTES) {
		at = hend + (size_t)cl;
		while (s->len < at + 8192 && !s->eof)
			if (fill(s, 0) == -1)
				return -1;
		end = at;
		if (at <= s->len) {
			if (s->len - at >= 1 && s->buf[at] == '\n')
				at++;
			else if (s->len - at >= 2 && s->buf[at] == '\r' &&
			    s->buf[at + 1] == '\n')
				at += 2;
			if (at == s->len && s->eof) {
				if (take(s, start, end, m) == -1)
					return -1;
				s->pos = at;
				return 1;
			}
			if ((r = from_line_at(s, at)) == 1 &&
			    (s->buf[at - 1] == '\n')) {
				if (take(s, start, end, m) == -1)
					return -1;
				s->pos = at;
				return 1;
			}
		}
	}

	/*
	 * Otherwise the next From_ line ends it.  One pass finds both the
	 * From_ line and whether any ">From " line needs unescaping.
	 */
	scan = start;
	s->escaped = 0;
	for (;;) {
		body = s->len;
		hit = NULL;
		if (s->len - scan >= 5)
			hit = find_from(s->buf + scan, s->len - scan);
		if (hit != NULL && hit > s->buf + start && hit[-1] != '\n') {
			if (hit[-1] == '>') {
				const char *q = hit - 1;

				while (q > s->buf + start && q[-1] == '>')
					q--;
				if (q == s->buf + start || q[-1] == '\n')
					s->escaped = 1;
			}
			scan = (size_t)(hit - s->buf) + 1;
			continue;
		}
		if (hit != NULL) {
			at = (size_t)(hit - s->buf);
			if ((r = from_line_at(s, at)) == 1) {
				body = at;
				break;
			}
			if (r == -1) {
				scan = at;
				if (fill(s, 0) == -1)
					return -1;
				continue;
			}
			scan = at + 1;
			continue;
		}
		if (s->eof)
			break;
		if (s->len - start > MAX_MESSAGE_BYTES) {
			/* Too large: keep the head, skip to the next From_ line. */
			size_t keep = start + TOOLARGE_KEEP;

			if (!skipped) {
				if (take(s, start, keep, m) == -1)
					return -1;
				m->size = 0;
				skipped = 1;
			}
			m->size += s->len - start - 5;
			/* Forget all but the last 5 bytes, which may start "\nFrom". */
			s->pos = s->len - 5;
			if (fill(s, s->pos) == -1)
				return -1;
			start = s->pos;
			scan = start + 1;
			continue;
		}
		/* A "From " may straddle the end of what is read. */
		scan = s->len > 4 ? s->len - 4 : start;
		if (scan < start)
			scan = start;
		if (fill(s, 0) == -1)
			return -1;
	}
	if (body == s->len && s->eof)
		body = cut_tail(s, start);
	if (skipped) {
		m->size += body - start;
		m->toolarge = 1;
		s->pos = body;
		return 1;
	}
	end = drop_separator(s->buf, start, body);
	if (end - start > MAX_MESSAGE_BYTES) {
		if (take(s, start, start + TOOLARGE_KEEP, m) == -1)
			return -1;
		m->size = end - start;
		m->toolarge = 1;
		s->pos = body;
		return 1;
	}
	if (take(s, start, end, m) == -1)
		return -1;
	m->ateof = body == s->len && s->eof;
	s->pos = body;
	return 1;
}
