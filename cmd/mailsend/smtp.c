/*
 * SMTP through libcurl, one connection for a run of messages.  libcurl
 * does TLS (STARTTLS required for smtp://, never a silent fall back),
 * checks the certificate, authenticates, dot-stuffs the data and reuses
 * the connection between messages; we read every server reply it sees
 * (CURLOPT_DEBUGFUNCTION) to tell recipients apart: a refused recipient
 * is reported with the server's words, never folded into "sent".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <curl/curl.h>

#include "diag.h"
#include "mailsend.h"
#include "xalloc.h"

/* What the server said to each RCPT, in order, and its last reply. */
struct log {
	struct strv	 rcpt;		/* as sent, "<a@b>" */
	struct strv	 reply;		/* the reply to each */
	int		 want;		/* the next reply answers an RCPT */
	int		 utf8;		/* EHLO offered SMTPUTF8 */
	char		 last[512];
	int		 lastcode;
};

struct smtp {
	CURL		*h;
	const struct account *a;
	char		 cerr[CURL_ERROR_SIZE];
	struct log	 log;
	int		 smtputf8;
	int		 connected;	/* a session is open: EHLO was read */
	char		*url;
};

static int	noop(struct smtp *);

struct reader {
	const char	*p;
	size_t		 left;
};

void
sendresult_free(struct sendresult *r)
{
	strv_free(&r->accepted);
	strv_free(&r->rejected);
	strv_free(&r->replies);
	memset(r, 0, sizeof(*r));
}

static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t n, void *arg)
{
	struct smtp *s = arg;
	char line[512];

	(void)h;
	if (type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
		return 0;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = '\0';
	if (type == CURLINFO_HEADER_OUT) {
		/* Only the envelope: what we say also holds the credentials. */
		if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			strv_add(&s->log.rcpt, line + 8);
			s->log.want = 1;
		}
		return 0;
	}
	if (n > 4 && strncmp(line, "250", 3) == 0 &&
	    strncasecmp(line + 4, "SMTPUTF8", 8) == 0)
		s->log.utf8 = 1;
	/* "250-..." lines continue; the last has a space after the code. */
	if (n >= 4 && line[3] == '-')
		return 0;
	snprintf(s->log.last, sizeof(s->log.last), "%s", line);
	s->log.lastcode = atoi(line);
	if (s->log.want) {
		strv_add(&s->log.reply, line);
		s->log.want = 0;
	}
	return 0;
}

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;

	if (n > r->left)
		n = r->left;
	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

static void
common_opts(struct smtp *s)
{
	const struct account *a = s->a;
	char host[256];

	if (s->url == NULL) {
		/* The path of an SMTP URL is what EHLO says. */
		if (gethostname(host, sizeof(host)) == -1 || *host == '\0')
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		s->url = xasprintf("%s%s", a->url, host);
	}
	curl_easy_setopt(s->h, CURLOPT_URL, s->url);
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	account_curl(s->h, a);
	/* No reply for this long: the server is gone. */
	curl_easy_setopt(s->h, CURLOPT_SERVER_RESPONSE_TIMEOUT, a->timeout);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->cerr);
	curl_easy_setopt(s->h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(s->h, CURLOPT_DEBUGDATA, s);
	curl_easy_setopt(s->h, CURLOPT_VERBOSE, 1L);
}

struct smtp *
smtp_new(const struct account *a, int smtputf8)
{
	struct smtp *s = xcalloc(1, sizeof(*s));

	s->a = a;
	s->smtputf8 = smtputf8;
	if ((s->h = curl_easy_init()) == NULL) {
		free(s);
		return NULL;
	}
	common_opts(s);
	return s;
}

void
smtp_free(struct smtp *s)
{
	if (s == NULL)
		return;
	curl_easy_cleanup(s->h);	/* QUIT */
	strv_free(&s->log.rcpt);
	strv_free(&s->log.reply);
	free(s->url);
	free(s);
}

/* Exit status for a failed transfer: the server's code when it gave one. */
static int
status_of(CURLcode cc, int lastcode)
{
	if (cc == CURLE_LOGIN_DENIED)
		return EX_NOPERM;
	if (cc == CURLE_USE_SSL_FAILED || cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_URL_MALFORMAT ||
	    cc == CURLE_UNSUPPORTED_PROTOCOL)
		return EX_CONFIG;
	if (lastcode >= 500 && lastcode < 600 && cc != CURLE_OPERATION_TIMEDOUT &&
	    cc != CURLE_GOT_NOTHING && cc != CURLE_RECV_ERROR)
		return EX_UNAVAILABLE;
	return EX_TEMPFAIL;
}

static const char *
what_failed(struct smtp *s, CURLcode cc)
{
	if (cc == CURLE_USE_SSL_FAILED)
		return "the server offers no STARTTLS; not sending in clear "
		    "text (set tls off to allow that)";
	if (cc == CURLE_PEER_FAILED_VERIFICATION)
		return "certificate not trusted (a private CA goes in tls_ca_file)";
	if (cc == CURLE_LOGIN_DENIED && *s->log.last)
		return s->log.last;
	return *s->cerr ? s->cerr : curl_easy_strerror(cc);
}

void
smtp_send(struct smtp *s, const struct outmsg *m, struct sendresult *r)
{
	struct curl_slist *rcpt = NULL;
	struct reader rd = { m->data, m->len };
	char *from, *v;
	size_t i;
	CURLcode cc;
	int temp = 0, perm = 0;

	memset(r, 0, sizeof(*r));
	if (m->utf8 && !s->smtputf8) {
		r->status = EX_DATAERR;
		snprintf(r->why, sizeof(r->why), "an address needs SMTPUTF8, "
		    "which the account turns off (smtputf8 off)");
		return;
	}
	/* An address in UTF-8 goes only to a server that says it takes one. */
	if (m->utf8 && !s->connected && (r->status = noop(s)) != 0) {
		snprintf(r->why, sizeof(r->why), "%s", s->cerr);
		return;
	}
	if (m->utf8 && !s->log.utf8) {
		r->status = EX_UNAVAILABLE;
		snprintf(r->why, sizeof(r->why), "an address needs SMTPUTF8, "
		    "which the server does not offer");
		return;
	}
	strv_free(&s->log.rcpt);
	strv_free(&s->log.reply);
	s->log.want = 0;
	s->log.last[0] = '\0';
	s->log.lastcode = 0;
	s->cerr[0] = '\0';
	from = xasprintf("<%s>", m->from);
	for (i = 0; i < m->rcpt.n; i++) {
		v = xasprintf("<%s>", m->rcpt.v[i]);
		rcpt = curl_slist_append(rcpt, v);
		free(v);
	}
	curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	curl_easy_setopt(s->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(s->h, CURLOPT_READDATA, &rd);
	curl_easy_setopt(s->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->len);
	cc = curl_easy_perform(s->h);
	s->connected = cc == CURLE_OK;
	/* Each recipient by the reply to its RCPT. */
	for (i = 0; i < m->rcpt.n; i++) {
		const char *rep = NULL;

		if (i < s->log.rcpt.n && i < s->log.reply.n)
			rep = s->log.reply.v[i];
		if (rep != NULL && rep[0] == '2')
			strv_add(&r->accepted, m->rcpt.v[i]);
		else if (rep != NULL) {
			strv_add(&r->rejected, m->rcpt.v[i]);
			strv_add(&r->replies, rep);
			if (rep[0] == '4')
				temp = 1;
			else
				perm = 1;
		}
	}
	if (cc == CURLE_OK) {
		/* The rest went; the refused are in r->rejected. */
		r->status = temp ? EX_TEMPFAIL : perm ? EX_NOUSER : 0;
		if (r->status != 0)
			snprintf(r->why, sizeof(r->why), "%zu of %zu recipients "
			    "refused", r->rejected.n, m->rcpt.n);
	} else {
		/* Nothing went: the accepted were never handed the data. */
		strv_free(&r->accepted);
		r->status = status_of(cc, s->log.lastcode);
		if (r->rejected.n == m->rcpt.n && m->rcpt.n > 0)
			r->status = temp ? EX_TEMPFAIL : EX_UNAVAILABLE;
		diag_safe(r->why, sizeof(r->why), what_failed(s, cc),
		    strlen(what_failed(s, cc)));
	}
	curl_slist_free_all(rcpt);
	free(from);
}

/*
 * Connect, TLS, authenticate and say NOOP: what the server offers is
 * then known, and the session stays for the mail (QUIT at the end).
 */
static int
noop(struct smtp *s)
{
	CURLcode cc;
	const char *why;

	s->cerr[0] = '\0';
	curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, "NOOP");
	curl_easy_setopt(s->h, CURLOPT_UPLOAD, 0L);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(s->h, CURLOPT_NOBODY, 1L);
	cc = curl_easy_perform(s->h);
	curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(s->h, CURLOPT_NOBODY, 0L);
	if (cc == CURLE_OK) {
		s->connected = 1;
		return 0;
	}
	why = what_failed(s, cc);
	if (why != s->cerr)
		snprintf(s->cerr, sizeof(s->cerr), "%.200s", why);
	return status_of(cc, s->log.lastcode);
}

int
smtp_check(struct smtp *s)
{
	int r;

	if ((r = noop(s)) != 0)
		diag(s->a->server, r == EX_NOPERM ? "AUTH" : "connect", "%s",
		    s->cerr);
	return r;
}
