/*
 * Secret keys that mailcase makes for itself and keeps in the spool under
 * keys/<name>: 32 random bytes each, mode 0600, made on first use and
 * never replaced (a replaced key would orphan every MAC made under the
 * old one).  keys/msgid signs the Message-IDs of mail mailsend sends;
 * keys/source signs the X-Mailcase-Source header mailfetch writes.
 */
#ifndef KEYS_H
#define KEYS_H

#include <sodium.h>

struct spool;

#define KEY_BYTES	crypto_auth_KEYBYTES

/*
 * Read keys/<name> below the spool directory dirfd into key.  0, or -1
 * with errno set: ENOENT when no key has been made yet, EBADMSG when
 * the file is not a key.  Nothing is created.
 */
int	key_read(int dirfd, const char *name, unsigned char key[KEY_BYTES]);

/*
 * The key keys/<name>, made on first use.  Two processes racing to make
 * it end up with the same one (link(2), first wins).  0 or -1 with errno.
 * The caller wipes key with sodium_memzero() when done.
 */
int	key_get(struct spool *, const char *name, unsigned char key[KEY_BYTES]);

#endif
