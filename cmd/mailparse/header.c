/*
 * A message's top header block, split the way GMime splits it.
 *
 * Most of the bytes GMime spends its header time on are the top fields a
 * record reads in its own way anyway: Received, DKIM and ARC chains run to
 * kilobytes per message.  When the block is plainly well formed, record.c
 * reads it from here and hands GMime only its Content-* fields, with the
 * body; anything odd (see hdr_split) is left to GMime whole, as before.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "limits.h"
#include "mailparse.h"
#include "xalloc.h"

static int
is_eol(const char *p, const char *end)
{
	return *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n');
}

/*
 * Split the header block at the start of data[0, len) into hb.  Returns 0
 * when every line is a field "name: value" (a name of printable ASCII,
 * blanks allowed before the colon) or the fold of one, and an empty line
 * ends the block; -1 for anything else: a first line GMime treats in its
 * own way ("From ", a fold, no colon), a bad name, a NUL byte, no end of
 * the block, more than MAX_HEADERS fields.
 */
int
hdr_split(const char *data, size_t len, struct hblock *hb)
{
	const char *p = data, *end = data + len, *nl, *q;
	struct hfield *f = NULL;

	hb->n = 0;
	if (len >= 5 && memcmp(data, "From ", 5) == 0)
		return -1;
	while (p < end && !is_eol(p, end)) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return -1;
		nl++;
		if (*p == ' ' || *p == '\t') {
			if (f == NULL)
				return -1;
			f->rawlen = (size_t)(nl - f->raw);
			f->len = (size_t)(nl - f->name);
			p = nl;
			continue;
		}
		for (q = p; *q > ' ' && *q < 0x7f && *q != ':'; q++)
			;
		if (q == p)
			return -1;
		if (hb->n == MAX_HEADERS)
			return -1;
		if (hb->n == hb->cap) {
			hb->cap = hb->cap ? hb->cap * 2 : 64;
			hb->f = xrealloc(hb->f, hb->cap * sizeof(*hb->f));
		}
		f = &hb->f[hb->n++];
		f->name = p;
		f->namelen = (size_t)(q - p);
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != ':')
			return -1;
		f->raw = q + 1;
		f->rawlen = (size_t)(nl - f->raw);
		f->offset = p - data;
		f->len = (size_t)(nl - p);
		p = nl;
	}
	if (p == end)
		return -1;
	hb->end = (size_t)(p - data);
	if (memchr(data, '\0', hb->end) != NULL)
		return -1;
	return 0;
}

/* Whether field f is called name, in any case. */
int
hdr_is(const struct hfield *f, const char *name)
{
	size_t n = strlen(name);

	return f->namelen == n && strncasecmp(f->name, name, n) == 0;
}

/* A Content-* field: the ones GMime reads for a MIME part. */
int
hdr_is_content(const struct hfield *f)
{
	return f->namelen >= 8 && strncasecmp(f->name, "Content-", 8) == 0;
}
