/*
 * mailparse's split of a top header block (cmd/mailparse/header.c): what
 * it takes as plainly well formed, where each field and the block end,
 * and what it leaves to GMime.
 */
#include <stdlib.h>
#include <string.h>

#include "mailparse.h"
#include "tap.h"

static int
split(const char *msg, struct hblock *hb)
{
	return hdr_split(msg, strlen(msg), hb);
}

static int
field_is(const struct hblock *hb, size_t i, const char *name,
    const char *raw, long long offset)
{
	const struct hfield *f = &hb->f[i];

	return i < hb->n && f->namelen == strlen(name) &&
	    memcmp(f->name, name, f->namelen) == 0 &&
	    f->rawlen == strlen(raw) && memcmp(f->raw, raw, f->rawlen) == 0 &&
	    f->offset == offset;
}

int
main(void)
{
	struct hblock hb;
	const char *crlf = "Subject: a\r\n b\r\nFrom : x@y\r\nX:\r\n"
	    "Content-Type: text/plain\r\n\r\nbody\r\n";
	const char *lf = "Received: one\nReceived: two\n\tthree\n\nbody\n";

	memset(&hb, 0, sizeof(hb));

	/* GMime's split of the same block: see its g_mime_header_get_raw_value. */
	ok(split(crlf, &hb) == 0 && hb.n == 4, "a CR LF block: four fields");
	ok(field_is(&hb, 0, "Subject", " a\r\n b\r\n", 0),
	    "a folded field: its raw value runs through its last line break");
	ok(field_is(&hb, 1, "From", " x@y\r\n", 16),
	    "blanks before the colon are not part of the name");
	ok(field_is(&hb, 2, "X", "\r\n", 28), "an empty value");
	ok(field_is(&hb, 3, "Content-Type", " text/plain\r\n", 32) &&
	    hdr_is_content(&hb.f[3]) && !hdr_is_content(&hb.f[0]),
	    "a Content-* field is one");
	ok(hb.end == 58 && hb.f[0].len == 16 && hb.f[3].len == 26,
	    "the block ends at its empty line; each field's lines counted");
	ok(hdr_is(&hb.f[1], "from") && !hdr_is(&hb.f[1], "Fro"),
	    "names compare in any case, whole");

	ok(split(lf, &hb) == 0 && hb.n == 2 &&
	    field_is(&hb, 1, "Received", " two\n\tthree\n", 14) && hb.end == 35,
	    "an LF block, a field folded with a tab");
	ok(split("Subject: x\n\n", &hb) == 0 && hb.end == 11,
	    "an empty body");

	/* Left to GMime, which has its own ways with each. */
	ok(split("From a@b Mon Nov  2 10:00:00 2026\nSubject: x\n\n", &hb) == -1,
	    "an mbox From_ line first");
	ok(split(" Subject: x\n\n", &hb) == -1, "a fold before any field");
	ok(split("Subject x\nTo: y\n\n", &hb) == -1, "a line without a colon");
	ok(split("Sub ject: x\n\n", &hb) == -1, "a blank inside a name");
	ok(split(": x\n\n", &hb) == -1, "an empty name");
	ok(split("Sub\xe9: x\n\n", &hb) == -1, "an 8-bit byte in a name");
	ok(split("Subject: x\nTo: y\n", &hb) == -1, "no empty line: truncated");
	ok(split("Subject: x", &hb) == -1, "no line break at all");
	ok(hdr_split("Subject: a\0b\n\nbody", 18, &hb) == -1,
	    "a NUL byte in the block");
	ok(hdr_split("Subject: a\n\nb\0dy", 17, &hb) == 0,
	    "a NUL byte in the body is the body's business");
	ok(split("Subject: x\r\r\n\r\n", &hb) == 0 &&
	    field_is(&hb, 0, "Subject", " x\r\r\n", 0),
	    "a stray CR stays in the value, as GMime keeps it");

	free(hb.f);
	return tap_done();
}
