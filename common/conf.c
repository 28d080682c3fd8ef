#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "xdg.h"

struct setting {
	char	*key;
	char	*value;
};

struct account {
	char		*name;		/* NULL for the defaults */
	struct setting	*set;
	size_t		 nset;
};

struct conf {
	char		*path;
	struct account	*acct;		/* acct[0] is the defaults */
	size_t		 nacct;
};

/* Every key any tool reads; a key not here is a typo. */
static const char *known_keys[] = {
	"imap_url", "smtp_url", "tls", "tls_verify", "tls_ca_file",
	"user", "password", "passwordeval", "from", "auth",
	"client_id", "client_secret", "client_secret_eval", "token_url",
	"scopes", "refresh_token", "refresh_token_eval",
	"ingest", "first_run_max", "max_emails", "folder",
	"service_mail", "signature_file", "days_to_query",
	"extract", "create_untagged", "match_subject", "smtputf8",
	"timeout", "host", "port", NULL
};

/* Keys whose values are secrets: the file must be private. */
static const char *secret_keys[] = {
	"password", "client_secret", "refresh_token", NULL
};

static int
in_list(const char **list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

char *
conf_default_path(void)
{
	return xdg_path("MAILCASE_CONFIG", "XDG_CONFIG_HOME", ".config", "/config");
}

static struct account *
find_account(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 1; i < c->nacct; i++)
		if (strcmp(c->acct[i].name, name) == 0)
			return &c->acct[i];
	return NULL;
}

static int
set_value(struct account *a, const char *key, const char *value)
{
	struct setting *s;
	size_t i;
	char *v;

	if ((v = strdup(value)) == NULL)
		return -1;
	for (i = 0; i < a->nset; i++)
		if (strcmp(a->set[i].key, key) == 0) {
			free(a->set[i].value);
			a->set[i].value = v;
			return 0;
		}
	if ((s = realloc(a->set, (a->nset + 1) * sizeof(*s))) == NULL)
		goto fail;
	a->set = s;
	if ((s[a->nset].key = strdup(key)) == NULL)
		goto fail;
	s[a->nset++].value = v;
	return 0;
fail:
	free(v);
	return -1;
}

static struct account *
add_account(struct conf *c, const char *name)
{
	struct account *a;

	if ((a = realloc(c->acct, (c->nacct + 1) * sizeof(*a))) == NULL)
		return NULL;
	c->acct = a;
	a = &c->acct[c->nacct];
	memset(a, 0, sizeof(*a));
	if (name != NULL && (a->name = strdup(name)) == NULL)
		return NULL;
	c->nacct++;
	return a;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* "account NAME [: PARENT[, PARENT…]]" */
static int
parse_account(struct conf *c, char *rest, char *err, size_t errsz,
    const char *where)
{
	char *colon, *name, *parent, *save;
	struct account *a, *p;
	size_t i, ai;

	if ((colon = strchr(rest, ':')) != NULL)
		*colon++ = '\0';
	name = trim(rest);
	if (*name == '\0' || *name == '.' || strpbrk(name, " \t/") != NULL) {
		snprintf(err, errsz, "%s: bad account name", where);
		return -1;
	}
	if (find_account(c, name) != NULL) {
		snprintf(err, errsz, "%s: account %s defined twice", where, name);
		return -1;
	}
	if ((a = add_account(c, name)) == NULL)
		goto nomem;
	ai = c->nacct - 1;
	/* Defaults first, then each parent in order. */
	for (i = 0; i < c->acct[0].nset; i++)
		if (set_value(&c->acct[ai], c->acct[0].set[i].key,
		    c->acct[0].set[i].value) == -1)
			goto nomem;
	if (colon == NULL)
		return 0;
	for (parent = strtok_r(colon, ",", &save); parent != NULL;
	    parent = strtok_r(NULL, ",", &save)) {
		parent = trim(parent);
		if ((p = find_account(c, parent)) == NULL) {
			snprintf(err, errsz, "%s: unknown account %s", where,
			    parent);
			return -1;
		}
		for (i = 0; i < p->nset; i++)
			if (set_value(&c->acct[ai], p->set[i].key,
			    p->set[i].value) == -1)
				goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errsz, "%s: out of memory", where);
	return -1;
}

struct conf *
conf_load(const char *path, char *err, size_t errsz)
{
	struct conf *c;
	struct stat st;
	char *line = NULL, *p, *key, *value, where[512];
	size_t cap = 0, lineno = 0, vlen;
	int secrets = 0, is_default = (path == NULL);
	FILE *fp = NULL;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	if (add_account(c, NULL) == NULL)
		goto nomem;
	c->path = path ? strdup(path) : conf_default_path();
	if (c->path == NULL) {
		if (is_default)
			return c;
		goto nomem;
	}
	if ((fp = fopen(c->path, "re")) == NULL) {
		if (errno == ENOENT && is_default)
			return c;
		snprintf(err, errsz, "%s: %s", c->path, strerror(errno));
		goto fail;
	}
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%zu", c->path, lineno);
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		key = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
		value = trim(p);
		vlen = strlen(value);
		if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
			value[vlen - 1] = '\0';
			value++;
		}
		if (strcmp(key, "defaults") == 0) {
			if (c->nacct > 1) {
				snprintf(err, errsz, "%s: defaults after an "
				    "account", where);
				goto fail;
			}
			continue;
		}
		if (strcmp(key, "account") == 0) {
			if (parse_account(c, value, err, errsz, where) == -1)
				goto fail;
			continue;
		}
		if (!in_list(known_keys, key)) {
			snprintf(err, errsz, "%s: unknown key '%s'", where, key);
			goto fail;
		}
		if (in_list(secret_keys, key))
			secrets = 1;
		if (set_value(&c->acct[c->nacct - 1], key, value) == -1)
			goto nomem;
	}
	if (ferror(fp)) {
		snprintf(err, errsz, "%s: %s", c->path, strerror(errno));
		goto fail;
	}
	if (secrets) {
		if (fstat(fileno(fp), &st) == -1) {
			snprintf(err, errsz, "%s: %s", c->path, strerror(errno));
			goto fail;
		}
		if (st.st_uid != getuid()) {
			snprintf(err, errsz, "%s: holds secrets but is owned by "
			    "uid %ld, not you", c->path, (long)st.st_uid);
			goto fail;
		}
		if (st.st_mode & 077) {
			snprintf(err, errsz, "%s: holds secrets but has mode "
			    "%04o; chmod 600 it", c->path,
			    (unsigned)(st.st_mode & 07777));
			goto fail;
		}
	}
	free(line);
	fclose(fp);
	return c;
nomem:
	snprintf(err, errsz, "%s: out of memory", path ? path : "config");
fail:
	free(line);
	if (fp != NULL)
		fclose(fp);
	conf_free(c);
	return NULL;
}

void
conf_free(struct conf *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nacct; i++) {
		for (j = 0; j < c->acct[i].nset; j++) {
			/* Values may be secrets: do not leave them in freed memory. */
			explicit_bzero(c->acct[i].set[j].value,
			    strlen(c->acct[i].set[j].value));
			free(c->acct[i].set[j].key);
			free(c->acct[i].set[j].value);
		}
		free(c->acct[i].set);
		free(c->acct[i].name);
	}
	free(c->acct);
	free(c->path);
	free(c);
}

const char *
conf_get(const struct conf *c, const char *account, const char *key)
{
	const struct account *a;
	size_t i;

	a = account ? find_account(c, account) : &c->acct[0];
	if (a == NULL)
		return NULL;
	for (i = 0; i < a->nset; i++)
		if (strcmp(a->set[i].key, key) == 0)
			return a->set[i].value;
	return NULL;
}

int
conf_has_account(const struct conf *c, const char *account)
{
	return find_account(c, account) != NULL;
}

size_t
conf_naccounts(const struct conf *c)
{
	return c->nacct - 1;
}

const char *
conf_account_name(const struct conf *c, size_t i)
{
	return i + 1 < c->nacct ? c->acct[i + 1].name : NULL;
}

int
conf_bool(const struct conf *c, const char *account, const char *key,
    int dflt)
{
	const char *v = conf_get(c, account, key);

	if (v == NULL)
		return dflt;
	if (!strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "true") || !strcmp(v, "1"))
		return 1;
	if (!strcasecmp(v, "off") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "false") || !strcmp(v, "0"))
		return 0;
	return -1;
}
