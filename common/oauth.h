/*
 * OAuth 2.0 access tokens for IMAP and SMTP logins (XOAUTH2 and
 * OAUTHBEARER), got by the refresh-token grant (RFC 6749 section 6) from
 * the account's token_url with client_id, client_secret (or
 * client_secret_eval), refresh_token (or refresh_token_eval) and scopes.
 *
 * Tokens are cached in the spool at oauth/<account>, sealed with
 * libsodium's secretbox under the spool key keys/oauth (mode 0600), and
 * reused until OAUTH_MARGIN seconds (or half the lifetime of a token
 * that lives less than twice that) before expires_in runs out.  A
 * refresh token the server rotates is kept in the cache too.  The cache
 * is bound to the client id and configured refresh token it came from:
 * change either and it is ignored.
 */
#ifndef OAUTH_H
#define OAUTH_H

#include <stddef.h>

struct conf;
struct spool;

/* Refresh this long before the token expires. */
#define OAUTH_MARGIN	60

/* Nonzero when account is set up for OAuth (it has a token_url). */
int	 oauth_configured(const struct conf *, const char *account);

/*
 * An access token for account: from the cache, or (when there is none,
 * it is about to expire, or force is set because a login with it was
 * refused) by a refresh at the token endpoint.  Returns a malloc'ed
 * token, freed with cred_free(); NULL on failure with the reason in err
 * and *temporary set when trying again later may help (network, 5xx).
 */
char	*oauth_token(struct spool *, const struct conf *, const char *account,
	    int force, char *err, size_t errsz, int *temporary);

#endif
