/*
 * JSON Lines in and out.  The only module that reads or writes JSON; it
 * wraps jansson.  Every record is one object on one line, UTF-8, carrying
 * "v":1 and "kind".
 */
#ifndef JSONL_H
#define JSONL_H

#include <stdio.h>
#include <jansson.h>

/*
 * A JSON string from n bytes of mail, which need not be UTF-8: invalid
 * bytes become U+FFFD, NUL bytes stay (as \u0000).  s == NULL gives
 * JSON null.  Returns a new reference; exits EX_OSERR when out of memory.
 */
json_t	*jsonl_str(const char *s, size_t n);
/* The same for a NUL-terminated string. */
json_t	*jsonl_cstr(const char *s);

/* A new record object with "v":1 and "kind" set. */
json_t	*jsonl_record(const char *kind);

/* An {"code","text"} object for a record's "error" or a defect. */
json_t	*jsonl_error(const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Serialize rec as one compact line ending in "\n", into a malloc'ed
 * buffer whose length goes to *len.  The caller frees.
 */
char	*jsonl_dump(json_t *rec, size_t *len);

/* One JSON object from n bytes (a new reference), or NULL if it is none. */
json_t	*jsonl_parse(const char *s, size_t n);

/* Write rec as one line to fp; 0, or -1 with errno set on a write error. */
int	 jsonl_write(FILE *fp, json_t *rec);

/*
 * Writing JSON without building it as json_t first, for output made of
 * thousands of small values (artifactx's indicators): jsonl_write_with
 * writes rec with the value of its member key written by fn, in that
 * member's place, or last when rec has none.  fn writes one JSON value
 * with these three.  0, or -1 with errno set on a write error.
 */
struct jsonw;
void	 jsonw_raw(struct jsonw *w, const char *s);	/* as it is */
void	 jsonw_str(struct jsonw *w, const char *s, size_t n);	/* quoted */
void	 jsonw_value(struct jsonw *w, json_t *v);
int	 jsonl_write_with(FILE *fp, json_t *rec, const char *key,
	    void (*fn)(struct jsonw *w, void *arg), void *arg);

/*
 * The record loop every filter uses: read fp line by line (empty lines
 * are skipped), parse each line, call fn(rec, arg) with the object (a
 * borrowed reference, freed after fn returns).  A line that is not a JSON
 * object, or longer than MAX_RECORD_BYTES, is not given to fn: an error
 * record {"v":1,"kind":"error","error":{…},"input":…} carrying the line
 * goes to out, and one line to stderr.  fn returns 0 or a sysexits code.
 * Returns the worst status seen: 0, EX_DATAERR for bad lines, fn's codes,
 * EX_IOERR when reading failed.
 */
int	 jsonl_loop(FILE *fp, const char *name, FILE *out,
	    int (*fn)(json_t *rec, void *arg), void *arg);

/*
 * What fn returns when it keeps the record (the reference is now its
 * own; the loop does not free it), say to hand it to another thread.
 */
#define JSONL_KEPT	(-2)

/*
 * The same, calling idle(arg) whenever the next read may block (input
 * from a pipe that has nothing more yet): the moment to make a batch of
 * work durable and let its records go.  idle returns 0 or a sysexits
 * code, which counts towards the status.  The input is read with
 * read(2) on fileno(fp), never through fp's buffer.  With out NULL, the
 * error records of bad lines go to fn too (kind "error"), so that a tool
 * holding records back keeps them in order.
 */
int	 jsonl_loop_idle(FILE *fp, const char *name, FILE *out,
	    int (*fn)(json_t *rec, void *arg), int (*idle)(void *arg),
	    void *arg);

/* Keep the worse of two exit statuses (temporary failures outrank data). */
int	 status_worse(int a, int b);

#endif
