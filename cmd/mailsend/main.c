/*
 * mailsend - mail out over SMTP, with nothing lost.
 *
 * A message comes from flags, from draft records on stdin (many drafts,
 * one connection), raw from stdin (--raw), or as a reply into a case
 * (--reply, --new-thread).  Each is composed, written to the outbox,
 * then sent; only what a server took leaves the outbox, and each
 * message's fate is a "sent" record on stdout with every refused
 * recipient and the server's words.  Only mailfetch and mailsend hold
 * credentials.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gmime/gmime.h>

#include "cases.h"
#include "conf.h"
#include "cred.h"
#include "diag.h"
#include "hash.h"
#include "jsonl.h"
#include "limits.h"
#include "mailsend.h"
#include "msgid.h"
#include "oauth.h"
#include "spool.h"
#include "xalloc.h"

extern char **environ;

/* One message of a batch, or a record passed on in its place. */
struct item {
	json_t		*rec;		/* passed on as it is, or NULL */
	char		 name[96];	/* in the outbox */
	struct outmsg	 m;
	json_t		*meta;
	struct draft	 d;
	char		 casecode[CASE_CODE_MAX + 1], tcode[CASE_CODE_MAX + 1];
	long		 tnum;
};

/* Drafts queued before one sync and sent on one connection. */
#define BATCH	256

struct run {
	struct spool	*sp;
	struct conf	*conf;
	const char	*acct;
	struct account	 a;
	int		 loaded;	/* a is set */
	struct smtp	*smtp;
	int		 refreshed;	/* OAuth token refreshed once */
	struct cases	*cs;
	int		 dry_run;
	int		 status;
	const char	*argv0;
	struct item	*items;		/* the batch: queued, not yet sent */
	size_t		 nitems;
};

static void	usage(void) __attribute__((noreturn));
static int	send_draft(struct run *, struct draft *);
static int	draft_from_json(json_t *, struct draft *);
static int	on_draft(json_t *, void *);
static int	flush_one(const char *, struct outmsg *, json_t *, void *);
static const char *default_account(const struct conf *);
static int	read_file(const char *, char **, size_t *);
static int	run_batch(struct run *);
static int	idle(void *);
static int	session(struct run *, int);

enum { O_TO = 256, O_CC, O_BCC, O_FROM, O_SUBJECT, O_BODY, O_BODYFILE,
	O_HTMLFILE, O_TEXTFILE, O_ATTACH, O_INLINE, O_HEADER, O_RAW, O_REPLY,
	O_NEWTHREAD, O_DRYRUN, O_CHECK, O_FLUSH, O_FORCE };

static const struct option longopts[] = {
	{ "account", required_argument, NULL, 'a' },
	{ "to", required_argument, NULL, O_TO },
	{ "cc", required_argument, NULL, O_CC },
	{ "bcc", required_argument, NULL, O_BCC },
	{ "from", required_argument, NULL, O_FROM },
	{ "subject", required_argument, NULL, O_SUBJECT },
	{ "body", required_argument, NULL, O_BODY },
	{ "body-file", required_argument, NULL, O_BODYFILE },
	{ "html-file", required_argument, NULL, O_HTMLFILE },
	{ "text-file", required_argument, NULL, O_TEXTFILE },
	{ "attach", required_argument, NULL, O_ATTACH },
	{ "inline", required_argument, NULL, O_INLINE },
	{ "header", required_argument, NULL, O_HEADER },
	{ "raw", no_argument, NULL, O_RAW },
	{ "reply", required_argument, NULL, O_REPLY },
	{ "new-thread", required_argument, NULL, O_NEWTHREAD },
	{ "thread", required_argument, NULL, 't' },
	{ "dry-run", no_argument, NULL, O_DRYRUN },
	{ "check", no_argument, NULL, O_CHECK },
	{ "flush", no_argument, NULL, O_FLUSH },
	{ "force", no_argument, NULL, O_FORCE },
	{ NULL, 0, NULL, 0 }
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mailsend [-d spool] [-a account] [--to addr] [--cc addr] "
	    "[--bcc addr]\n"
	    "\t[--from addr] [--subject text] [--body text | --body-file file]\n"
	    "\t[--html-file file [--text-file file]] [--inline file=cid]\n"
	    "\t[--attach file | vault:sha256] [--header 'name: value']\n"
	    "\t[--reply code [-t n] | --new-thread code] [--dry-run]\n"
	    "       mailsend [-d spool] [-a account] --raw [--from addr] "
	    "[--dry-run] < message\n"
	    "       mailsend [-d spool] [-a account] [--dry-run] < drafts\n"
	    "       mailsend [-d spool] [-a account] --check | --flush "
	    "[--force]\n");
	exit(EX_USAGE);
}

static void
need_file(const char *path, char **out)
{
	size_t n;

	free(*out);
	if (read_file(path, out, &n) == -1) {
		diag(path, "read", "%s", strerror(errno));
		exit(EX_NOINPUT);
	}
}

int
main(int argc, char *argv[])
{
	struct run run = { .status = 0 };
	struct draft d = { .thread = -1 };
	const char *dir = NULL;
	char err[512], *defdir = NULL, *eq, *colon;
	int ch, raw = 0, check = 0, flush = 0, force = 0, flags = 0;

	diag_init(argv[0]);
	run.argv0 = argv[0];
	while ((ch = getopt_long(argc, argv, "a:d:t:", longopts, NULL)) != -1) {
		flags += ch >= O_TO && ch <= O_NEWTHREAD && ch != O_RAW;
		switch (ch) {
		case 'a': run.acct = optarg; break;
		case 'd': dir = optarg; break;
		case 't': d.thread = strtol(optarg, NULL, 10); break;
		case O_TO: strv_add(&d.to, optarg); break;
		case O_CC: strv_add(&d.cc, optarg); break;
		case O_BCC: strv_add(&d.bcc, optarg); break;
		case O_FROM: free(d.from); d.from = xstrdup(optarg); break;
		case O_SUBJECT: free(d.subject); d.subject = xstrdup(optarg); break;
		case O_BODY: free(d.body); d.body = xstrdup(optarg); break;
		case O_BODYFILE: need_file(optarg, &d.body); break;
		case O_HTMLFILE: need_file(optarg, &d.html); break;
		case O_TEXTFILE: need_file(optarg, &d.text); break;
		case O_ATTACH: strv_add(&d.attach, optarg); break;
		case O_INLINE:
			if ((eq = strrchr(optarg, '=')) == NULL || eq[1] == '\0')
				usage();
			d.inl = xrealloc(d.inl, (d.ninl + 1) * sizeof(*d.inl));
			d.inl[d.ninl].path = xstrndup(optarg, (size_t)(eq - optarg));
			d.inl[d.ninl++].cid = xstrdup(eq + 1);
			break;
		case O_HEADER:
			if ((colon = strchr(optarg, ':')) == NULL)
				usage();
			strv_add(&d.hdrname, "");
			free(d.hdrname.v[d.hdrname.n - 1]);
			d.hdrname.v[d.hdrname.n - 1] = xstrndup(optarg,
			    (size_t)(colon - optarg));
			strv_add(&d.hdrvalue, colon + 1 + (colon[1] == ' '));
			break;
		case O_RAW: raw = 1; break;
		case O_REPLY: free(d.reply_code); d.reply_code = xstrdup(optarg); break;
		case O_NEWTHREAD: free(d.new_thread); d.new_thread = xstrdup(optarg); break;
		case O_DRYRUN: run.dry_run = 1; break;
		case O_CHECK: check = 1; break;
		case O_FLUSH: flush = 1; break;
		case O_FORCE: force = 1; break;
		default: usage();
		}
	}
	argc -= optind;
	if (argc != 0 || raw + check + flush + (flags > 0) > 1 ||
	    (force && !flush) || (d.reply_code && d.new_thread))
		usage();

	signal(SIGPIPE, SIG_IGN);
	g_mime_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((run.conf = conf_load(NULL, err, sizeof(err))) == NULL) {
		diag(NULL, "config", "%s", err);
		return EX_CONFIG;
	}
	if (run.acct == NULL)
		run.acct = default_account(run.conf);
	if (dir == NULL && (dir = defdir = spool_default_dir()) == NULL) {
		diag(NULL, "spool", "no home directory: give -d");
		return EX_USAGE;
	}
	if ((run.sp = spool_open(dir)) == NULL) {
		diag(dir, "open", "%s", strerror(errno));
		return EX_CANTCREAT;
	}
	if (check) {
		if ((run.status = session(&run, 0)) == 0)
			run.status = smtp_check(run.smtp);
	} else if (flush) {
		/* The account is read at the first message due: none, none read. */
		if (outbox_each(run.sp, force, flush_one, &run) == -1) {
			diag(dir, "outbox", "%s", strerror(errno));
			run.status = EX_IOERR;
		}
	} else if (raw) {
		if (read_file("-", &d.raw, &d.rawlen) == -1) {
			diag("stdin", "read", "%s", strerror(errno));
			return EX_IOERR;
		}
		run.status = send_draft(&run, &d);
	} else if (flags > 0)
		run.status = send_draft(&run, &d);
	else
		run.status = status_worse(run.status, jsonl_loop_idle(stdin,
		    "stdin", NULL, on_draft, idle, &run));
	run.status = status_worse(run.status, run_batch(&run));
	draft_free(&d);
	free(run.items);
	smtp_free(run.smtp);
	if (run.loaded)
		account_free(&run.a);
	if (run.cs != NULL)
		cases_close(run.cs);
	spool_close(run.sp);
	conf_free(run.conf);
	free(defdir);
	if (fflush(stdout) == EOF) {
		diag("stdout", "write", "%s", strerror(errno));
		run.status = status_worse(run.status, EX_IOERR);
	}
	return run.status;
}

/* The account named default, else the first with an SMTP server. */
static const char *
default_account(const struct conf *c)
{
	size_t i;
	const char *n;

	if (conf_has_account(c, "default"))
		return "default";
	for (i = 0; i < conf_naccounts(c); i++) {
		n = conf_account_name(c, i);
		if (conf_get(c, n, "smtp_url") != NULL)
			return n;
	}
	return NULL;
}

static int
read_file(const char *path, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	ssize_t k;
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	char *b;

	if (fd == -1)
		return -1;
	b = xmalloc(cap);
	while ((k = read(fd, b + n, cap - n - 1)) > 0 || (k == -1 && errno == EINTR)) {
		if (k <= 0)
			continue;
		n += (size_t)k;
		if (n > MAX_MESSAGE_BYTES) {
			errno = EFBIG;
			free(b);
			return -1;
		}
		if (cap - n < 2)
			xgrow(&b, &cap, cap * 2);
	}
	if (fd != 0)
		close(fd);
	b[n] = '\0';
	*out = b;
	*len = n;
	return 0;
}

/* The session, made at the first message (none for a dry run). */
static int
session(struct run *r, int refresh)
{
	char err[512];
	int temp, st;

	if (!r->loaded) {
		if (r->acct == NULL) {
			diag(NULL, "config", "no account with smtp_url: give -a");
			return EX_CONFIG;
		}
		if ((st = account_load(r->conf, r->acct, ACCT_SMTP, &r->a)) != 0)
			return st;
		r->loaded = 1;
	}
	if (r->smtp != NULL && !refresh)
		return 0;
	smtp_free(r->smtp);
	r->smtp = NULL;
	if (r->a.oauth) {
		cred_free(r->a.bearer);
		if ((r->a.bearer = oauth_token(r->sp, r->conf, r->acct, refresh,
		    err, sizeof(err), &temp)) == NULL) {
			diag(r->acct, "OAuth token", "%s", err);
			return temp ? EX_TEMPFAIL : EX_NOPERM;
		}
	}
	if ((r->smtp = smtp_new(&r->a, conf_bool(r->conf, r->acct, "smtputf8",
	    1) == 1)) == NULL) {
		diag(NULL, NULL, "out of memory");
		return EX_OSERR;
	}
	return 0;
}

/* Send m (queued as name) and say how it went; the status. */
static int
deliver(struct run *r, const char *name, struct outmsg *m, json_t *meta)
{
	struct sendresult res;
	json_t *rec, *rej, *o;
	struct strv left = { NULL, 0 };
	char id[HASH_HEX_LEN + 1];
	size_t i;
	int st;

	if ((st = session(r, 0)) != 0)
		memset(&res, 0, sizeof(res)), res.status = st;
	else {
		smtp_send(r->smtp, m, &res);
		if (res.status == EX_NOPERM && r->a.oauth && !r->refreshed) {
			r->refreshed = 1;
			sendresult_free(&res);
			if ((st = session(r, 1)) != 0)
				res.status = st;
			else
				smtp_send(r->smtp, m, &res);
		}
	}
	hash_sha256_hex(m->data, m->len, id);
	rec = jsonl_record("sent");
	json_object_set_new(rec, "id", json_string(id));
	json_object_set_new(rec, "message_id", jsonl_cstr(m->message_id));
	json_object_set_new(rec, "accepted", strv_json(&res.accepted));
	rej = json_array();
	for (i = 0; i < res.rejected.n; i++) {
		o = json_object();
		json_object_set_new(o, "addr", jsonl_cstr(res.rejected.v[i]));
		json_object_set_new(o, "reply", jsonl_cstr(res.replies.v[i]));
		json_array_append_new(rej, o);
	}
	/* Still owed: those that neither took it nor refused it for good. */
	for (i = 0; i < m->rcpt.n && res.status == EX_TEMPFAIL; i++) {
		size_t k;
		int done = 0;

		for (k = 0; k < res.accepted.n && !done; k++)
			done = !strcmp(res.accepted.v[k], m->rcpt.v[i]);
		for (k = 0; k < res.rejected.n && !done; k++)
			done = !strcmp(res.rejected.v[k], m->rcpt.v[i]) &&
			    res.replies.v[k][0] == '5';
		if (!done)
			strv_add(&left, m->rcpt.v[i]);
	}
	json_object_set_new(rec, "rejected", rej);
	json_object_set(rec, "case", json_object_get(meta, "case"));
	json_object_set(rec, "thread", json_object_get(meta, "thread"));
	json_object_set(rec, "thread_code", json_object_get(meta, "thread_code"));
	json_object_set_new(rec, "queued", json_boolean(res.status == EX_TEMPFAIL));
	if (res.status == EX_TEMPFAIL) {
		/* Some took it: only the ones that said "later" get it again. */
		outbox_defer(r->sp, name, left.n ? &left : NULL, res.why);
		diag(r->a.server ? r->a.server : r->acct, "send", "%s; queued "
		    "in the outbox for mailsend --flush", res.why);
	} else {
		json_t *result = json_deep_copy(rec);

		if (res.status != 0 && res.status != EX_NOUSER)
			json_object_set_new(result, "error", jsonl_error("refused",
			    "%s", res.why));
		if (outbox_done(r->sp, name, result) == -1)
			diag(name, "outbox", "%s", strerror(errno));
		json_decref(result);
		if (res.status != 0)
			diag(r->a.server ? r->a.server : r->acct, "send", "%s",
			    res.why);
	}
	if (res.status != 0 && res.status != EX_TEMPFAIL && res.status != EX_NOUSER)
		json_object_set_new(rec, "error", jsonl_error("refused", "%s",
		    res.why));
	/* What some server took is kept, and a case reply recorded, once. */
	if (res.accepted.n > 0)
		spool_put(r->sp, "msg", id, m->data, m->len);
	st = res.status;
	if (jsonl_write(stdout, rec) == -1)
		st = status_worse(st, EX_IOERR);
	json_decref(rec);
	strv_free(&left);
	sendresult_free(&res);
	return st;
}

/* A new thread code under the case, from codematch, the store's owner. */
static int
new_thread(struct run *r, const char *code, const char *subject, char *tcode,
    long *tnum)
{
	char tool[4096], *slash, line[128];
	const char *args[9];
	posix_spawn_file_actions_t fa;
	int p[2], st, n = 0;
	ssize_t k;
	pid_t pid;

	snprintf(tool, sizeof(tool), "%s", r->argv0);
	if ((slash = strrchr(tool, '/')) != NULL)
		snprintf(slash + 1, sizeof(tool) - (size_t)(slash + 1 - tool),
		    "codematch");
	else
		snprintf(tool, sizeof(tool), "codematch");
	args[n++] = "codematch";
	args[n++] = "-d";
	args[n++] = spool_dir(r->sp);
	args[n++] = "--new-thread";
	args[n++] = code;
	args[n++] = "--subject";
	args[n++] = subject;
	args[n] = NULL;
	if (pipe(p) == -1)
		return EX_OSERR;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	st = slash ? posix_spawn(&pid, tool, &fa, NULL, (char **)args, environ) :
	    posix_spawnp(&pid, tool, &fa, NULL, (char **)args, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (st != 0) {
		close(p[0]);
		diag(tool, "new thread", "%s", strerror(st));
		return EX_UNAVAILABLE;
	}
	k = read(p[0], line, sizeof(line) - 1);
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return WIFEXITED(st) ? WEXITSTATUS(st) : EX_SOFTWARE;
	line[k > 0 ? k : 0] = '\0';
	if (sscanf(line, "%20s %ld", tcode, tnum) != 2)
		return EX_SOFTWARE;
	return 0;
}

static const char *
domain_of(const char *from)
{
	const char *at = from ? strrchr(from, '@') : NULL;

	return at ? at + 1 : "localhost";
}

static int
send_draft(struct run *r, struct draft *d)
{
	struct outmsg m;
	char tcode[CASE_CODE_MAX + 1] = "", casecode[CASE_CODE_MAX + 1] = "";
	char mid[MSGID_MAX + 1], *dom, *s;
	const char *from = conf_get(r->conf, r->acct, "from");
	const char *sm = conf_get(r->conf, r->acct, "service_mail");
	long tnum = -1;
	struct item *it;
	json_t *meta;
	int st;

	if (d->reply_code || d->new_thread) {
		size_t i;

		/* The case's rules make these; the thread must say what was sent. */
		for (i = 0; i < d->hdrname.n; i++)
			if (!strcasecmp(d->hdrname.v[i], "Subject") ||
			    !strcasecmp(d->hdrname.v[i], "To") ||
			    !strcasecmp(d->hdrname.v[i], "Cc") ||
			    !strcasecmp(d->hdrname.v[i], "Bcc") ||
			    !strcasecmp(d->hdrname.v[i], "From")) {
				diag(d->hdrname.v[i], "header", "a reply into a "
				    "case makes its own; use --cc and --bcc to add "
				    "recipients");
				return EX_USAGE;
			}
	}
	if ((d->reply_code || d->new_thread) && r->cs == NULL &&
	    (r->cs = cases_open(r->sp)) == NULL) {
		diag(spool_dir(r->sp), "cases", "%s", strerror(errno));
		return EX_CANTCREAT;
	}
	if (d->new_thread != NULL) {
		char missing[128] = "";

		if (d->subject == NULL || !*d->subject)
			strcat(missing, "'New Email Subject'");
		if (d->to.n == 0)
			strcat(missing, *missing ? ", 'New Email Recipients'" :
			    "'New Email Recipients'");
		if (d->body == NULL || !*d->body)
			strcat(missing, *missing ? ", 'New Email Body'" :
			    "'New Email Body'");
		if (*missing) {
			diag(d->new_thread, "--new-thread", "The following "
			    "required fields have not been set. Please set them "
			    "and try again. [%s]", missing);
			return EX_USAGE;
		}
		if (cases_owner(r->cs, d->new_thread, casecode) == -1) {
			diag(d->new_thread, "--new-thread", "no case with this code");
			return EX_DATAERR;
		}
		/* A dry run changes nothing: no thread is made for it. */
		if (r->dry_run)
			snprintf(tcode, sizeof(tcode), "%s", "");
		else if ((st = new_thread(r, casecode, d->subject, tcode,
		    &tnum)) != 0)
			return st;
		s = xasprintf("<%s> %s", *tcode ? tcode : "new-thread-code",
		    d->subject);
		free(d->subject);
		d->subject = s;
		s = markdown_html(d->body);
		d->html = s;
		d->typed = xstrdup(d->body);
		if (sm != NULL && d->reply_to == NULL)
			d->reply_to = xstrdup(sm);
	} else if (d->reply_code != NULL) {
		if (d->body == NULL || !*d->body) {
			diag(d->reply_code, "--reply", "The 'New Email Body' field "
			    "has not been set. Please set it and try again");
			return EX_USAGE;
		}
		if ((st = reply_prepare(r->cs, r->conf, r->acct, d, tcode, &tnum,
		    casecode)) != 0)
			return st;
	}
	dom = xstrdup(domain_of(d->from ? d->from : from ? from : sm));
	dom[strcspn(dom, ">")] = '\0';
	if (*tcode && d->message_id == NULL) {
		if (msgid_make(r->sp, tcode, dom, mid, sizeof(mid)) == -1) {
			diag(spool_dir(r->sp), "keys/msgid", "%s", strerror(errno));
			free(dom);
			return EX_CANTCREAT;
		}
		d->message_id = xstrdup(mid);
	}
	st = d->raw ? compose_raw(d, &m) : compose(r->sp, d, from, dom, &m);
	free(dom);
	if (st != 0)
		return st;
	if (r->dry_run) {
		st = fwrite(m.data, 1, m.len, stdout) == m.len ? 0 : EX_IOERR;
		outmsg_free(&m);
		return st;
	}
	meta = json_object();
	if (*casecode) {
		json_object_set_new(meta, "case", json_string(casecode));
		json_object_set_new(meta, "thread", json_integer(tnum));
		json_object_set_new(meta, "thread_code", json_string(tcode));
	}
	if (r->nitems == BATCH && (st = run_batch(r)) != 0 && st != EX_NOUSER &&
	    st != EX_TEMPFAIL && st != EX_UNAVAILABLE)
		r->status = status_worse(r->status, st);
	r->items = xrealloc(r->items, (r->nitems + 1) * sizeof(*r->items));
	it = &r->items[r->nitems];
	memset(it, 0, sizeof(*it));
	if (outbox_put(r->sp, &m, meta, it->name, sizeof(it->name)) == -1) {
		diag(spool_dir(r->sp), "outbox", "%s", strerror(errno));
		json_decref(meta);
		outmsg_free(&m);
		return EX_CANTCREAT;
	}
	it->m = m;
	it->meta = meta;
	it->d = *d;		/* the case entry is written from it */
	memset(d, 0, sizeof(*d));
	d->thread = -1;
	snprintf(it->casecode, sizeof(it->casecode), "%s", casecode);
	snprintf(it->tcode, sizeof(it->tcode), "%s", tcode);
	it->tnum = tnum;
	r->nitems++;
	return 0;
}

/* Pass rec on in its place in the output, after what is queued before it. */
static void
pass_on(struct run *r, json_t *rec)
{
	struct item *it;

	r->items = xrealloc(r->items, (r->nitems + 1) * sizeof(*r->items));
	it = &r->items[r->nitems++];
	memset(it, 0, sizeof(*it));
	it->rec = json_incref(rec);
}

/*
 * Send the batch: make its queue durable with one sync, send each on
 * the one connection, record case replies, then make the results
 * durable with another.
 */
static int
run_batch(struct run *r)
{
	const char *sm = conf_get(r->conf, r->acct, "service_mail");
	struct item *it;
	size_t i;
	int st, worst = 0;

	if (r->nitems == 0)
		return 0;
	if (spool_sync(r->sp) == -1) {
		diag(spool_dir(r->sp), "outbox", "%s", strerror(errno));
		worst = EX_IOERR;
	}
	for (i = 0; i < r->nitems; i++) {
		it = &r->items[i];
		if (it->rec != NULL) {
			if (jsonl_write(stdout, it->rec) == -1)
				worst = status_worse(worst, EX_IOERR);
			json_decref(it->rec);
			continue;
		}
		st = worst == EX_IOERR ? EX_IOERR : deliver(r, it->name, &it->m,
		    it->meta);
		/* Into the case's thread once a server has it (or will). */
		if (*it->casecode && (st == 0 || st == EX_NOUSER ||
		    st == EX_TEMPFAIL) && reply_record(r->cs, it->casecode,
		    it->tcode, it->tnum, &it->d, &it->m, sm) == -1) {
			diag(it->casecode, "thread", "the sent mail is not in the "
			    "case: %s", strerror(errno));
			st = status_worse(st, EX_IOERR);
		}
		worst = status_worse(worst, st);
		json_decref(it->meta);
		outmsg_free(&it->m);
		draft_free(&it->d);
	}
	r->nitems = 0;
	fflush(stdout);
	if (spool_commit(r->sp) == -1 || spool_sync(r->sp) == -1) {
		diag(spool_dir(r->sp), "outbox", "%s", strerror(errno));
		worst = status_worse(worst, EX_IOERR);
	}
	return worst;
}

/* Input would block: send what is queued instead of waiting. */
static int
idle(void *arg)
{
	return run_batch(arg);
}

static int
flush_one(const char *name, struct outmsg *m, json_t *meta, void *arg)
{
	struct run *r = arg;

	r->status = status_worse(r->status, deliver(r, name, m, meta));
	if (spool_sync(r->sp) == -1) {
		diag(spool_dir(r->sp), "outbox", "%s", strerror(errno));
		r->status = status_worse(r->status, EX_IOERR);
	}
	return 0;
}

/* A string, or an array of strings, into v. */
static int
take_list(json_t *v, struct strv *out)
{
	json_t *x;
	size_t i;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		strv_add(out, json_string_value(v));
		return 0;
	}
	if (!json_is_array(v))
		return -1;
	json_array_foreach(v, i, x) {
		if (!json_is_string(x))
			return -1;
		strv_add(out, json_string_value(x));
	}
	return 0;
}

static int
take_str(json_t *v, char **out)
{
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int
draft_from_json(json_t *rec, struct draft *d)
{
	json_t *h, *v, *a;
	const char *k;
	size_t i;

	if (take_list(json_object_get(rec, "to"), &d->to) ||
	    take_list(json_object_get(rec, "cc"), &d->cc) ||
	    take_list(json_object_get(rec, "bcc"), &d->bcc) ||
	    take_str(json_object_get(rec, "from"), &d->from) ||
	    take_str(json_object_get(rec, "subject"), &d->subject) ||
	    take_str(json_object_get(rec, "body"), &d->body) ||
	    take_str(json_object_get(rec, "text"), &d->text) ||
	    take_str(json_object_get(rec, "html"), &d->html) ||
	    take_str(json_object_get(rec, "in_reply_to"), &d->in_reply_to))
		return -1;
	json_array_foreach(json_object_get(rec, "attachments"), i, a) {
		if (json_is_string(a))
			strv_add(&d->attach, json_string_value(a));
		else if (json_is_string(v = json_object_get(a, "vault"))) {
			char *s = xasprintf("vault:%s", json_string_value(v));

			strv_add(&d->attach, s);
			free(s);
		} else if (json_is_string(v = json_object_get(a, "path")))
			strv_add(&d->attach, json_string_value(v));
		else
			return -1;
	}
	if ((h = json_object_get(rec, "headers")) != NULL) {
		if (!json_is_object(h))
			return -1;
		json_object_foreach(h, k, v) {
			if (!json_is_string(v))
				return -1;
			strv_add(&d->hdrname, k);
			strv_add(&d->hdrvalue, json_string_value(v));
		}
	}
	if (json_is_string(v = json_object_get(rec, "case"))) {
		if (json_is_true(json_object_get(rec, "new_thread")))
			d->new_thread = xstrdup(json_string_value(v));
		else
			d->reply_code = xstrdup(json_string_value(v));
		d->markdown = 1;
	}
	if (json_is_integer(v = json_object_get(rec, "thread")))
		d->thread = (long)json_integer_value(v);
	return 0;
}

static int
on_draft(json_t *rec, void *arg)
{
	struct run *r = arg;
	struct draft d = { .thread = -1 };
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	json_t *err;
	int st;

	if (kind != NULL && strcmp(kind, "draft") != 0) {
		/* Not ours (an error record of a bad line too): passed on. */
		pass_on(r, rec);
		return strcmp(kind, "error") ? 0 : EX_DATAERR;
	}
	if (draft_from_json(rec, &d) == -1) {
		diag("stdin", "draft", "a field has the wrong type");
		err = jsonl_record("sent");
		json_object_set_new(err, "error", jsonl_error("bad-draft",
		    "a field has the wrong type"));
		json_object_set(err, "draft", rec);
		pass_on(r, err);
		json_decref(err);
		draft_free(&d);
		return EX_DATAERR;
	}
	st = send_draft(r, &d);
	if (st != 0) {
		/* Never composed: say so in the stream, in its place. */
		err = jsonl_record("sent");
		json_object_set_new(err, "error", jsonl_error("not-sent",
		    "exit %d; see stderr", st));
		json_object_set(err, "draft", rec);
		pass_on(r, err);
		json_decref(err);
	}
	draft_free(&d);
	return st;
}
