/*
 * Replies into a case, as Cortex XSOAR's SendEmailReply makes them, from
 * the case's thread in the store codematch keeps:
 *
 *   subject	"<code> " and the last entry's subject, one leading "Re: "
 *		and then one "RE: " taken off (XSOAR's exact rule);
 *   To		everyone the thread's mail was from or to, less our own
 *		mailbox (service_mail, the account's from, the addresses
 *		the mail was delivered to), compared without case;
 *   Cc, Bcc	the thread's, merged, and those given;
 *   threading	In-Reply-To the last inbound message's real Message-ID,
 *		References its references and it;
 *   body	the Markdown as HTML and text, the signature before
 *		</body>, and the thread's earlier messages quoted below.
 *
 * Unlike XSOAR, the quoted history is the messages' text, escaped: the
 * hostile HTML of an inbound mail is never sent out again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "cases.h"
#include "conf.h"
#include "diag.h"
#include "hash.h"
#include "jsonl.h"
#include "mailsend.h"
#include "msgid.h"
#include "spool.h"
#include "xalloc.h"

struct thread {
	const char	*tnum;		/* "0", "1", ... */
	json_t		*entries;	/* of that thread, in order */
};

static const char *
jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int
collect_entry(json_t *e, void *arg)
{
	struct thread *t = arg;
	const char *n = jstr(e, "EmailCommsThreadNumber");

	if (n != NULL && strcmp(n, t->tnum) == 0)
		json_array_append(t->entries, e);
	return 0;
}

/* Add each address of the ", "-list s to v, once, ignoring case. */
static void
add_addrs(struct strv *v, const char *s)
{
	char *copy, *tok, *save;
	size_t i;

	if (s == NULL)
		return;
	copy = xstrdup(s);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		tok[strcspn(tok, " \t")] = '\0';
		if (*tok == '\0')
			continue;
		for (i = 0; i < v->n; i++)
			if (strcasecmp(v->v[i], tok) == 0)
				break;
		if (i == v->n)
			strv_add(v, tok);
	}
	free(copy);
}

static void
drop_addr(struct strv *v, const char *addr)
{
	size_t i;

	if (addr == NULL)
		return;
	for (i = 0; i < v->n; )
		if (strcasecmp(v->v[i], addr) == 0) {
			free(v->v[i]);
			memmove(&v->v[i], &v->v[i + 1], (v->n - i) * sizeof(*v->v));
			v->n--;
		} else
			i++;
}

/* The bare address of "Name <a@b>" or "a@b", malloc'ed. */
static char *
bare(const char *s)
{
	const char *lt = strrchr(s, '<'), *gt;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
		return xstrndup(lt + 1, (size_t)(gt - lt - 1));
	while (*s == ' ')
		s++;
	return xstrndup(s, strcspn(s, " \t"));
}

static void
html_escape(struct strv *out, const char *s)
{
	size_t cap = strlen(s) * 6 + 1, n = 0;
	char *b = xmalloc(cap);

	for (; *s; s++)
		switch (*s) {
		case '<': n += (size_t)sprintf(b + n, "&lt;"); break;
		case '>': n += (size_t)sprintf(b + n, "&gt;"); break;
		case '&': n += (size_t)sprintf(b + n, "&amp;"); break;
		case '"': n += (size_t)sprintf(b + n, "&quot;"); break;
		case '\n': n += (size_t)sprintf(b + n, "<br>\r\n"); break;
		case '\r': break;
		default: b[n++] = *s;
		}
	b[n] = '\0';
	strv_add(out, b);
	free(b);
}

/* Join v with sep, malloc'ed. */
static char *
join(const struct strv *v, const char *sep)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < v->n; i++)
		len += strlen(v->v[i]) + strlen(sep);
	s = xmalloc(len);
	*s = '\0';
	for (i = 0; i < v->n; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, v->v[i]);
	}
	return s;
}

/* XSOAR 2.3: "<code> " before the subject unless "<code" is in it. */
static char *
case_subject(const char *code, const char *base)
{
	char want[CASE_CODE_MAX + 2];

	if (strncmp(base, "Re: ", 4) == 0)
		base += 4;
	if (strncmp(base, "RE: ", 4) == 0)
		base += 4;
	snprintf(want, sizeof(want), "<%s", code);
	if (strstr(base, want) != NULL)
		return xstrdup(base);
	return xasprintf("<%s> %s", code, base);
}

/* The thread's earlier messages, quoted below the answer. */
static void
quote_history(json_t *entries, struct strv *text, struct strv *html)
{
	json_t *e;
	size_t i;
	const char *when, *from, *body;
	char *line, *p, *nl, *q;

	json_array_foreach(entries, i, e) {
		when = jstr(e, "MessageTime");
		from = jstr(e, "EmailFrom");
		body = jstr(e, "EmailBody");
		if (body == NULL)
			continue;
		line = xasprintf("\r\nOn %s, %s wrote:\r\n", when ? when : "?",
		    from ? from : "?");
		strv_add(text, line);
		free(line);
		q = xstrdup(body);
		for (p = q; p != NULL && *p != '\0'; p = nl) {
			if ((nl = strchr(p, '\n')) != NULL)
				*nl++ = '\0';
			p[strcspn(p, "\r")] = '\0';
			line = xasprintf("> %s\r\n", p);
			strv_add(text, line);
			free(line);
		}
		free(q);
		line = xasprintf("On %s, %s wrote:", when ? when : "?",
		    from ? from : "?");
		strv_add(html, "<br><div style='border-left: 1px solid #ccc; "
		    "margin: 10px 0; padding-left: 10px;'><p><b>");
		html_escape(html, line);
		free(line);
		strv_add(html, "</b></p><p>");
		html_escape(html, body);
		strv_add(html, "</p></div>");
	}
}

int
reply_prepare(struct cases *cs, const struct conf *c, const char *account,
    struct draft *d, char *tcode, long *tnum, char *casecode)
{
	struct thread t = { NULL, NULL };
	struct strv to = { NULL, 0 }, text = { NULL, 0 }, html = { NULL, 0 };
	struct strv cc = { NULL, 0 }, bcc = { NULL, 0 };
	const char *code = d->reply_code, *sm, *s, *sigf;
	json_t *state, *th, *e, *last = NULL, *lastin = NULL;
	char num[24], *subject, *md, *h, *tx, *sig = NULL, *b, *r;
	size_t i;
	int rv = EX_DATAERR;

	if (cases_owner(cs, code, casecode) == -1) {
		diag(code, "--reply", "no case or thread with this code");
		return EX_DATAERR;
	}
	if ((state = cases_read(cs, casecode, NULL, NULL)) == NULL) {
		diag(casecode, "--reply", "cannot read the case: %s",
		    strerror(errno));
		return EX_DATAERR;
	}
	/* The thread: -t N, else the one CODE names, else the case's first. */
	*tnum = -1;
	json_array_foreach(json_object_get(state, "threads"), i, th) {
		long n = (long)json_integer_value(json_object_get(th, "number"));

		if ((d->thread >= 0 && n == d->thread) || (d->thread < 0 &&
		    (s = jstr(th, "code")) != NULL && !strcmp(s, code))) {
			*tnum = n;
			snprintf(tcode, CASE_CODE_MAX + 1, "%s", jstr(th, "code"));
		}
	}
	if (*tnum < 0 && d->thread < 0 && (th = json_array_get(json_object_get(
	    state, "threads"), 0)) != NULL) {
		*tnum = (long)json_integer_value(json_object_get(th, "number"));
		snprintf(tcode, CASE_CODE_MAX + 1, "%s", jstr(th, "code"));
	}
	if (*tnum < 0) {
		diag(casecode, "--reply", "The selected Thread Number to respond "
		    "to (%ld) does not exist.  Please choose a valid Thread "
		    "Number and re-try.", d->thread);
		goto done;
	}
	snprintf(num, sizeof(num), "%ld", *tnum);
	t.tnum = num;
	t.entries = json_array();
	cases_entries(cs, casecode, collect_entry, &t, NULL);
	if (json_array_size(t.entries) == 0) {
		diag(casecode, "--reply", "Failed to retrieve email thread "
		    "entries - reply not sent!");
		goto done;
	}
	json_array_foreach(t.entries, i, e) {
		last = e;
		if ((s = jstr(e, "MessageDirection")) && !strcmp(s, "inbound"))
			lastin = e;
		add_addrs(&to, jstr(e, "EmailTo"));
		add_addrs(&to, jstr(e, "EmailFrom"));
		add_addrs(&cc, jstr(e, "EmailCC"));
		add_addrs(&bcc, jstr(e, "EmailBCC"));
	}
	/* Our own mailbox gets no copy of our answer. */
	sm = conf_get(c, account, "service_mail");
	if (sm != NULL)
		drop_addr(&to, sm);
	if ((s = conf_get(c, account, "from")) != NULL) {
		b = bare(s);
		drop_addr(&to, b);
		free(b);
	}
	json_array_foreach(t.entries, i, e)
		drop_addr(&to, jstr(e, "EmailReceived"));
	if (lastin == NULL) {
		/* First contact never answered: send it again, as XSOAR does. */
		strv_free(&to);
		add_addrs(&to, jstr(last, "EmailTo"));
	}
	for (i = 0; i < to.n; i++)
		strv_add(&d->to, to.v[i]);
	for (i = 0; i < to.n; i++)
		drop_addr(&cc, to.v[i]);
	for (i = 0; i < cc.n; i++)
		strv_add(&d->cc, cc.v[i]);
	for (i = 0; i < bcc.n; i++)
		strv_add(&d->bcc, bcc.v[i]);
	if (d->to.n == 0) {
		diag(casecode, "--reply", "nobody to answer: the thread has no "
		    "address but ours");
		goto done;
	}
	s = jstr(last, "EmailSubject");
	subject = case_subject(tcode, s ? s : "");
	free(d->subject);
	d->subject = subject;
	if (lastin != NULL && (s = jstr(lastin, "MessageID")) != NULL && *s) {
		json_t *refs = json_object_get(lastin, "References"), *ref;

		free(d->in_reply_to);
		d->in_reply_to = xstrdup(s);
		json_array_foreach(refs, i, ref)
			if (json_is_string(ref))
				strv_add(&d->references, json_string_value(ref));
		strv_add(&d->references, s);
	}
	if (sm != NULL && d->reply_to == NULL)
		d->reply_to = xstrdup(sm);
	/* The answer, the signature, the history. */
	md = d->body ? d->body : xstrdup("");
	d->body = NULL;
	{
		char *w = md, *q;

		for (q = md; *q; q++)
			if (*q != '\r')
				*w++ = *q;
		*w = '\0';
	}
	h = markdown_html(md);
	quote_history(t.entries, &text, &html);
	tx = join(&html, "");
	r = strstr(h, "</body>") ? xasprintf("%.*s%s%s", (int)(strstr(h,
	    "</body>") - h), h, tx, strstr(h, "</body>")) : xasprintf("%s%s", h, tx);
	free(h);
	free(tx);
	if ((sigf = conf_get(c, account, "signature_file")) != NULL) {
		FILE *fp = fopen(sigf, "r");
		size_t n;

		if (fp == NULL) {
			diag(sigf, "signature_file", "%s", strerror(errno));
			free(r);
			free(md);
			rv = EX_CONFIG;
			goto done;
		}
		sig = xmalloc(1 << 20);
		n = fread(sig, 1, (1 << 20) - 1, fp);
		sig[n] = '\0';
		fclose(fp);
		h = add_signature(r, sig);
		free(r);
		r = h;
	}
	d->html = r;
	tx = join(&text, "");
	d->text = xasprintf("%s\r\n%s", md, tx);
	free(tx);
	d->typed = md;		/* the thread keeps the answer, not the history */
	rv = 0;
done:
	free(sig);
	json_decref(t.entries);
	json_decref(state);
	strv_free(&to);
	strv_free(&cc);
	strv_free(&bcc);
	strv_free(&text);
	strv_free(&html);
	return rv;
}

int
reply_record(struct cases *cs, const char *casecode, const char *tcode,
    long tnum, const struct draft *d, const struct outmsg *m,
    const char *service_mail)
{
	json_t *e = jsonl_record("entry");
	char key[65], num[24], when[40], id[65], *to, *cc, *bcc, *refs, *html;
	struct tm tm;
	time_t now = time(NULL);
	int r;

	cases_msgkey(m->message_id, key);
	hash_sha256_hex(m->data, m->len, id);
	snprintf(num, sizeof(num), "%ld", tnum);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SUTC", &tm);
	to = join(&d->to, ", ");
	cc = join(&d->cc, ", ");
	bcc = join(&d->bcc, ", ");
	refs = join(&d->references, " ");
	json_object_set_new(e, "key", json_string(key));
	json_object_set_new(e, "id", json_string(id));
	json_object_set_new(e, "EmailCommsThreadId", json_string(tcode));
	json_object_set_new(e, "EmailCommsThreadNumber", json_string(num));
	json_object_set_new(e, "EmailCC", jsonl_cstr(cc));
	json_object_set_new(e, "EmailBCC", jsonl_cstr(bcc));
	json_object_set_new(e, "EmailBody", jsonl_cstr(d->typed ? d->typed :
	    d->text ? d->text : ""));
	json_object_set_new(e, "EmailFrom", jsonl_cstr(service_mail ?
	    service_mail : m->from));
	html = d->typed ? markdown_html(d->typed) : NULL;
	json_object_set_new(e, "EmailHTML", jsonl_cstr(html ? html : d->html ?
	    d->html : ""));
	free(html);
	json_object_set_new(e, "MessageID", jsonl_cstr(m->message_id));
	json_object_set_new(e, "EmailReceived", json_string(""));
	json_object_set_new(e, "EmailReplyTo", jsonl_cstr(d->reply_to ?
	    d->reply_to : ""));
	json_object_set_new(e, "EmailSubject", jsonl_cstr(d->subject ?
	    d->subject : ""));
	json_object_set_new(e, "EmailTo", jsonl_cstr(to));
	json_object_set_new(e, "EmailAttachments", json_string("None"));
	json_object_set_new(e, "MessageDirection", json_string("outbound"));
	json_object_set_new(e, "MessageTime", json_string(when));
	json_object_set_new(e, "InReplyTo", d->in_reply_to ?
	    jsonl_cstr(d->in_reply_to) : json_null());
	json_object_set_new(e, "References", jsonl_cstr(refs));
	json_object_set_new(e, "link", json_null());
	json_object_set_new(e, "verified", json_true());
	free(to);
	free(cc);
	free(bcc);
	free(refs);
	if (cases_lock(cs) == -1) {
		json_decref(e);
		return -1;
	}
	r = cases_msgid_put(cs, key, tcode, NULL) == -1 ||
	    cases_append(cs, casecode, e) == -1 || cases_sync(cs) == -1 ? -1 : 0;
	cases_unlock(cs);
	json_decref(e);
	return r;
}
