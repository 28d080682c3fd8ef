/*
 * artifactx - indicators from every mail.
 *
 * It reads message records and writes each back with an "artifacts"
 * array: the IPs, URLs, domains, hashes and addresses in its subject,
 * bodies (HTML text and link targets both), attachment names and address
 * fields, one entry per value with where it was seen and how often, plus
 * one per attachment (Splunk SOAR's Vault Artifact).  Attached messages
 * get their own arrays, and their indicators count for the message that
 * carries them too.  --flat writes Splunk-SOAR-style artifact records
 * instead, for a SIEM.  It holds no secrets and opens no sockets.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "artifactx.h"
#include "conf.h"
#include "diag.h"
#include "jsonl.h"
#include "limits.h"
#include "xalloc.h"

unsigned	wanted = (1u << IOC_NTYPES) - 1;

/*
 * jemalloc reads its settings from this (jemalloc(3), malloc_conf; the
 * MALLOC_CONF environment variable still wins).  Huge pages for its
 * extents: a text of 40 MB is scanned into a few MB of indicators and
 * JSON, and a page fault for every 4 KB of that cost a tenth of the run.
 * Without jemalloc (the sanitizer builds) nothing reads it.
 */
extern const char *malloc_conf;
const char	*malloc_conf = "thp:always";

static int	flat;

static void	usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: artifactx [-d spool] [--flat] [--only types] "
	    "[--text] [file ...]\n");
	exit(EX_USAGE);
}

/* "ip,url" to a mask; -1 for an unknown name. */
static int
parse_only(const char *list, unsigned *mask)
{
	char *copy = xstrdup(list), *tok, *save;
	int t, ok = 0;

	*mask = 0;
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		for (t = 0; t < IOC_NTYPES; t++)
			if (!strcmp(tok, ioc_name((enum ioctype)t)))
				break;
		if (t == IOC_NTYPES) {
			diag(tok, "--only", "not a type: ip, url, domain, hash, "
			    "email, file");
			ok = -1;
		}
		*mask |= 1u << t;
	}
	free(copy);
	return ok;
}

static void
scan_string(struct iocset *set, json_t *v, const char *where)
{
	if (json_is_string(v))
		scan_text(set, json_string_value(v), json_string_length(v), where);
}

static void
scan_addresses(struct iocset *set, json_t *rec, const char *field,
    enum role role)
{
	json_t *a, *addr;
	size_t i;

	json_array_foreach(json_object_get(rec, field), i, a)
		if (json_is_string(addr = json_object_get(a, "addr")))
			scan_address(set, json_string_value(addr),
			    json_string_length(addr), field, role);
}

static void
add_file(struct iocset *set, json_t *att, size_t i)
{
	const char *sha = json_string_value(json_object_get(att, "sha256"));
	json_t *x, *cef;
	char where[64];

	if (sha == NULL)
		return;
	snprintf(where, sizeof(where), "attachments[%zu]", i);
	x = json_object();
	cef = json_object();
	json_object_set(cef, "fileName", json_object_get(att, "name"));
	json_object_set_new(cef, "fileHashMd5",
	    json_incref(json_object_get(att, "md5")));
	json_object_set_new(cef, "fileHashSha1",
	    json_incref(json_object_get(att, "sha1")));
	json_object_set_new(cef, "fileHashSha256", json_string(sha));
	json_object_set_new(x, "cef", cef);
	json_object_set(x, "filename", json_object_get(att, "name"));
	json_object_set(x, "mime", json_object_get(att, "type"));
	json_object_set(x, "size", json_object_get(att, "size"));
	json_object_set(x, "vault", json_object_get(att, "vault"));
	iocset_add(set, IOC_FILE, sha, strlen(sha), where, 0, ROLE_NONE, x);
}

/* The indicators of one message record and of those it carries. */
static void
extract(json_t *rec, struct iocset *set, int depth)
{
	json_t *v, *att, *sub;
	struct iocset *child;
	char where[64];
	size_t i;

	scan_string(set, json_object_get(rec, "subject"), "subject");
	scan_string(set, json_object_get(rec, "text"), "text");
	if (json_is_string(v = json_object_get(rec, "html")))
		scan_html(set, json_string_value(v), json_string_length(v), "html");
	scan_addresses(set, rec, "from", ROLE_FROM);
	scan_addresses(set, rec, "sender", ROLE_FROM);
	scan_addresses(set, rec, "reply_to", ROLE_FROM);
	scan_addresses(set, rec, "to", ROLE_TO);
	scan_addresses(set, rec, "cc", ROLE_TO);
	scan_addresses(set, rec, "bcc", ROLE_TO);
	scan_addresses(set, rec, "delivered_to", ROLE_TO);
	json_array_foreach(json_object_get(rec, "attachments"), i, att) {
		snprintf(where, sizeof(where), "attachments[%zu].name", i);
		scan_string(set, json_object_get(att, "name"), where);
		add_file(set, att, i);
	}
	if (depth >= MAX_MIME_DEPTH)
		return;
	json_array_foreach(json_object_get(rec, "messages"), i, sub) {
		if (!json_is_object(sub))
			continue;
		child = iocset_new();
		extract(sub, child, depth + 1);
		json_object_set_new(sub, "artifacts", iocset_json(child));
		snprintf(where, sizeof(where), "messages[%zu]", i);
		iocset_merge(set, child, where);
		iocset_free(child);
	}
}

/* Splunk SOAR's Email Artifact: the header map, last value wins. */
static json_t *
email_artifact(json_t *rec)
{
	json_t *cef = json_object(), *hdrs = json_object(), *h, *received;
	const char *name;
	size_t i;

	received = json_array();
	json_array_foreach(json_object_get(rec, "headers"), i, h) {
		name = json_string_value(json_array_get(h, 0));
		if (name == NULL)
			continue;
		if (!strcasecmp(name, "Received"))
			json_array_append(received, json_array_get(h, 1));
		else
			json_object_set(hdrs, name, json_array_get(h, 1));
		if (!strcasecmp(name, "From"))
			json_object_set(cef, "fromEmail", json_array_get(h, 1));
		else if (!strcasecmp(name, "To"))
			json_object_set(cef, "toEmail", json_array_get(h, 1));
	}
	json_object_set_new(hdrs, "Received", received);
	json_object_set_new(cef, "emailHeaders", hdrs);
	return cef;
}

static int
write_flat(json_t *rec, json_t *arts)
{
	json_t *a, *r, *v;
	const char *key, *type;
	size_t i;
	int t;

	json_array_foreach(arts, i, a) {
		r = jsonl_record("artifact");
		type = json_string_value(json_object_get(a, "type"));
		json_object_set_new(r, "name", json_null());
		for (t = 0; t < IOC_NTYPES; t++)
			if (type && !strcmp(type, ioc_name((enum ioctype)t)))
				json_object_set_new(r, "name", json_string(
				    ioc_artifact_name((enum ioctype)t)));
		json_object_set(r, "id", json_object_get(rec, "id"));
		json_object_set(r, "source_id", json_object_get(rec, "source_id"));
		json_object_set(r, "source", json_object_get(rec, "source"));
		json_object_foreach(a, key, v)
			json_object_set(r, key, v);
		if (jsonl_write(stdout, r) == -1)
			return -1;
		json_decref(r);
	}
	if (json_object_get(rec, "kind") != NULL &&
	    !strcmp(json_string_value(json_object_get(rec, "kind")) ?
	    json_string_value(json_object_get(rec, "kind")) : "", "message")) {
		r = jsonl_record("artifact");
		json_object_set_new(r, "name", json_string("Email Artifact"));
		json_object_set(r, "id", json_object_get(rec, "id"));
		json_object_set(r, "source_id", json_object_get(rec, "source_id"));
		json_object_set_new(r, "type", json_string("message"));
		json_object_set_new(r, "cef", email_artifact(rec));
		if (jsonl_write(stdout, r) == -1)
			return -1;
		json_decref(r);
	}
	return 0;
}

static int
process(json_t *rec, void *arg)
{
	struct iocset *set = arg;
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	json_t *arts;
	int r;

	/* Records of other kinds pass through untouched. */
	if (kind == NULL || strcmp(kind, "message") != 0)
		return jsonl_write(stdout, rec) == -1 ? EX_IOERR : 0;
	iocset_clear(set);
	extract(rec, set, 0);
	if (flat) {
		arts = iocset_json(set);
		r = write_flat(rec, arts);
		json_decref(arts);
	} else
		r = jsonl_write_with(stdout, rec, "artifacts", iocset_write, set);
	if (r == -1) {
		/* Nobody reads what comes next: stop. */
		diag("stdout", "write", "%s", strerror(errno));
		exit(EX_IOERR);
	}
	return 0;
}

/* --text: all of fd is one document; a file is mapped, not read. */
static int
process_text(int fd, const char *path, struct iocset *set)
{
	char *buf = NULL;
	void *map = MAP_FAILED;
	size_t len = 0, cap = 0;
	ssize_t n = 0;
	struct stat st;
	json_t *rec, *src;
	int r;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
	    0)) != MAP_FAILED) {
		buf = map;
		len = (size_t)st.st_size;
	} else for (;;) {
		xgrow(&buf, &cap, len + 65536);
		if ((n = read(fd, buf + len, cap - len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	if (n == -1) {
		diag(path ? path : "stdin", "read", "%s", strerror(errno));
		free(buf);
		return EX_IOERR;
	}
	iocset_clear(set);
	scan_text(set, buf ? buf : "", len, "text");
	if (map != MAP_FAILED)
		munmap(map, len);
	else
		free(buf);
	rec = jsonl_record("text");
	src = json_object();
	json_object_set_new(src, "kind", json_string(path ? "file" : "stdin"));
	if (path)
		json_object_set_new(src, "path", jsonl_cstr(path));
	json_object_set_new(rec, "source", src);
	if (flat) {
		json_object_set_new(rec, "artifacts", iocset_json(set));
		r = write_flat(rec, json_object_get(rec, "artifacts"));
	} else
		r = jsonl_write_with(stdout, rec, "artifacts", iocset_write, set);
	json_decref(rec);
	if (r == -1) {
		diag("stdout", "write", "%s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

static void
config_only(void)
{
	char err[512];
	struct conf *c;
	const char *v;

	if ((c = conf_load(NULL, err, sizeof(err))) == NULL) {
		diag(NULL, "config", "%s", err);
		exit(EX_CONFIG);
	}
	if ((v = conf_get(c, NULL, "extract")) != NULL &&
	    parse_only(v, &wanted) == -1)
		exit(EX_CONFIG);
	conf_free(c);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "flat",	no_argument,		NULL, 'f' },
		{ "only",	required_argument,	NULL, 'o' },
		{ "text",	no_argument,		NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct iocset *set;
	const char *only = NULL;
	int ch, i, fd, text = 0, status = 0;
	FILE *fp;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1)
		switch (ch) {
		case 'd':	break;	/* every tool takes it; artifactx keeps nothing */
		case 'f':	flat = 1; break;
		case 'o':	only = optarg; break;
		case 't':	text = 1; break;
		default:	usage();
		}
	argc -= optind;
	argv += optind;

	config_only();
	if (only != NULL && parse_only(only, &wanted) == -1)
		usage();
	json_object_seed(0);
	host_init();
	scan_init();
	set = iocset_new();
	if (argc == 0) {
		status = text ? process_text(STDIN_FILENO, NULL, set) :
		    jsonl_loop(stdin, "stdin", stdout, process, set);
	}
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-")) {
			status = status_worse(status, text ?
			    process_text(STDIN_FILENO, NULL, set) :
			    jsonl_loop(stdin, "stdin", stdout, process, set));
			continue;
		}
		if (text) {
			if ((fd = open(argv[i], O_RDONLY | O_CLOEXEC)) == -1) {
				diag(argv[i], "open", "%s", strerror(errno));
				status = status_worse(status, EX_NOINPUT);
				continue;
			}
			status = status_worse(status, process_text(fd, argv[i], set));
			close(fd);
			continue;
		}
		if ((fp = fopen(argv[i], "re")) == NULL) {
			diag(argv[i], "open", "%s", strerror(errno));
			status = status_worse(status, EX_NOINPUT);
			continue;
		}
		status = status_worse(status, jsonl_loop(fp, argv[i], stdout,
		    process, set));
		fclose(fp);
	}
	iocset_free(set);
	if (fflush(stdout) == EOF) {
		diag("stdout", "write", "%s", strerror(errno));
		status = status_worse(status, EX_IOERR);
	}
	return status;
}
