#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <curl/curl.h>

#include "account.h"
#include "conf.h"
#include "cred.h"
#include "diag.h"
#include "oauth.h"
#include "xalloc.h"

/* Without a timeout setting: as long as Splunk SOAR's socket timeout. */
#define DEFAULT_TIMEOUT	60

static int
bad(const char *acct, const char *what)
{
	diag(acct, "config", "%s", what);
	return EX_CONFIG;
}

struct proto {
	const char	*urlkey, *plain, *tls;	/* key, schemes */
	const char	*ports[3];		/* implicit, starttls, off */
};

static const struct proto protos[] = {
	{ "imap_url", "imap", "imaps", { "993", "143", "143" } },
	{ "smtp_url", "smtp", "smtps", { "465", "587", "25" } },
};

/* URL, TLS mode and server name from the URL, or host, port and tls. */
static int
where(const struct conf *c, const struct proto *pr, struct account *a)
{
	const char *url = conf_get(c, a->name, pr->urlkey);
	const char *tls = conf_get(c, a->name, "tls");
	const char *host = conf_get(c, a->name, "host");
	const char *port = conf_get(c, a->name, "port");
	const char *rest;
	size_t n;
	int implicit;
	char msg[128];

	if (tls != NULL && strcmp(tls, "on") && strcmp(tls, "starttls") &&
	    strcmp(tls, "off"))
		return bad(a->name, "tls must be on, starttls or off");
	if (url != NULL) {
		n = strlen(pr->tls);
		if (strncasecmp(url, pr->tls, n) == 0 && !strncmp(url + n, "://", 3))
			implicit = 1, rest = url + n + 3;
		else if (strncasecmp(url, pr->plain, n - 1) == 0 &&
		    !strncmp(url + n - 1, "://", 3))
			implicit = 0, rest = url + n + 2;
		else {
			snprintf(msg, sizeof(msg), "%s must begin %s:// or %s://",
			    pr->urlkey, pr->plain, pr->tls);
			return bad(a->name, msg);
		}
		if (implicit && tls != NULL && strcmp(tls, "on")) {
			snprintf(msg, sizeof(msg), "%s:// is TLS from the start: "
			    "tls must be on or unset", pr->tls);
			return bad(a->name, msg);
		}
		if (!implicit && tls != NULL && !strcmp(tls, "on")) {
			snprintf(msg, sizeof(msg), "tls on with %s://: use %s://, "
			    "or tls starttls", pr->plain, pr->tls);
			return bad(a->name, msg);
		}
		a->tls = implicit ? TLS_IMPLICIT : tls && !strcmp(tls, "off") ?
		    TLS_OFF : TLS_STARTTLS;
		a->server = xstrndup(rest, strcspn(rest, "/?"));
		if (*a->server == '\0')
			return bad(a->name, "no host in the URL");
		a->url = xasprintf("%s://%s/", implicit ? pr->tls : pr->plain,
		    a->server);
		return 0;
	}
	if (host == NULL) {
		snprintf(msg, sizeof(msg), "no %s or host", pr->urlkey);
		return bad(a->name, msg);
	}
	a->tls = tls == NULL || !strcmp(tls, "on") ? TLS_IMPLICIT :
	    !strcmp(tls, "starttls") ? TLS_STARTTLS : TLS_OFF;
	if (port == NULL)
		port = pr->ports[a->tls];
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return bad(a->name, "port must be a number");
	a->server = xasprintf("%s:%s", host, port);
	a->url = xasprintf("%s://%s/", a->tls == TLS_IMPLICIT ? pr->tls :
	    pr->plain, a->server);
	return 0;
}

int
account_load(const struct conf *c, const char *name, enum acct_proto proto,
    struct account *a)
{
	const char *auth, *t;
	char err[256];
	int r, v;

	memset(a, 0, sizeof(*a));
	a->name = name;
	if (!conf_has_account(c, name)) {
		diag(name, "config", "no such account");
		return EX_CONFIG;
	}
	if ((r = where(c, &protos[proto], a)) != 0)
		return r;
	if ((v = conf_bool(c, name, "tls_verify", 1)) == -1)
		return bad(name, "tls_verify must be on or off");
	a->verify = v;
	a->cafile = conf_get(c, name, "tls_ca_file");
	a->user = conf_get(c, name, "user");
	a->timeout = DEFAULT_TIMEOUT;
	if ((t = conf_get(c, name, "timeout")) != NULL &&
	    ((a->timeout = strtol(t, NULL, 10)) <= 0 || a->timeout > 3600))
		return bad(name, "timeout must be 1 to 3600 seconds");
	auth = conf_get(c, name, "auth");
	if (auth == NULL || !strcmp(auth, "auto"))
		auth = oauth_configured(c, name) ? "oauth" : "basic";
	if (!strcmp(auth, "oauth") || !strcmp(auth, "xoauth2") ||
	    !strcmp(auth, "oauthbearer")) {
		if (!oauth_configured(c, name))
			return bad(name, "auth oauth needs token_url");
		a->mech = !strcmp(auth, "xoauth2") ? "XOAUTH2" :
		    !strcmp(auth, "oauthbearer") ? "OAUTHBEARER" : NULL;
		a->oauth = 1;	/* the token comes later, from the spool */
		if (a->user == NULL)
			return bad(name, "OAuth needs user");
		return 0;
	}
	if (!strcmp(auth, "basic")) {
		a->password = cred_get(c, name, "password", err, sizeof(err));
		if (a->password == NULL && *err != '\0') {
			diag(name, "passwordeval", "%s", err);
			return EX_CONFIG;
		}
		/* Neither password nor passwordeval: ~/.netrc, as curl reads it. */
		a->netrc = a->password == NULL;
		return 0;
	}
	if (!strcmp(auth, "none")) {
		a->anonymous = 1;
		return 0;
	}
	return bad(name, "auth must be auto, oauth, xoauth2, oauthbearer, "
	    "basic or none");
}

void
account_free(struct account *a)
{
	free(a->url);
	free(a->server);
	cred_free(a->password);
	cred_free(a->bearer);
	memset(a, 0, sizeof(*a));
}

void
account_curl(void *curl, const struct account *a)
{
	CURL *h = curl;
	char opt[32];

	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)(a->tls == TLS_STARTTLS ?
	    CURLUSESSL_ALL : CURLUSESSL_NONE));
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, (long)a->verify);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, a->verify ? 2L : 0L);
	if (a->cafile != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, a->cafile);
	if (!a->anonymous && a->user != NULL)
		curl_easy_setopt(h, CURLOPT_USERNAME, a->user);
	if (a->bearer != NULL) {
		curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, a->bearer);
		if (a->mech != NULL) {
			snprintf(opt, sizeof(opt), "AUTH=%s", a->mech);
			curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, opt);
		}
	} else if (a->password != NULL)
		curl_easy_setopt(h, CURLOPT_PASSWORD, a->password);
	if (a->netrc)
		curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, a->timeout);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
}
