/*
 * Linking one message record to a case, the rules of XSOAR's
 * PreprocessEmail with its holes closed.  The order of the writes is
 * what makes a crash harmless: the Message-ID index entry first (it
 * says "this message belongs to that case"), then the case's state, then
 * the thread entry (it says "done").  A run after a crash finds the index
 * entry without its thread entry and finishes the work; one that finds
 * both says "duplicate".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cases.h"
#include "codematch.h"
#include "diag.h"
#include "hash.h"
#include "jsonl.h"
#include "msgid.h"
#include "xalloc.h"

const char *
jstr(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/*
 * XSOAR's rule, exactly: the code is the text after the first '<' up to
 * the next '>' (or the end); the original subject is the text of the
 * last '<' piece between its first and second '>', trimmed.  No '<', or
 * a last piece without '>', means no code (XSOAR's index error).
 */
int
subject_split(const char *subject, char **code, char **orig)
{
	const char *lt, *gt, *end, *last, *o, *oe;

	*code = *orig = NULL;
	if ((lt = strchr(subject, '<')) == NULL)
		return -1;
	last = strrchr(subject, '<') + 1;
	if ((o = strchr(last, '>')) == NULL)
		return -1;
	o++;
	if ((oe = strchr(o, '>')) == NULL)
		oe = o + strlen(o);
	while (o < oe && strchr(" \t\r\n", *o))
		o++;
	while (oe > o && strchr(" \t\r\n", oe[-1]))
		oe--;
	/* Piece #1 of a split on '<', then piece #0 of a split on '>'. */
	lt++;
	if ((end = strchr(lt, '<')) == NULL)
		end = lt + strlen(lt);
	if ((gt = memchr(lt, '>', (size_t)(end - lt))) == NULL)
		gt = end;
	*code = xstrndup(lt, (size_t)(gt - lt));
	*orig = xstrndup(o, (size_t)(oe - o));
	return 0;
}

/* The history below a reply, cut at the markers Gmail and Outlook put. */
static char *
strip_quoted(const char *html)
{
	static const char *markers[] = {
		"<div class=\"gmail_quote\">",
		"<hr tabindex=\"-1\" style=\"display:inline-block; width:98%\">"
		    "<div id=\"divRplyFwdMsg\"",
		"<hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">"
		    "<div id=\"divRplyFwdMsg\"",
	};
	char *s = xstrdup(html), *p, *cut;
	size_t i;

	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		if ((p = strstr(s, markers[i])) == NULL)
			continue;
		*p = '\0';
		cut = xasprintf("%s</body></html>", s);
		free(s);
		s = cut;
	}
	return s;
}

static int	subject_matches(json_t *, const char *);

static int
contains(json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return 1;
	return 0;
}

/* A lowercase copy of an address (its case does not make it another). */
static char *
lower_dup(const char *addr)
{
	char *low = xstrdup(addr);
	size_t i;

	for (i = 0; low[i]; i++)
		if (low[i] >= 'A' && low[i] <= 'Z')
			low[i] += 'a' - 'A';
	return low;
}

/* Add addr (lowercased) to the case's participants; 1 when it is new. */
static int
participant_add(json_t *state, const char *addr)
{
	json_t *p = json_object_get(state, "participants");
	char *low;
	int added = 0;

	if (addr == NULL || *addr == '\0')
		return 0;
	if (!json_is_array(p)) {
		p = json_array();
		json_object_set_new(state, "participants", p);
	}
	low = lower_dup(addr);
	if (!contains(p, low) && json_array_size(p) < MAX_PARTICIPANTS) {
		json_array_append_new(p, jsonl_cstr(low));
		added = 1;
	}
	free(low);
	return added;
}

static int
is_participant(json_t *state, const char *addr)
{
	char *low;
	int r;

	if (addr == NULL)
		return 0;
	low = lower_dup(addr);
	r = contains(json_object_get(state, "participants"), low);
	free(low);
	return r;
}

static const char *
first_addr(json_t *rec, const char *field)
{
	return jstr(json_array_get(json_object_get(rec, field), 0), "addr");
}

/* "a@x, b@y" from an address array. */
static json_t *
addr_list(json_t *rec, const char *field)
{
	json_t *a;
	char *s = NULL;
	const char *addr;
	size_t i, len = 0, cap = 0;
	json_t *r;

	json_array_foreach(json_object_get(rec, field), i, a) {
		if ((addr = jstr(a, "addr")) == NULL || *addr == '\0')
			continue;
		xgrow(&s, &cap, len + strlen(addr) + 3);
		len += (size_t)sprintf(s + len, "%s%s", len ? ", " : "", addr);
	}
	r = jsonl_cstr(s ? s : "");
	free(s);
	return r;
}

/* XSOAR writes attachment names as a Python list: "['a.png', 'b.pdf']". */
static json_t *
python_names(json_t *atts)
{
	json_t *a, *r;
	const char *name;
	char *s = NULL;
	size_t i, len = 0, cap = 0;

	xgrow(&s, &cap, 2);
	s[len++] = '[';
	json_array_foreach(atts, i, a) {
		name = jstr(a, "name");
		name = name ? name : "None";
		xgrow(&s, &cap, len + strlen(name) + 6);
		len += (size_t)sprintf(s + len, "%s'%s'", i ? ", " : "", name);
	}
	if (json_array_size(atts) == 0) {
		xgrow(&s, &cap, len + 8);
		len += (size_t)sprintf(s + len, "'None'");
	}
	xgrow(&s, &cap, len + 2);
	s[len++] = ']';
	r = jsonl_str(s, len);
	free(s);
	return r;
}

static json_t *
attachment_refs(json_t *atts)
{
	json_t *out = json_array(), *a, *r;
	size_t i;

	json_array_foreach(atts, i, a) {
		r = json_object();
		json_object_set(r, "name", json_object_get(a, "name"));
		json_object_set(r, "type", json_object_get(a, "type"));
		json_object_set(r, "content_id", json_object_get(a, "content_id"));
		json_object_set(r, "disposition", json_object_get(a, "disposition"));
		json_object_set(r, "size", json_object_get(a, "size"));
		json_object_set(r, "vault", json_object_get(a, "vault"));
		json_array_append_new(out, r);
	}
	return out;
}

/* The number of thread code in the case, or -1. */
static long
thread_number(json_t *state, const char *tcode)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(state, "threads"), i, t)
		if (!strcmp(jstr(t, "code") ? jstr(t, "code") : "", tcode))
			return (long)json_integer_value(json_object_get(t, "number"));
	return -1;
}

/* XSOAR's MessageTime, made once a second: a stream links thousands. */
static void
now_xsoar(char *buf, size_t bufsz)
{
	static char last[40];
	static time_t when = -1;
	time_t t = time(NULL);
	struct tm tm;

	if (t != when) {
		gmtime_r(&t, &tm);
		strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%SUTC", &tm);
		when = t;
	}
	snprintf(buf, bufsz, "%s", last);
}

/* The inbound thread entry of a message record. */
static json_t *
inbound_entry(json_t *rec, const char *key, const char *tcode, long number,
    const char *link, int verified)
{
	json_t *e = jsonl_record("entry"), *atts;
	const char *html, *s;
	char num[24], when[40], *stripped;

	atts = json_object_get(rec, "attachments");
	snprintf(num, sizeof(num), "%ld", number);
	now_xsoar(when, sizeof(when));
	json_object_set_new(e, "key", json_string(key));
	json_object_set(e, "id", json_object_get(rec, "id"));
	json_object_set_new(e, "EmailCommsThreadId", json_string(tcode));
	json_object_set_new(e, "EmailCommsThreadNumber", json_string(num));
	json_object_set_new(e, "EmailCC", addr_list(rec, "cc"));
	json_object_set_new(e, "EmailBCC", addr_list(rec, "bcc"));
	s = jstr(rec, "text");
	json_object_set_new(e, "EmailBody", jsonl_cstr(s ? s : ""));
	s = first_addr(rec, "from");
	json_object_set_new(e, "EmailFrom", jsonl_cstr(s ? s : ""));
	if ((html = jstr(rec, "html")) != NULL) {
		stripped = strip_quoted(html);
		json_object_set_new(e, "EmailHTML", jsonl_cstr(stripped));
		free(stripped);
	} else
		json_object_set_new(e, "EmailHTML", json_string(""));
	s = jstr(rec, "message_id");
	json_object_set_new(e, "MessageID", jsonl_cstr(s ? s : ""));
	s = first_addr(rec, "delivered_to");
	json_object_set_new(e, "EmailReceived", jsonl_cstr(s ? s : ""));
	json_object_set_new(e, "EmailReplyTo", addr_list(rec, "reply_to"));
	s = jstr(rec, "subject");
	json_object_set_new(e, "EmailSubject", jsonl_cstr(s ? s : ""));
	json_object_set_new(e, "EmailTo", addr_list(rec, "to"));
	json_object_set_new(e, "EmailAttachments", python_names(atts));
	json_object_set_new(e, "MessageDirection", json_string("inbound"));
	json_object_set_new(e, "MessageTime", json_string(when));
	json_object_set(e, "Date", json_object_get(rec, "date"));
	json_object_set(e, "InReplyTo", json_object_get(rec, "in_reply_to"));
	json_object_set(e, "References", json_object_get(rec, "references"));
	s = jstr(json_array_get(json_object_get(rec, "from"), 0), "name");
	json_object_set_new(e, "FromName", jsonl_cstr(s ? s : ""));
	json_object_set_new(e, "attachments", attachment_refs(atts));
	json_object_set_new(e, "link", link ? json_string(link) : json_null());
	json_object_set_new(e, "verified", json_boolean(verified));
	return e;
}

/* Put the people of a message on the case; 1 when the state changed. */
static int
note_people(json_t *state, json_t *rec)
{
	static const char *fields[] = { "from", "sender", "reply_to", "to", "cc" };
	json_t *a;
	size_t i, f;
	int changed = 0;

	for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
		json_array_foreach(json_object_get(rec, fields[f]), i, a)
			changed |= participant_add(state, jstr(a, "addr"));
	return changed;
}

/*
 * Remember the subject of a message for subject matching.  An original
 * subject never holds '<' or '>', so only the text after a code can
 * match: keep that, and only when no subject the case knows holds it
 * already (a reply's "Re: <code> X" adds nothing to a case about "X",
 * and the case's state is not written again for it).
 */
static int
note_subject(json_t *state, const char *subject)
{
	json_t *s = json_object_get(state, "subjects");
	char *code, *orig;
	int added = 0;

	if (subject == NULL)
		return 0;
	if (subject_split(subject, &code, &orig) == -1) {
		orig = xstrdup(subject);
		code = NULL;
	}
	if (*orig != '\0' && !subject_matches(state, orig) &&
	    json_array_size(s) < MAX_SUBJECTS) {
		if (!json_is_array(s)) {
			s = json_array();
			json_object_set_new(state, "subjects", s);
		}
		json_array_append_new(s, jsonl_cstr(orig));
		added = 1;
	}
	free(code);
	free(orig);
	return added;
}

static int
subject_matches(json_t *state, const char *orig)
{
	json_t *v, *t;
	const char *s;
	size_t i;

	if ((s = jstr(state, "subject")) != NULL && *s != '\0' && strstr(s, orig))
		return 1;
	json_array_foreach(json_object_get(state, "subjects"), i, v)
		if (json_is_string(v) && strstr(json_string_value(v), orig))
			return 1;
	json_array_foreach(json_object_get(state, "threads"), i, t)
		if ((s = jstr(t, "subject")) != NULL && strstr(s, orig))
			return 1;
	return 0;
}

struct target {
	char	 casecode[CASE_CODE_MAX + 1];
	char	 tcode[CASE_CODE_MAX + 1];
	const char *link;
	int	 mac;		/* linked by a Message-ID we made */
	json_t	*state;
	struct case_thread th;	/* its thread, open for the append */
};

static void
target_drop(struct target *t)
{
	json_decref(t->state);
	t->state = NULL;
	if (t->th.fd != -1)
		close(t->th.fd);
	t->th.fd = -1;
}

/* The case of thread code tcode, if it is a candidate; fills t. */
static int
candidate(struct linker *lk, const char *tcode, struct target *t)
{
	time_t modified;

	/*
	 * Most codes are a case's own: try its directory before the index
	 * (a code is taken once, so no other case has that name).
	 */
	if ((t->state = cases_read(lk->cs, tcode, &modified, &t->th)) != NULL)
		snprintf(t->casecode, sizeof(t->casecode), "%s", tcode);
	else if (errno != ENOENT ||
	    cases_owner(lk->cs, tcode, t->casecode) == -1 ||
	    !strcmp(t->casecode, tcode) ||
	    (t->state = cases_read(lk->cs, t->casecode, &modified,
	    &t->th)) == NULL)
		return 0;
	if (lk->days >= 0 && modified < time(NULL) - lk->days * 86400) {
		target_drop(t);
		return 0;
	}
	snprintf(t->tcode, sizeof(t->tcode), "%s", tcode);
	return 1;
}

/* A case named by a Message-ID this message answers. */
static int
by_reference(struct linker *lk, const char *ref, struct target *t)
{
	char hex[65], tcode[CASE_CODE_MAX + 1];

	if (ref == NULL || *ref == '\0')
		return 0;
	if (msgid_verify(cases_spool(lk->cs), ref, tcode) == 1 &&
	    candidate(lk, tcode, t)) {
		t->mac = 1;
		return 1;
	}
	cases_msgkey(ref, hex);
	return cases_msgid_get(lk->cs, hex, tcode) == 0 && candidate(lk, tcode, t);
}

static void
find_target(struct linker *lk, json_t *rec, struct target *t)
{
	const char *subject = jstr(rec, "subject");
	json_t *refs;
	char *code, *orig;
	size_t i;

	if (subject != NULL && subject_split(subject, &code, &orig) == 0) {
		if (cases_code_ok(code) && candidate(lk, code, t)) {
			if (!lk->match_subject || subject_matches(t->state, orig))
				t->link = "subject-code";
			else
				target_drop(t);
		}
		free(code);
		free(orig);
		if (t->link)
			return;
	}
	if (by_reference(lk, jstr(rec, "in_reply_to"), t)) {
		t->link = "in-reply-to";
		return;
	}
	refs = json_object_get(rec, "references");
	for (i = json_array_size(refs); i-- > 0; )
		if (by_reference(lk, json_string_value(json_array_get(refs, i)), t)) {
			t->link = "references";
			return;
		}
}

static void
set_case(json_t *rec, const char *casecode, const char *tcode, long number,
    const char *action, const char *link, int verified)
{
	json_t *c = json_object();

	json_object_set_new(c, "code", casecode ? json_string(casecode) : json_null());
	json_object_set_new(c, "thread", number >= 0 ? json_integer(number) : json_null());
	json_object_set_new(c, "thread_code", tcode ? json_string(tcode) : json_null());
	json_object_set_new(c, "action", json_string(action));
	json_object_set_new(c, "link", link ? json_string(link) : json_null());
	if (verified >= 0)
		json_object_set_new(c, "verified", json_boolean(verified));
	json_object_set_new(rec, "case", c);
}

/* The record says the case step failed; why is reason, else errno. */
static int
fail(json_t *rec, const char *code, int status, const char *what,
    const char *reason)
{
	json_t *c = json_object();
	const char *id = jstr(rec, "id");

	reason = reason ? reason : strerror(errno);
	diag(id ? id : "record", what, "%s", reason);
	json_object_set_new(c, "action", json_string("error"));
	json_object_set_new(c, "error", jsonl_error(code, "%s: %s", what,
	    reason));
	json_object_set_new(rec, "case", c);
	return status;
}

/* A new case for rec, under code (already taken in the index). */
static int
create_case(struct linker *lk, json_t *rec, const char *key, const char *code)
{
	json_t *state, *t, *e;
	const char *subject = jstr(rec, "subject");
	char now[32];
	int r;

	cases_now(now, sizeof(now));
	state = jsonl_record("case");
	json_object_set_new(state, "code", json_string(code));
	json_object_set_new(state, "status", json_string("open"));
	json_object_set_new(state, "subject", jsonl_cstr(subject ? subject : ""));
	json_object_set_new(state, "created", json_string(now));
	json_object_set_new(state, "updated", json_string(now));
	t = json_object();
	json_object_set_new(t, "code", json_string(code));
	json_object_set_new(t, "number", json_integer(0));
	json_object_set_new(t, "subject", jsonl_cstr(subject ? subject : ""));
	json_object_set_new(t, "created", json_string(now));
	json_object_set_new(state, "threads", json_pack("[o]", t));
	note_people(state, rec);
	note_subject(state, subject);
	e = inbound_entry(rec, key, code, 0, NULL, 1);
	r = cases_create(lk->cs, code, state, e);
	json_decref(state);
	json_decref(e);
	if (r == -1)
		return fail(rec, "case-store", EX_TEMPFAIL, "create case", NULL);
	lk->dirty = 1;
	set_case(rec, code, code, 0, "created", NULL, 1);
	return 0;
}

static int
link_to(struct linker *lk, json_t *rec, const char *key, struct target *t)
{
	json_t *state = t->state, *e;
	const char *action = "linked", *status = jstr(state, "status");
	char now[32];
	long number;
	int changed = 0, verified, r;

	verified = t->mac || is_participant(state, first_addr(rec, "from"));
	lk->dirty = 1;
	if (status != NULL && !strcmp(status, "closed")) {
		json_object_set_new(state, "status", json_string("open"));
		action = "reopened";
		changed = 1;
	}
	/* A stranger does not become one of the people by writing once. */
	if (verified)
		changed |= note_people(state, rec);
	changed |= note_subject(state, jstr(rec, "subject"));
	if (changed) {
		cases_now(now, sizeof(now));
		json_object_set_new(state, "updated", json_string(now));
		if (cases_write(lk->cs, t->casecode, state) == -1)
			return fail(rec, "case-store", EX_TEMPFAIL, "write case", NULL);
	}
	if ((number = thread_number(state, t->tcode)) < 0)
		number = 0;
	e = inbound_entry(rec, key, t->tcode, number, t->link, verified);
	r = cases_append_fd(&t->th, e);
	json_decref(e);
	if (r == -1)
		return fail(rec, "case-store", EX_TEMPFAIL, "append to thread", NULL);
	set_case(rec, t->casecode, t->tcode, number, action, t->link, verified);
	if (!verified)
		diag(t->casecode, "link", "sender %s is on none of the case's "
		    "threads: marked unverified", first_addr(rec, "from") ?
		    first_addr(rec, "from") : "(none)");
	return 0;
}

static int
link_one(struct linker *lk, json_t *rec)
{
	struct target t;
	const char *id = jstr(rec, "id"), *mid = jstr(rec, "message_id");
	char key[65], had[CASE_CODE_MAX + 1], hadcase[CASE_CODE_MAX + 1];
	char code[CASE_CODE_MAX + 1], *k;
	json_t *hstate;
	int r;

	if (id == NULL || !hash_is_hex(id))
		return fail(rec, "bad-record", EX_DATAERR, "link",
		    "a message record needs \"id\", a SHA-256");
	/* The dedup key: the Message-ID, or the bytes for mail without one. */
	if (mid != NULL && *mid != '\0')
		cases_msgkey(mid, key);
	else {
		k = xasprintf("id:%s", id);
		cases_msgkey(k, key);
		free(k);
	}
	memset(&t, 0, sizeof(t));
	t.th.fd = -1;
	find_target(lk, rec, &t);

	if (t.link != NULL) {
		/*
		 * The index entry first: made new, the message is new (one
		 * system call for the test and the write); there already, it
		 * may have been linked before.
		 */
		if ((r = cases_msgid_put(lk->cs, key, t.tcode, had)) == -1) {
			target_drop(&t);
			return fail(rec, "case-store", EX_TEMPFAIL,
			    "index message-id", NULL);
		}
		lk->dirty |= r == 0;
		if (r == 1 && cases_owner(lk->cs, had, hadcase) == 0 &&
		    !strcmp(hadcase, t.casecode) &&
		    cases_has_key(lk->cs, hadcase, key)) {
			set_case(rec, hadcase, had, thread_number(t.state, had),
			    "duplicate", t.link, -1);
			target_drop(&t);
			return 0;
		}
		r = link_to(lk, rec, key, &t);
		target_drop(&t);
		return r;
	}
	if (cases_msgid_get(lk->cs, key, had) == 0 &&
	    cases_owner(lk->cs, had, hadcase) == 0) {
		if (cases_has_key(lk->cs, hadcase, key)) {
			hstate = cases_read(lk->cs, hadcase, NULL, NULL);
			set_case(rec, hadcase, had, hstate ?
			    thread_number(hstate, had) : -1, "duplicate",
			    NULL, -1);
			json_decref(hstate);
			return 0;
		}
		/* A run before this one stopped half-way: finish its work. */
		if ((t.state = cases_read(lk->cs, hadcase, NULL, &t.th)) == NULL)
			return errno == ENOENT ?
			    create_case(lk, rec, key, hadcase) :
			    fail(rec, "case-store", EX_TEMPFAIL, "read case", NULL);
		snprintf(t.casecode, sizeof(t.casecode), "%s", hadcase);
		snprintf(t.tcode, sizeof(t.tcode), "%s", had);
		t.link = "message-id";
		r = link_to(lk, rec, key, &t);
		target_drop(&t);
		return r;
	}
	if (!lk->create) {
		set_case(rec, NULL, NULL, -1, "ignored", NULL, -1);
		return 0;
	}
	if (cases_new_code(lk->cs, NULL, code) == -1)
		return fail(rec, "case-store", EX_TEMPFAIL, "new code", NULL);
	lk->dirty = 1;
	if ((r = cases_msgid_put(lk->cs, key, code, NULL)) != 0)
		return fail(rec, "case-store", r == 1 ? EX_DATAERR : EX_TEMPFAIL,
		    "index message-id", r == 1 ? "the index sends this "
		    "Message-ID to a code that is not taken (see --fsck)" : NULL);
	return create_case(lk, rec, key, code);
}

int
link_record(json_t *rec, void *arg)
{
	struct linker *lk = arg;
	const char *kind = jstr(rec, "kind");
	int r = 0;

	if (kind != NULL && !strcmp(kind, "message")) {
		/* Not locked: the record still goes out, with its error. */
		if (!lk->locked && cases_lock(lk->cs) == -1)
			r = fail(rec, "case-store", EX_TEMPFAIL, "lock", NULL);
		else {
			lk->locked = 1;
			r = link_one(lk, rec);
		}
	}
	json_array_append(lk->pending, rec);
	if (json_array_size(lk->pending) >= LINK_BATCH)
		r = status_worse(r, link_flush(lk));
	return r;
}

/*
 * End of a batch: let other writers in, make the changes durable, and
 * only then let the records go.  (Unlocking first is safe: a writer that
 * acts on these changes syncs the same filesystem before it reports.)
 */
int
link_flush(void *arg)
{
	struct linker *lk = arg;
	json_t *rec, *c;
	size_t i;
	int status = 0, synced = 1;

	if (lk->locked) {
		cases_unlock(lk->cs);
		lk->locked = 0;
	}
	if (lk->dirty) {
		if (cases_sync(lk->cs) == -1) {
			diag("case store", "sync", "%s", strerror(errno));
			synced = 0;
			status = EX_TEMPFAIL;
		}
		lk->dirty = 0;
	}
	json_array_foreach(lk->pending, i, rec) {
		if (!synced && json_is_object(c = json_object_get(rec, "case")) &&
		    strcmp(jstr(c, "action"), "error") != 0) {
			json_object_set_new(c, "action", json_string("error"));
			json_object_set_new(c, "error", jsonl_error("case-store",
			    "sync: %s", strerror(errno)));
		}
		if (!lk->quiet && jsonl_write(stdout, rec) == -1) {
			diag("stdout", "write", "%s", strerror(errno));
			status = EX_IOERR;
			break;
		}
	}
	json_array_clear(lk->pending);
	if (!lk->quiet && fflush(stdout) == EOF) {
		diag("stdout", "write", "%s", strerror(errno));
		status = EX_IOERR;
	}
	return status;
}
