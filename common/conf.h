/*
 * The configuration file, shared by all tools: msmtprc-like blocks.
 *
 *	# comment
 *	defaults
 *	tls_verify on
 *	account soc
 *	imap_url imaps://imap.corp.example
 *	user soc@corp.example
 *	passwordeval "pass show soc"
 *	account soc2 : soc
 *	user soc2@corp.example
 *	account default : soc
 *
 * Account names name files in the spool: no white space or "/", and no
 * leading dot.  "defaults" settings apply to every account; "account B : A" starts B
 * with A's settings.  A value is the rest of the line, trimmed; double
 * quotes around it are removed.  Unknown keys are errors (a typo must not
 * pass as a setting).  A file that holds secrets (password, client_secret,
 * refresh_token) must be owned by the user and not readable by others.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>

struct conf;

/*
 * The file to read: $MAILCASE_CONFIG, else $XDG_CONFIG_HOME/mailcase/config,
 * else ~/.config/mailcase/config.  Malloc'ed; NULL when no home is known.
 */
char		*conf_default_path(void);

/*
 * Read path (NULL: conf_default_path(); a missing default file gives an
 * empty configuration).  On error returns NULL and writes the reason,
 * "path:line: what", into err.  The caller frees with conf_free().
 */
struct conf	*conf_load(const char *path, char *err, size_t errsz);
void		 conf_free(struct conf *);

/* The value of key for account (NULL: the defaults), or NULL if unset. */
const char	*conf_get(const struct conf *, const char *account,
		    const char *key);

/* Nonzero when the account is defined. */
int		 conf_has_account(const struct conf *, const char *account);

/* Number of accounts, and the name of the i-th in file order. */
size_t		 conf_naccounts(const struct conf *);
const char	*conf_account_name(const struct conf *, size_t i);

/*
 * A boolean setting: "on", "yes", "true", "1" or off/no/false/0.
 * Returns dflt when unset, -1 for any other value.
 */
int		 conf_bool(const struct conf *, const char *account,
		    const char *key, int dflt);

#endif
