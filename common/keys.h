/*
 * Secret keys that mailcase makes for itself and keeps in the spool under
 * keys/<name>: 32 random bytes each, mode 0600, made on first use and
 * never replaced (a replaced key would orphan every MAC made under the
 * old one).  keys/msgid signs the Message-IDs of mail mailsend sends;
 * keys/oauth seals the OAuth token cache.  keys/source is the secret half
 * of an Ed25519 key pair with which mailfetch signs the X-Mailcase-Source
 * header; keys/source.pub, its public half, is all mailparse needs, so the
 * parser of hostile mail holds no secret that could forge an origin.
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

#define KEY_PUBLIC_BYTES	crypto_sign_PUBLICKEYBYTES
#define KEY_SECRET_BYTES	crypto_sign_SECRETKEYBYTES

/*
 * The key pair keys/<name> (secret, 0600) and keys/<name>.pub, made on
 * first use the same way.  0 or -1 with errno.  The caller wipes sk.
 */
int	key_pair_get(struct spool *, const char *name,
	    unsigned char pk[KEY_PUBLIC_BYTES], unsigned char sk[KEY_SECRET_BYTES]);

/* Read keys/<name>.pub below dirfd; 0, or -1 as key_read(). */
int	key_read_public(int dirfd, const char *name,
	    unsigned char pk[KEY_PUBLIC_BYTES]);

#endif
