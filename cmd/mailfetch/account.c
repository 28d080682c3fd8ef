/*
 * An account's IMAP settings from the configuration file: where, how to
 * protect the connection, and how to log in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "conf.h"
#include "cred.h"
#include "diag.h"
#include "mailfetch.h"
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

/* URL, TLS mode and server name from imap_url, or host, port and tls. */
static int
where(const struct conf *c, struct account *a)
{
	const char *url = conf_get(c, a->name, "imap_url");
	const char *tls = conf_get(c, a->name, "tls");
	const char *host = conf_get(c, a->name, "host");
	const char *port = conf_get(c, a->name, "port");
	const char *rest;
	int implicit;

	if (tls != NULL && strcmp(tls, "on") && strcmp(tls, "starttls") &&
	    strcmp(tls, "off"))
		return bad(a->name, "tls must be on, starttls or off");
	if (url != NULL) {
		if (strncasecmp(url, "imaps://", 8) == 0)
			implicit = 1, rest = url + 8;
		else if (strncasecmp(url, "imap://", 7) == 0)
			implicit = 0, rest = url + 7;
		else
			return bad(a->name, "imap_url must begin imap:// or imaps://");
		if (implicit && tls != NULL && strcmp(tls, "on"))
			return bad(a->name, "imaps:// is TLS from the start: "
			    "tls must be on or unset");
		if (!implicit && tls != NULL && !strcmp(tls, "on"))
			return bad(a->name, "tls on with imap://: use imaps://, "
			    "or tls starttls");
		a->tls = implicit ? TLS_IMPLICIT : tls && !strcmp(tls, "off") ?
		    TLS_OFF : TLS_STARTTLS;
		a->server = xstrndup(rest, strcspn(rest, "/?"));
		a->url = xasprintf("%s%s/", implicit ? "imaps://" : "imap://",
		    a->server);
		return 0;
	}
	if (host == NULL)
		return bad(a->name, "no imap_url or host");
	a->tls = tls == NULL || !strcmp(tls, "on") ? TLS_IMPLICIT :
	    !strcmp(tls, "starttls") ? TLS_STARTTLS : TLS_OFF;
	if (port == NULL)
		port = a->tls == TLS_IMPLICIT ? "993" : "143";
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return bad(a->name, "port must be a number");
	a->server = xasprintf("%s:%s", host, port);
	a->url = xasprintf("%s://%s/", a->tls == TLS_IMPLICIT ? "imaps" : "imap",
	    a->server);
	return 0;
}

int
account_load(const struct conf *c, const char *name, struct account *a)
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
	if ((r = where(c, a)) != 0)
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
	if (!strcmp(auth, "none"))
		return 0;
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
