/*
 * The indicators of one message: each (type, value) once, with where it
 * was seen and how often, in the order first seen.  A small open-address
 * hash table keeps adding O(1) whatever the number of indicators.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "artifactx.h"
#include "jsonl.h"
#include "xalloc.h"

/* Places listed per indicator; past this they are counted only. */
#define MAX_WHERE	16
/* Places one set tells apart ("text", "messages[2].html", ...), as many
 * as an indicator's unsigned short where[] can number; past them a place
 * is no longer listed, its sightings still counted. */
#define MAX_PLACES	65535

struct ioc {
	enum ioctype	 type;
	char		*value;
	size_t		 len;
	unsigned long	 count;
	int		 defanged;
	unsigned	 roles;		/* 1 << enum role */
	unsigned short	 where[MAX_WHERE];	/* into the set's places */
	int		 nwhere;
	json_t		*extra;
};

struct iocset {
	struct ioc	*v;
	size_t		 n, cap;
	size_t		*slot;		/* index + 1; 0 is empty */
	size_t		 nslot;
	char		**place;	/* each where once, for all of v */
	size_t		 nplace, capplace, lastplace;
	unsigned	*pslot;		/* place index + 1 by hash; 0 is empty */
	size_t		 npslot;
	unsigned long	 epoch;		/* see iocset_epoch() */
};

/* The last epoch given to a set. */
static unsigned long epochs;

/* A new epoch; never 0, which marks an empty memo slot (see scan.c). */
static unsigned long
next_epoch(void)
{
	if (++epochs == 0)
		epochs = 1;
	return epochs;
}

static const char *names[] = { "ip", "url", "domain", "hash", "email", "file" };
/* Splunk SOAR's names; its "Email Artifact" is the header one (--flat). */
static const char *artifact_names[] = { "IP Artifact", "URL Artifact",
	"Domain Artifact", "Hash Artifact", "Email Address Artifact",
	"Vault Artifact" };

const char *
ioc_name(enum ioctype t)
{
	return names[t];
}

const char *
ioc_artifact_name(enum ioctype t)
{
	return artifact_names[t];
}

struct iocset *
iocset_new(void)
{
	struct iocset *s = xcalloc(1, sizeof(*s));

	s->nslot = 64;
	s->slot = xcalloc(s->nslot, sizeof(*s->slot));
	s->epoch = next_epoch();
	return s;
}

void
iocset_clear(struct iocset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].value);
		json_decref(s->v[i].extra);
	}
	for (i = 0; i < s->nplace; i++)
		free(s->place[i]);
	free(s->pslot);
	s->pslot = NULL;
	s->npslot = 0;
	s->n = s->nplace = s->lastplace = 0;
	s->epoch = next_epoch();
	memset(s->slot, 0, s->nslot * sizeof(*s->slot));
}

void
iocset_free(struct iocset *s)
{
	if (s == NULL)
		return;
	iocset_clear(s);
	free(s->v);
	free(s->slot);
	free(s->place);
	free(s->pslot);
	free(s);
}

static size_t
hashof(enum ioctype t, const char *v, size_t n)
{
	return (size_t)XXH3_64bits_withSeed(v, n, (XXH64_hash_t)t);
}

static void
rehash(struct iocset *s)
{
	size_t i, h;

	free(s->slot);
	s->nslot *= 2;
	s->slot = xcalloc(s->nslot, sizeof(*s->slot));
	for (i = 0; i < s->n; i++) {
		h = hashof(s->v[i].type, s->v[i].value, s->v[i].len) & (s->nslot - 1);
		while (s->slot[h] != 0)
			h = (h + 1) & (s->nslot - 1);
		s->slot[h] = i + 1;
	}
}

/*
 * The number of place where in s, added if new; -1 past MAX_PLACES.  A
 * set mostly sees the same place again and again, so the last one is
 * asked first; then a hash table (a message with 30,000 attachments
 * has 30,000 places).
 */
static long
place_of(struct iocset *s, const char *where)
{
	size_t i, h, mask;

	if (s->nplace > 0 && !strcmp(s->place[s->lastplace], where))
		return (long)s->lastplace;
	if (s->nplace * 2 >= s->npslot) {
		/* Grow the table, and file every place again. */
		free(s->pslot);
		s->npslot = s->npslot ? s->npslot * 2 : 16;
		s->pslot = xcalloc(s->npslot, sizeof(*s->pslot));
		for (i = 0; i < s->nplace; i++) {
			h = XXH3_64bits(s->place[i], strlen(s->place[i]));
			while (s->pslot[h & (s->npslot - 1)] != 0)
				h++;
			s->pslot[h & (s->npslot - 1)] = (unsigned)i + 1;
		}
	}
	mask = s->npslot - 1;
	for (h = XXH3_64bits(where, strlen(where)); s->pslot[h & mask] != 0; h++)
		if (!strcmp(s->place[s->pslot[h & mask] - 1], where))
			return (long)(s->lastplace = s->pslot[h & mask] - 1);
	if (s->nplace == MAX_PLACES)
		return -1;
	if (s->nplace == s->capplace) {
		s->capplace = s->capplace ? s->capplace * 2 : 8;
		s->place = xrealloc(s->place, s->capplace * sizeof(*s->place));
	}
	s->place[s->nplace] = xstrdup(where);
	s->pslot[h & mask] = (unsigned)s->nplace + 1;
	return (long)(s->lastplace = s->nplace++);
}

/* Add count sightings at where, with the roles in rolemask. */
static struct ioc *
put(struct iocset *s, enum ioctype t, const char *value, size_t n,
    const char *where, int defanged, unsigned rolemask, json_t *extra,
    unsigned long count)
{
	struct ioc *e;
	size_t h;
	long w;
	int k;

	h = hashof(t, value, n) & (s->nslot - 1);
	while (s->slot[h] != 0) {
		e = &s->v[s->slot[h] - 1];
		if (e->type == t && e->len == n && !memcmp(e->value, value, n))
			goto found;
		h = (h + 1) & (s->nslot - 1);
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->type = t;
	e->value = xstrndup(value, n);
	e->len = n;
	e->extra = extra;
	extra = NULL;
	s->slot[h] = s->n;
	if (s->n * 2 > s->nslot) {
		rehash(s);
		e = &s->v[s->n - 1];
	}
found:
	json_decref(extra);
	e->count += count;
	e->defanged |= defanged;
	e->roles |= rolemask;
	if ((w = place_of(s, where)) == -1)
		return e;
	for (k = 0; k < e->nwhere; k++)
		if (e->where[k] == w)
			return e;
	if (e->nwhere < MAX_WHERE)
		e->where[e->nwhere++] = (unsigned short)w;
	return e;
}

long
iocset_add(struct iocset *s, enum ioctype t, const char *value, size_t n,
    const char *where, int defanged, enum role role, json_t *extra)
{
	if (!(wanted & (1u << t))) {
		json_decref(extra);
		return -1;
	}
	return put(s, t, value, n, where, defanged, 1u << role, extra, 1) - s->v;
}

/*
 * put() with the same where, role and defanged again only counts: the
 * place is listed already (or the list is full), the flags are or-ed in.
 */
void
iocset_again(struct iocset *s, size_t k)
{
	s->v[k].count++;
}

unsigned long
iocset_epoch(const struct iocset *s)
{
	return s->epoch;
}

long
iocset_place(struct iocset *s, const char *where)
{
	return place_of(s, where);
}

void
iocset_merge(struct iocset *s, const struct iocset *o, const char *prefix)
{
	const struct ioc *e;
	char *w;
	size_t i;
	int k;

	for (i = 0; i < o->n; i++) {
		e = &o->v[i];
		for (k = 0; k < e->nwhere; k++) {
			w = xasprintf("%s.%s", prefix, o->place[e->where[k]]);
			put(s, e->type, e->value, e->len, w, e->defanged,
			    e->roles, e->extra && k == 0 ?
			    json_deep_copy(e->extra) : NULL, k == 0 ? e->count : 0);
			free(w);
		}
	}
}

/* The CEF field Splunk SOAR files a value of this type under. */
static const char *
cef_key(const struct ioc *e)
{
	switch (e->type) {
	case IOC_IP:		return "sourceAddress";
	case IOC_URL:		return "requestURL";
	case IOC_DOMAIN:	return "destinationDnsDomain";
	case IOC_HASH:		return "fileHash";
	case IOC_EMAIL:
		if (e->roles & (1u << ROLE_FROM))
			return "fromEmail";
		if (e->roles & (1u << ROLE_TO))
			return "toEmail";
		return "emailAddress";
	case IOC_FILE:		return "vaultId";
	default:		return "value";
	}
}

json_t *
iocset_json(const struct iocset *s)
{
	const struct ioc *e;
	json_t *arr = json_array(), *a, *cef, *where;
	const char *key;
	json_t *val;
	size_t i;
	int k;

	for (i = 0; i < s->n; i++) {
		e = &s->v[i];
		a = json_object();
		json_object_set_new(a, "type", json_string(names[e->type]));
		json_object_set_new(a, "value", jsonl_str(e->value, e->len));
		cef = json_object();
		json_object_set_new(cef, cef_key(e), jsonl_str(e->value, e->len));
		if (e->extra != NULL && e->type != IOC_FILE)
			json_object_foreach(e->extra, key, val)
				if (!strcmp(key, "algo"))
					json_object_set_new(cef, "fileHashType",
					    json_incref(val));
		if (e->extra != NULL && e->type == IOC_FILE) {
			json_t *c = json_object_get(e->extra, "cef");

			if (c != NULL)
				json_object_update(cef, c);
		}
		json_object_set_new(a, "cef", cef);
		if (e->extra != NULL)
			json_object_foreach(e->extra, key, val)
				if (strcmp(key, "cef") != 0)
					json_object_set(a, key, val);
		where = json_array();
		for (k = 0; k < e->nwhere; k++)
			json_array_append_new(where,
			    json_string(s->place[e->where[k]]));
		json_object_set_new(a, "where", where);
		json_object_set_new(a, "count", json_integer((json_int_t)e->count));
		json_object_set_new(a, "defanged", json_boolean(e->defanged));
		json_array_append_new(arr, a);
	}
	return arr;
}

/* ",key:value" for each member of obj (may be NULL) but the one named but. */
static void
write_members(struct jsonw *w, json_t *obj, const char *but)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		if (!strcmp(key, but))
			continue;
		jsonw_raw(w, ",");
		jsonw_str(w, key, strlen(key));
		jsonw_raw(w, ":");
		jsonw_value(w, val);
	}
}

/*
 * The same array as iocset_json, written as it is made.  The extras
 * added with the indicators (scan.c, add_file) never name a member of
 * the artifact itself (type, value, where, count, defanged), so writing
 * them in order is what setting them on the object would give.
 */
void
iocset_write(struct jsonw *w, void *arg)
{
	const struct iocset *s = arg;
	const struct ioc *e;
	const char *ck;
	json_t *val, *c;
	char num[64];
	size_t i;
	int k;

	jsonw_raw(w, "[");
	for (i = 0; i < s->n; i++) {
		e = &s->v[i];
		jsonw_raw(w, i ? ",{\"type\":" : "{\"type\":");
		jsonw_str(w, names[e->type], strlen(names[e->type]));
		jsonw_raw(w, ",\"value\":");
		jsonw_str(w, e->value, e->len);
		jsonw_raw(w, ",\"cef\":{");
		ck = cef_key(e);
		c = e->type == IOC_FILE ? json_object_get(e->extra, "cef") : NULL;
		jsonw_str(w, ck, strlen(ck));
		jsonw_raw(w, ":");
		/* A file's own cef members come after, in their order. */
		if ((val = json_object_get(c, ck)) != NULL)
			jsonw_value(w, val);
		else
			jsonw_str(w, e->value, e->len);
		if (e->extra != NULL && e->type != IOC_FILE &&
		    (val = json_object_get(e->extra, "algo")) != NULL) {
			jsonw_raw(w, ",\"fileHashType\":");
			jsonw_value(w, val);
		}
		write_members(w, c, ck);
		jsonw_raw(w, "}");
		write_members(w, e->extra, "cef");
		jsonw_raw(w, ",\"where\":[");
		for (k = 0; k < e->nwhere; k++) {
			if (k > 0)
				jsonw_raw(w, ",");
			jsonw_str(w, s->place[e->where[k]],
			    strlen(s->place[e->where[k]]));
		}
		snprintf(num, sizeof(num), "],\"count\":%lu,\"defanged\":%s}",
		    e->count, e->defanged ? "true" : "false");
		jsonw_raw(w, num);
	}
	jsonw_raw(w, "]");
}

