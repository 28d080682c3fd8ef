/*
 * The case views and commands: XSOAR's layouts and display scripts as
 * text, JSON or one self-contained HTML page, and the few changes an
 * analyst makes by hand (close, reopen, a new thread).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cases.h"
#include "codematch.h"
#include "diag.h"
#include "html.h"
#include "jsonl.h"
#include "spool.h"
#include "xalloc.h"

/* Print text from mail to a terminal: no control characters but \n, \t. */
static void
put_safe(FILE *fp, const char *s)
{
	for (; s != NULL && *s; s++)
		fputc(((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') ||
		    *s == 0x7f ? '?' : *s, fp);
}

int
case_resolve(struct cases *cs, const char *code, char *casecode)
{
	if (!cases_code_ok(code) || cases_owner(cs, code, casecode) == -1) {
		diag(code, "case", "no such case or thread code");
		return -1;
	}
	return 0;
}

struct listing {
	struct cases	*cs;
	int		 which;		/* 0 all, 1 open, 2 closed */
	int		 json;
	int		 shown;
};

static int
list_one(const char *code, void *arg)
{
	struct listing *l = arg;
	const char *status;
	char updated[32];
	json_t *state, *rec;
	struct tm tm;
	time_t mod;

	if ((state = cases_read(l->cs, code, &mod, NULL)) == NULL) {
		diag(code, "read case", "%s", strerror(errno));
		return 0;
	}
	status = jstr(state, "status") ? jstr(state, "status") : "?";
	if ((l->which == 1 && strcmp(status, "open")) ||
	    (l->which == 2 && strcmp(status, "closed"))) {
		json_decref(state);
		return 0;
	}
	gmtime_r(&mod, &tm);
	strftime(updated, sizeof(updated), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (l->json) {
		rec = jsonl_record("case");
		json_object_set_new(rec, "code", json_string(code));
		json_object_set_new(rec, "status", json_string(status));
		json_object_set(rec, "subject", json_object_get(state, "subject"));
		json_object_set(rec, "created", json_object_get(state, "created"));
		json_object_set_new(rec, "updated", json_string(updated));
		json_object_set_new(rec, "messages",
		    json_integer(cases_count(l->cs, code)));
		json_object_set_new(rec, "threads", json_integer((json_int_t)
		    json_array_size(json_object_get(state, "threads"))));
		jsonl_write(stdout, rec);
		json_decref(rec);
	} else {
		if (l->shown++ == 0)
			printf("%-8s  %-6s  %-20s  %-20s  %5s  %s\n", "CODE",
			    "STATUS", "CREATED", "UPDATED", "MSGS", "SUBJECT");
		printf("%-8s  %-6s  %-20s  %-20s  %5ld  ", code, status,
		    jstr(state, "created") ? jstr(state, "created") : "",
		    updated, cases_count(l->cs, code));
		put_safe(stdout, jstr(state, "subject"));
		putchar('\n');
	}
	json_decref(state);
	return 0;
}

int
view_list(struct cases *cs, int which, int json)
{
	struct listing l = { cs, which, json, 0 };

	if (cases_foreach(cs, list_one, &l) == -1) {
		diag("cases", "list", "%s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

static int
collect(json_t *e, void *arg)
{
	json_array_append(arg, e);
	return 0;
}

static json_t *
entries_of(struct cases *cs, const char *casecode)
{
	json_t *all = json_array();
	size_t bad;

	if (cases_entries(cs, casecode, collect, all, &bad) == -1) {
		diag(casecode, "read thread", "%s", strerror(errno));
		json_decref(all);
		return NULL;
	}
	if (bad > 0)
		diag(casecode, "read thread", "%zu lines are not entries", bad);
	return all;
}

/* Add the comma items of s to the list, each once. */
static void
merge_items(json_t *list, const char *s)
{
	char *copy, *tok, *save, *t, *e;
	json_t *v;
	size_t i;
	int seen;

	if (s == NULL)
		return;
	copy = xstrdup(s);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (t = tok; *t == ' '; t++)
			;
		for (e = t + strlen(t); e > t && e[-1] == ' '; e--)
			;
		*e = '\0';
		if (*t == '\0')
			continue;
		seen = 0;
		json_array_foreach(list, i, v)
			seen |= !strcasecmp(json_string_value(v), t);
		if (!seen)
			json_array_append_new(list, jsonl_cstr(t));
	}
	free(copy);
}

static char *
join(json_t *list)
{
	char *s = xstrdup(""), *n;
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		n = xasprintf("%s%s%s", s, i ? ", " : "", json_string_value(v));
		free(s);
		s = n;
	}
	return s;
}

static void
put_cell(const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', stdout);
		else
			put_safe(stdout, (char[]){ *s, '\0' });
	}
}

/* XSOAR's SummarizeEmailThreads: one row per thread, first seen first. */
int
view_summary(struct cases *cs, const char *code, int json)
{
	char casecode[CASE_CODE_MAX + 1], *c, *o;
	json_t *all, *rows, *e, *row, *rec;
	const char *num, *subj;
	size_t i, j;

	if (case_resolve(cs, code, casecode) == -1)
		return EX_NOINPUT;
	if ((all = entries_of(cs, casecode)) == NULL)
		return EX_IOERR;
	rows = json_array();
	json_array_foreach(all, i, e) {
		num = jstr(e, "EmailCommsThreadNumber");
		num = num ? num : "0";
		row = NULL;
		json_array_foreach(rows, j, row)
			if (json_integer_value(json_object_get(row,
			    "Thread Number")) == atol(num))
				break;
		if (j == json_array_size(rows)) {
			row = json_object();
			json_object_set_new(row, "Thread Number",
			    json_integer(atol(num)));
			subj = jstr(e, "EmailSubject") ? jstr(e, "EmailSubject") : "";
			if (subject_split(subj, &c, &o) == 0) {
				json_object_set_new(row, "Subject", jsonl_cstr(o));
				free(c);
				free(o);
			} else
				json_object_set_new(row, "Subject", jsonl_cstr(subj));
			json_object_set_new(row, "_to", json_array());
			json_object_set_new(row, "_cc", json_array());
			json_object_set_new(row, "_bcc", json_array());
			json_array_append_new(rows, row);
		}
		merge_items(json_object_get(row, "_to"), jstr(e, "EmailTo"));
		merge_items(json_object_get(row, "_cc"), jstr(e, "EmailCC"));
		merge_items(json_object_get(row, "_bcc"), jstr(e, "EmailBCC"));
	}
	json_array_foreach(rows, i, row) {
		static const char *cols[][2] = { { "_to", "Recipients" },
		    { "_cc", "CC" }, { "_bcc", "BCC" } };

		for (j = 0; j < 3; j++) {
			c = join(json_object_get(row, cols[j][0]));
			json_object_set_new(row, cols[j][1], jsonl_cstr(c));
			json_object_del(row, cols[j][0]);
			free(c);
		}
	}
	if (json) {
		rec = jsonl_record("thread-summary");
		json_object_set_new(rec, "code", json_string(casecode));
		json_object_set(rec, "threads", rows);
		jsonl_write(stdout, rec);
		json_decref(rec);
	} else if (json_array_size(rows) == 0)
		printf("This case does not contain any email threads yet.\n");
	else {
		printf("### Email Thread List\n"
		    "|Thread Number|Subject|Recipients|CC|BCC|\n"
		    "|---|---|---|---|---|\n");
		json_array_foreach(rows, i, row) {
			printf("| %lld | ", (long long)json_integer_value(
			    json_object_get(row, "Thread Number")));
			put_cell(jstr(row, "Subject"));
			fputs(" | ", stdout);
			put_cell(jstr(row, "Recipients"));
			fputs(" | ", stdout);
			put_cell(jstr(row, "CC"));
			fputs(" | ", stdout);
			put_cell(jstr(row, "BCC"));
			fputs(" |\n", stdout);
		}
	}
	json_decref(rows);
	json_decref(all);
	return 0;
}

static const char *
or_empty(json_t *e, const char *key)
{
	const char *s = jstr(e, key);

	return s ? s : "";
}

static void
text_entry(json_t *e)
{
	static const char *hdr[][2] = { { "From", "EmailFrom" },
	    { "To", "EmailTo" }, { "CC", "EmailCC" },
	    { "Subject", "EmailSubject" }, { "Date", "Date" },
	    { "Email Time", "MessageTime" },
	    { "Attachments", "EmailAttachments" } };
	const char *body = or_empty(e, "EmailBody"), *html;
	char *text = NULL;
	size_t i, len;

	for (i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
		printf("%s: ", hdr[i][0]);
		put_safe(stdout, or_empty(e, hdr[i][1]));
		putchar('\n');
	}
	printf("Direction: %s\n\n", or_empty(e, "MessageDirection"));
	if (*body == '\0' && *(html = or_empty(e, "EmailHTML")) != '\0')
		body = text = html_to_text(html, strlen(html), &len);
	put_safe(stdout, body);
	printf("\n%s\n", "----------------------------------------------------"
	    "--------------------");
	free(text);
}

static void
html_escape(FILE *fp, const char *s)
{
	char *e = html_escaped(s);

	fputs(e, fp);
	free(e);
}

static void
html_entry(struct cases *cs, json_t *e)
{
	static const char *hdr[][2] = { { "From", "EmailFrom" },
	    { "To", "EmailTo" }, { "CC", "EmailCC" },
	    { "Subject", "EmailSubject" }, { "Date", "Date" },
	    { "Email Time", "MessageTime" },
	    { "Attachments", "EmailAttachments" } };
	struct inline_img *imgs;
	json_t *atts = json_object_get(e, "attachments"), *a;
	const char *html = or_empty(e, "EmailHTML");
	char *clean;
	size_t i, n = 0;

	printf("<div class=\"entry %s\"><div class=\"hdr\">\n",
	    !strcmp(or_empty(e, "MessageDirection"), "outbound") ?
	    "outbound" : "inbound");
	for (i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
		printf("<b>%s:</b> ", hdr[i][0]);
		html_escape(stdout, or_empty(e, hdr[i][1]));
		printf("<br>\n");
	}
	printf("</div>\n<div class=\"body\">");
	if (*html != '\0') {
		imgs = xcalloc(json_array_size(atts) + 1, sizeof(*imgs));
		json_array_foreach(atts, i, a) {
			if (jstr(a, "content_id") == NULL)
				continue;
			imgs[n].cid = jstr(a, "content_id");
			imgs[n].vault = jstr(a, "vault");
			imgs[n].type = jstr(a, "type");
			n++;
		}
		clean = html_sanitize(html, strlen(html), cs, imgs, n);
		fputs(clean, stdout);
		free(clean);
		free(imgs);
	} else {
		printf("<pre>");
		html_escape(stdout, or_empty(e, "EmailBody"));
		printf("</pre>");
	}
	printf("</div></div>\n<hr class=\"sep\">\n");
}

int
view_thread(struct cases *cs, const char *code, long thread, int html)
{
	char casecode[CASE_CODE_MAX + 1];
	json_t *all, *state, *e;
	const char *num;
	size_t i;
	int shown = 0;

	if (case_resolve(cs, code, casecode) == -1)
		return EX_NOINPUT;
	if ((all = entries_of(cs, casecode)) == NULL)
		return EX_IOERR;
	state = cases_read(cs, casecode, NULL, NULL);
	if (html) {
		printf("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
		    "<meta http-equiv=\"Content-Security-Policy\" content=\""
		    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
		    "base-uri 'none'; form-action 'none'\">\n"
		    "<meta name=\"referrer\" content=\"no-referrer\">\n"
		    "<title>Case %s</title>\n<style>\n"
		    "body{font-family:sans-serif;margin:1em 2em}"
		    ".hdr{background:#f4f4f4;padding:.5em;margin-bottom:.5em}"
		    ".outbound .hdr{background:#eef4ff}"
		    ".body{overflow:auto}"
		    "hr.sep{width:98%%;height:3px;border-width:0;"
		    "background-color:#cccccc}\n"
		    "</style></head><body>\n<h1>Case %s: ", casecode, casecode);
		html_escape(stdout, jstr(state, "subject"));
		printf("</h1>\n");
	}
	/* Newest first: the reverse of the order the entries were added. */
	for (i = json_array_size(all); i-- > 0; ) {
		e = json_array_get(all, i);
		num = jstr(e, "EmailCommsThreadNumber");
		if (thread >= 0 && (num == NULL || atol(num) != thread))
			continue;
		shown++;
		if (html)
			html_entry(cs, e);
		else
			text_entry(e);
	}
	if (html) {
		if (shown == 0)
			printf("<h3>This case does not contain any email "
			    "threads yet.</h3>\n");
		printf("</body></html>\n");
	}
	json_decref(state);
	json_decref(all);
	if (thread >= 0 && shown == 0) {
		diag(casecode, "thread", "an email thread of %ld was not found",
		    thread);
		return EX_NOINPUT;
	}
	return fflush(stdout) == EOF ? EX_IOERR : 0;
}

/*
 * Take the store lock and read the case behind code; NULL (the lock let
 * go, *status set, the reason printed) when that fails.
 */
static json_t *
change_begin(struct cases *cs, const char *code, char *casecode, int *status)
{
	json_t *state;

	if (cases_lock(cs) == -1) {
		diag("case store", "lock", "%s", strerror(errno));
		*status = EX_TEMPFAIL;
		return NULL;
	}
	if (case_resolve(cs, code, casecode) == -1) {
		*status = EX_NOINPUT;
		goto fail;
	}
	if ((state = cases_read(cs, casecode, NULL, NULL)) == NULL) {
		diag(casecode, "read case", "%s", strerror(errno));
		*status = EX_IOERR;
		goto fail;
	}
	return state;
fail:
	cases_unlock(cs);
	return NULL;
}

/* Write the changed state durably, let go of state and lock. */
static int
change_end(struct cases *cs, const char *casecode, json_t *state)
{
	char now[32];
	int r = 0;

	cases_now(now, sizeof(now));
	json_object_set_new(state, "updated", json_string(now));
	if (cases_write(cs, casecode, state) == -1 || cases_sync(cs) == -1) {
		diag(casecode, "write case", "%s", strerror(errno));
		r = EX_IOERR;
	}
	json_decref(state);
	cases_unlock(cs);
	return r;
}

int
case_set_status(struct cases *cs, const char *code, const char *status)
{
	char casecode[CASE_CODE_MAX + 1];
	json_t *state;
	int r = 0;

	if ((state = change_begin(cs, code, casecode, &r)) == NULL)
		return r;
	json_object_set_new(state, "status", json_string(status));
	if ((r = change_end(cs, casecode, state)) == 0)
		printf("%s %s\n", casecode, status);
	return r;
}

/*
 * A new thread under a case: a fresh code, or a given one (a 16-digit
 * XSOAR code brought over), numbered one past the highest.
 */
int
case_new_thread(struct cases *cs, const char *code, const char *given,
    const char *subject)
{
	char casecode[CASE_CODE_MAX + 1], tcode[CASE_CODE_MAX + 1], now[32];
	char path[64];
	json_t *state, *t;
	json_int_t max = -1;
	size_t i;
	int r = 0;

	if ((state = change_begin(cs, code, casecode, &r)) == NULL)
		return r;
	if (given != NULL) {
		snprintf(path, sizeof(path), "index/code/%s", given);
		if (!cases_code_ok(given))
			r = EX_DATAERR;
		else if (symlinkat(casecode, spool_dirfd(cases_spool(cs)),
		    path) == -1)
			r = errno == EEXIST ? EX_DATAERR : EX_IOERR;
		if (r != 0)
			diag(given, "new thread", "%s", !cases_code_ok(given) ?
			    "not a code: 1 to 20 digits" : errno == EEXIST ?
			    "code taken already" : strerror(errno));
		snprintf(tcode, sizeof(tcode), "%s", given);
	} else if (cases_new_code(cs, casecode, tcode) == -1) {
		diag(casecode, "new thread code", "%s", strerror(errno));
		r = EX_IOERR;
	}
	if (r != 0) {
		json_decref(state);
		cases_unlock(cs);
		return r;
	}
	json_array_foreach(json_object_get(state, "threads"), i, t)
		if (json_integer_value(json_object_get(t, "number")) > max)
			max = json_integer_value(json_object_get(t, "number"));
	cases_now(now, sizeof(now));
	t = json_object();
	json_object_set_new(t, "code", json_string(tcode));
	json_object_set_new(t, "number", json_integer(max + 1));
	json_object_set_new(t, "subject", jsonl_cstr(subject ? subject : ""));
	json_object_set_new(t, "created", json_string(now));
	json_array_append_new(json_object_get(state, "threads"), t);
	if ((r = change_end(cs, casecode, state)) == 0)
		printf("%s %lld\n", tcode, (long long)(max + 1));
	return r;
}
