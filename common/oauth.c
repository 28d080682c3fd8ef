#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "conf.h"
#include "cred.h"
#include "hash.h"
#include "keys.h"
#include "oauth.h"
#include "spool.h"

/* A token endpoint's answer is a few hundred bytes. */
#define MAX_TOKEN_REPLY	(1024 * 1024)
#define CACHE_MAX	(64 * 1024)

struct tokens {
	char	*access;
	char	*refresh;	/* a rotated refresh token, or NULL */
	long long expires;	/* epoch seconds */
	long long lifetime;	/* expires_in as given */
};

struct reply {
	char	*buf;
	size_t	 len;
	int	 over;
};

static void
tokens_clear(struct tokens *t)
{
	cred_free(t->access);
	cred_free(t->refresh);
	memset(t, 0, sizeof(*t));
}

int
oauth_configured(const struct conf *c, const char *account)
{
	return conf_get(c, account, "token_url") != NULL;
}

/* What the cache is bound to: client id and configured refresh token. */
static void
binding(const char *client_id, const char *refresh, char out[HASH_HEX_LEN + 1])
{
	char *s;
	size_t n = strlen(client_id) + strlen(refresh) + 2;

	if ((s = malloc(n)) == NULL) {
		memset(out, '0', HASH_HEX_LEN);
		out[HASH_HEX_LEN] = '\0';
		return;
	}
	snprintf(s, n, "%s\n%s", client_id, refresh);
	hash_sha256_hex(s, n - 1, out);
	sodium_memzero(s, n);
	free(s);
}

static int
cache_path(const char *account, char *out, size_t outsz)
{
	return snprintf(out, outsz, "oauth/%s", account) >= (int)outsz ? -1 : 0;
}

/* Read the cache; 0 with t filled, -1 when there is none that fits. */
static int
cache_read(struct spool *sp, const char *account, const char *bind,
    struct tokens *t)
{
	unsigned char key[KEY_BYTES], box[CACHE_MAX], *plain = NULL;
	char path[300], *line, *save, *p;
	ssize_t n;
	size_t plen;
	int fd, r = -1, bound = 0;

	if (cache_path(account, path, sizeof(path)) == -1 ||
	    (fd = openat(spool_dirfd(sp), path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, box, sizeof(box));
	close(fd);
	if (n < (ssize_t)(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES))
		return -1;
	if (key_read(spool_dirfd(sp), "oauth", key) == -1)
		return -1;
	plen = (size_t)n - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	if ((plain = malloc(plen + 1)) == NULL)
		goto done;
	if (crypto_secretbox_open_easy(plain, box + crypto_secretbox_NONCEBYTES,
	    (size_t)n - crypto_secretbox_NONCEBYTES, box, key) != 0)
		goto done;
	plain[plen] = '\0';
	for (line = strtok_r((char *)plain, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((p = strchr(line, ' ')) == NULL)
			continue;
		*p++ = '\0';
		if (strcmp(line, "bind") == 0)
			bound = strcmp(p, bind) == 0;
		else if (strcmp(line, "access") == 0 && t->access == NULL)
			t->access = strdup(p);
		else if (strcmp(line, "refresh") == 0 && t->refresh == NULL)
			t->refresh = strdup(p);
		else if (strcmp(line, "expires") == 0)
			t->expires = strtoll(p, NULL, 10);
		else if (strcmp(line, "lifetime") == 0)
			t->lifetime = strtoll(p, NULL, 10);
	}
	if (bound && t->access != NULL)
		r = 0;
	else
		tokens_clear(t);
done:
	sodium_memzero(key, sizeof(key));
	if (plain != NULL) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	return r;
}

static int
cache_write(struct spool *sp, const char *account, const char *bind,
    const struct tokens *t)
{
	unsigned char key[KEY_BYTES], *box = NULL;
	char path[300], *plain = NULL;
	size_t plen, blen;
	int n, r = -1;

	if (cache_path(account, path, sizeof(path)) == -1)
		return -1;
	plen = strlen(t->access) + (t->refresh ? strlen(t->refresh) : 0) + 200;
	if ((plain = malloc(plen)) == NULL)
		return -1;
	n = snprintf(plain, plen, "bind %s\naccess %s\nexpires %lld\n"
	    "lifetime %lld\n%s%s%s", bind, t->access, t->expires, t->lifetime,
	    t->refresh ? "refresh " : "",
	    t->refresh ? t->refresh : "", t->refresh ? "\n" : "");
	if (n < 0 || (size_t)n >= plen)
		goto done;
	blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + (size_t)n;
	if (blen > CACHE_MAX || (box = malloc(blen)) == NULL)
		goto done;
	if (key_get(sp, "oauth", key) == -1)
		goto done;
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES,
	    (unsigned char *)plain, (size_t)n, box, key);
	sodium_memzero(key, sizeof(key));
	r = spool_replace(sp, path, box, blen);
done:
	sodium_memzero(plain, plen);
	free(plain);
	free(box);
	return r;
}

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb;
	char *b;

	if (r->len + n > MAX_TOKEN_REPLY) {
		r->over = 1;
		return 0;
	}
	if ((b = realloc(r->buf, r->len + n + 1)) == NULL)
		return 0;
	r->buf = b;
	memcpy(b + r->len, data, n);
	r->len += n;
	b[r->len] = '\0';
	return n;
}

/* Append "&name=<escaped value>" to *body. */
static int
add_field(CURL *h, char **body, size_t *len, const char *name, const char *value)
{
	char *esc, *b;
	size_t n;

	if ((esc = curl_easy_escape(h, value, 0)) == NULL)
		return -1;
	n = *len + strlen(name) + strlen(esc) + 3;
	if ((b = realloc(*body, n)) == NULL) {
		curl_free(esc);
		return -1;
	}
	*len += (size_t)sprintf(b + *len, "%s%s=%s", *len ? "&" : "", name, esc);
	sodium_memzero(esc, strlen(esc));
	curl_free(esc);
	*body = b;
	return 0;
}

/* The refresh grant; 0 with t filled, or -1 with err and *temporary. */
static int
refresh(const struct conf *c, const char *account, const char *client_id,
    const char *secret, const char *rtoken, struct tokens *t, char *err,
    size_t errsz, int *temporary)
{
	const char *url = conf_get(c, account, "token_url");
	const char *scopes = conf_get(c, account, "scopes");
	const char *ca = conf_get(c, account, "tls_ca_file");
	struct reply rep = { NULL, 0, 0 };
	char *body = NULL, cerr[CURL_ERROR_SIZE] = "";
	size_t blen = 0;
	long code = 0;
	json_t *doc = NULL, *v;
	json_error_t jerr;
	CURL *h;
	CURLcode cc;
	int r = -1;

	*temporary = 0;
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (add_field(h, &body, &blen, "grant_type", "refresh_token") == -1 ||
	    add_field(h, &body, &blen, "refresh_token", rtoken) == -1 ||
	    add_field(h, &body, &blen, "client_id", client_id) == -1 ||
	    (secret && add_field(h, &body, &blen, "client_secret", secret) == -1) ||
	    (scopes && add_field(h, &body, &blen, "scope", scopes) == -1)) {
		snprintf(err, errsz, "out of memory");
		goto done;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &rep);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(err, errsz, "%s: %s", url, *cerr ? cerr :
		    curl_easy_strerror(cc));
		*temporary = cc != CURLE_URL_MALFORMAT &&
		    cc != CURLE_UNSUPPORTED_PROTOCOL &&
		    cc != CURLE_PEER_FAILED_VERIFICATION;
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	doc = rep.buf ? json_loadb(rep.buf, rep.len, 0, &jerr) : NULL;
	if (code != 200) {
		const char *e = NULL, *d = NULL;

		if (json_is_object(doc)) {
			e = json_string_value(json_object_get(doc, "error"));
			d = json_string_value(json_object_get(doc,
			    "error_description"));
		}
		snprintf(err, errsz, "%s: HTTP %ld%s%s%s%s", url, code,
		    e ? ": " : "", e ? e : "", d ? ": " : "", d ? d : "");
		*temporary = code >= 500 || code == 429;
		goto done;
	}
	if (!json_is_object(doc) || !json_is_string(v = json_object_get(doc,
	    "access_token")) || *json_string_value(v) == '\0') {
		snprintf(err, errsz, "%s: the reply holds no access_token", url);
		goto done;
	}
	t->access = strdup(json_string_value(v));
	v = json_object_get(doc, "expires_in");
	/* No expires_in: take the common hour, refreshed on refusal anyway. */
	t->lifetime = json_is_integer(v) ? json_integer_value(v) :
	    json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 3600;
	t->expires = (long long)time(NULL) + t->lifetime;
	if (json_is_string(v = json_object_get(doc, "refresh_token")))
		t->refresh = strdup(json_string_value(v));
	if (t->access == NULL) {
		snprintf(err, errsz, "out of memory");
		goto done;
	}
	r = 0;
done:
	if (doc != NULL) {
		/* The reply held secrets; jansson copied them. */
		json_decref(doc);
	}
	if (rep.buf != NULL) {
		sodium_memzero(rep.buf, rep.len);
		free(rep.buf);
	}
	if (body != NULL) {
		sodium_memzero(body, blen);
		free(body);
	}
	curl_easy_cleanup(h);
	return r;
}

/* OAUTH_MARGIN, or half the lifetime of a token that lives shorter. */
static long long
margin(const struct tokens *t)
{
	return t->lifetime > 0 && t->lifetime / 2 < OAUTH_MARGIN ?
	    t->lifetime / 2 : OAUTH_MARGIN;
}

char *
oauth_token(struct spool *sp, const struct conf *c, const char *account,
    int force, char *err, size_t errsz, int *temporary)
{
	struct tokens t = { NULL, NULL, 0, 0 }, fresh = { NULL, NULL, 0, 0 };
	const char *client_id = conf_get(c, account, "client_id");
	char *secret = NULL, *rtoken = NULL, *tok = NULL, bind[HASH_HEX_LEN + 1];
	char serr[256];

	*temporary = 0;
	if (client_id == NULL) {
		snprintf(err, errsz, "token_url set but no client_id");
		return NULL;
	}
	if ((rtoken = cred_get(c, account, "refresh_token", serr,
	    sizeof(serr))) == NULL) {
		snprintf(err, errsz, "refresh_token: %s", *serr ? serr :
		    "not set (refresh_token or refresh_token_eval)");
		return NULL;
	}
	binding(client_id, rtoken, bind);
	if (cache_read(sp, account, bind, &t) == 0 && !force &&
	    t.expires - margin(&t) > (long long)time(NULL)) {
		tok = t.access;
		t.access = NULL;
		goto done;
	}
	secret = cred_get(c, account, "client_secret", serr, sizeof(serr));
	if (secret == NULL && *serr != '\0') {
		snprintf(err, errsz, "client_secret: %s", serr);
		goto done;
	}
	if (refresh(c, account, client_id, secret, t.refresh ? t.refresh :
	    rtoken, &fresh, err, errsz, temporary) == -1)
		goto done;
	if (fresh.refresh == NULL && t.refresh != NULL) {
		fresh.refresh = t.refresh;
		t.refresh = NULL;
	}
	if (cache_write(sp, account, bind, &fresh) == -1) {
		/* A token that works but is not cached costs a refresh next time. */
		snprintf(err, errsz, "oauth/%s: cannot cache the token: %s",
		    account, strerror(errno));
	}
	tok = fresh.access;
	fresh.access = NULL;
done:
	tokens_clear(&t);
	tokens_clear(&fresh);
	cred_free(secret);
	cred_free(rtoken);
	return tok;
}
