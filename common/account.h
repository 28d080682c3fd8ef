/*
 * An account's server settings from the configuration file, for the two
 * tools that open sockets (mailfetch for IMAP, mailsend for SMTP): where,
 * how the connection is protected, and how to log in.
 *
 *	imap_url imaps://imap.corp.example	or host, port and tls
 *	smtp_url smtp://smtp.corp.example:587
 *
 * A URL's scheme decides TLS: imaps:// and smtps:// are TLS from the
 * first byte; imap:// and smtp:// require STARTTLS, never falling back
 * to clear text, unless the account says "tls off".  Without a URL,
 * host and port with tls on (the default), starttls or off; default
 * ports IMAP 993/143/143, SMTP 465/587/25.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

struct conf;

enum acct_proto { ACCT_IMAP, ACCT_SMTP };
enum tlsmode { TLS_IMPLICIT, TLS_STARTTLS, TLS_OFF };

struct account {
	const char	*name;
	char		*url;		/* scheme://host[:port]/ */
	char		*server;	/* host[:port], for messages */
	enum tlsmode	 tls;
	int		 verify;
	const char	*cafile;
	const char	*user;
	char		*password;	/* or NULL */
	int		 oauth;		/* log in with an access token */
	char		*bearer;	/* the token, once got, or NULL */
	const char	*mech;		/* "XOAUTH2", "OAUTHBEARER" or NULL */
	int		 netrc;
	int		 anonymous;	/* auth none */
	long		 timeout;	/* seconds, for connect and each read */
};

/*
 * The account's settings for proto into a (strings borrowed from the
 * configuration, secrets read by cred_get()).  Returns 0, or EX_CONFIG
 * after one diagnostic.  account_free() wipes the secrets.
 */
int	account_load(const struct conf *, const char *name, enum acct_proto,
	    struct account *);
void	account_free(struct account *);

/*
 * Set on a libcurl easy handle (a CURL *, passed as void * so that this
 * header needs no libcurl) everything the account says of the
 * connection: the URL's TLS (STARTTLS required unless tls off), the
 * certificate check and CA file, the login, the connect timeout.
 */
void	account_curl(void *curl, const struct account *);

#endif
