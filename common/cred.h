/*
 * Secrets from the configuration: a password, a client secret or a
 * refresh token, given in the file itself (which conf_load() then
 * insists is private) or printed by a command, msmtp's passwordeval:
 *
 *	passwordeval "pass show mail/soc"
 *	client_secret_eval "cat ~/.secrets/soc-client"
 *
 * Secrets never come from the command line, where ps(1) shows them.
 */
#ifndef CRED_H
#define CRED_H

#include <stddef.h>

struct conf;

/*
 * The secret key (say "password") of account: its value, else the first
 * line printed by the command of key's eval setting ("passwordeval" for
 * "password", "<key>_eval" otherwise), run by /bin/sh with stdin from
 * /dev/null.  Returns a malloc'ed string, freed with cred_free(); NULL
 * when neither is set (err is then ""), or on failure with the reason in
 * err (the command failed, printed nothing, or out of memory).
 */
char	*cred_get(const struct conf *, const char *account, const char *key,
	    char *err, size_t errsz);

/* Wipe and free a secret; NULL is fine. */
void	 cred_free(char *);

#endif
