/*
 * gmimewalk - the bare GMime walk that mailparse is measured against.
 *
 * It does the work no MIME-to-JSON tool can avoid and nothing else: split
 * an mbox at "From " lines, parse each message with GMime 3 and decode
 * every leaf part into a null stream.  No JSON, no hashing, no spool, no
 * charset conversion, no mboxrd unescaping.
 *
 * The file is read with large read()s into one GByteArray behind a
 * GMimeStreamMem; each message goes to the parser as a substream of that
 * buffer, and GMime's persistent-stream mode makes every part's content a
 * substream of it too, so no message is copied before GMime's own reads.
 * A message is freed before the buffer moves, so no substream outlives
 * the bytes it points at.
 *
 * Output, one line on stdout: "N messages B bytes P parts D decoded".
 */

#define _GNU_SOURCE		/* memmem(3) in glibc */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <gmime/gmime.h>

/* Size of each read(); the buffer only grows past it for a longer message. */
#define CHUNK		(8 * 1024 * 1024)

struct walk {
	GMimeStream	*mem;		/* the whole read buffer */
	GMimeStream	*null;		/* where decoded content goes */
	unsigned long	 messages;
	unsigned long	 parts;
	unsigned long	 failed;	/* messages GMime returned NULL for */
};

static void	usage(void);
static void	decode(GMimePart *, struct walk *);
static void	walk_message(struct walk *, size_t, size_t);
static void	record(struct walk *, const guint8 *, size_t, size_t);
static int	split(int, struct walk *, off_t *);

static const char *progname = "gmimewalk";

static void
usage(void)
{
	fprintf(stderr, "usage: %s [mbox]\n", progname);
	exit(EX_USAGE);
}

static void
decode(GMimePart *part, struct walk *w)
{
	GMimeDataWrapper *content;

	w->parts++;
	if ((content = g_mime_part_get_content(part)) != NULL)
		g_mime_data_wrapper_write_to_stream(content, w->null);
}

/* Parse buf[start, end) and decode each leaf, nested messages included. */
static void
walk_message(struct walk *w, size_t start, size_t end)
{
	GMimeStream *sub;
	GMimeParser *parser;
	GMimeMessage *msg;
	GMimeObject *top, *cur;
	GMimePartIter *iter;

	sub = g_mime_stream_substream(w->mem, start, end);
	parser = g_mime_parser_new_with_stream(sub);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(sub);
	w->messages++;
	if (msg == NULL) {
		w->failed++;
		return;
	}

	/*
	 * GMimePartIter starts at the first child of the top-level part,
	 * so a message that is one single part needs handling by hand.
	 */
	top = g_mime_message_get_mime_part(msg);
	if (top != NULL && GMIME_IS_PART(top))
		decode((GMimePart *)top, w);
	else if (top != NULL) {
		iter = g_mime_part_iter_new((GMimeObject *)msg);
		while (g_mime_part_iter_is_valid(iter)) {
			cur = g_mime_part_iter_get_current(iter);
			if (GMIME_IS_PART(cur))
				decode((GMimePart *)cur, w);
			if (!g_mime_part_iter_next(iter))
				break;
		}
		g_mime_part_iter_free(iter);
	}
	g_object_unref(msg);
}

/* One mbox record at buf[start, end): drop its From_ line, parse the rest. */
static void
record(struct walk *w, const guint8 *buf, size_t start, size_t end)
{
	const guint8 *nl;

	if (end - start >= 5 && memcmp(buf + start, "From ", 5) == 0) {
		nl = memchr(buf + start, '\n', end - start);
		start = nl == NULL ? end : (size_t)(nl - buf) + 1;
	}
	walk_message(w, start, end);
}

/*
 * A record runs from a line beginning "From " up to the next one; bytes
 * before the first From_ line, if any, make a record of their own.
 */
static int
split(int fd, struct walk *w, off_t *total)
{
	GByteArray *buf;
	const guint8 *p;
	size_t cap = CHUNK, fill = 0, pos = 0, scan = 0;
	ssize_t n;
	int eof = 0;

	buf = g_byte_array_sized_new(cap);
	g_byte_array_set_size(buf, cap);
	w->mem = g_mime_stream_mem_new_with_byte_array(buf);

	for (;;) {
		p = NULL;
		if (fill - scan >= 6)
			p = memmem(buf->data + scan, fill - scan, "\nFrom ", 6);
		if (p != NULL) {
			scan = (size_t)(p - buf->data) + 1;
			record(w, buf->data, pos, scan);
			pos = scan;
			continue;
		}
		if (eof) {
			if (pos < fill)
				record(w, buf->data, pos, fill);
			break;
		}

		/* Keep the unfinished record, move it to the front, read on. */
		scan = fill - pos >= 5 ? fill - 5 : pos;
		if (pos > 0) {
			memmove(buf->data, buf->data + pos, fill - pos);
			fill -= pos;
			scan -= pos;
			pos = 0;
		}
		if (fill == cap) {
			if (cap > SIZE_MAX / 2 || cap * 2 > G_MAXUINT) {
				fprintf(stderr, "%s: message too large\n",
				    progname);
				goto fail;
			}
			cap *= 2;
			g_byte_array_set_size(buf, cap);
		}
		while ((n = read(fd, buf->data + fill, cap - fill)) == -1 &&
		    errno == EINTR)
			;
		if (n == -1) {
			fprintf(stderr, "%s: read: %s\n", progname,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			eof = 1;
		fill += n;
		*total += n;
	}
	g_object_unref(w->mem);
	return 0;

fail:
	g_object_unref(w->mem);
	return -1;
}

int
main(int argc, char *argv[])
{
	struct walk w;
	off_t total = 0;
	int fd;

	if (argc > 0 && argv[0] != NULL && strrchr(argv[0], '/') != NULL)
		progname = strrchr(argv[0], '/') + 1;
	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1] != '\0'))
		usage();

	if (argc < 2)
		fd = STDIN_FILENO;
	else if (strcmp(argv[1], "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(argv[1], O_RDONLY)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", progname, argv[1],
		    strerror(errno));
		return EX_NOINPUT;
	}

	g_mime_init();
	memset(&w, 0, sizeof(w));
	w.null = g_mime_stream_null_new();
	if (split(fd, &w, &total) == -1)
		return EX_IOERR;

	printf("%lu messages %lld bytes %lu parts %llu decoded\n",
	    w.messages, (long long)total, w.parts,
	    (unsigned long long)GMIME_STREAM_NULL(w.null)->written);
	if (w.failed > 0)
		fprintf(stderr, "%s: %lu messages failed to parse\n",
		    progname, w.failed);
	g_object_unref(w.null);
	g_mime_shutdown();
	return w.failed > 0 ? EX_DATAERR : 0;
}
