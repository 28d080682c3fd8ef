/*
 * mailfetch - mail from an IMAP folder to an mboxrd stream, exactly once.
 *
 * A scheduled poll takes the new UIDs (oldest or latest first, at most
 * first_run_max on the first run and max_emails after), writes each
 * message to stdout behind an X-Mailcase-Source header that mailparse can
 * verify, and moves the cursor past it only once it was written.  The
 * folder is opened read-only unless --mark-seen or --move-to asks for
 * changes.  Only mailfetch and mailsend hold credentials; the parsers
 * downstream see none.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <curl/curl.h>

#include "conf.h"
#include "cred.h"
#include "diag.h"
#include "jsonl.h"
#include "limits.h"
#include "mailfetch.h"
#include "oauth.h"
#include "spool.h"
#include "xalloc.h"

#define DEFAULT_FIRST_RUN_MAX	2000
#define DEFAULT_MAX_EMAILS	100

static void	usage(void) __attribute__((noreturn));
static int	setting(const struct conf *, const char *, struct pollopts *);
static int	login(struct spool *, const struct conf *, struct account *,
		    struct imap **);
static int	list_accounts(const struct conf *);

enum { O_OLDEST = 256, O_LATEST, O_MAX, O_FIRST, O_POLLNOW, O_UID, O_CHECK,
	O_SEEN, O_MOVE, O_FOLDER, O_MAXSIZE, O_SKIP, O_ACCOUNTS };

static const struct option longopts[] = {
	{ "account", required_argument, NULL, 'a' },
	{ "folder", required_argument, NULL, O_FOLDER },
	{ "oldest", no_argument, NULL, O_OLDEST },
	{ "latest", no_argument, NULL, O_LATEST },
	{ "max", required_argument, NULL, O_MAX },
	{ "first-run-max", required_argument, NULL, O_FIRST },
	{ "poll-now", no_argument, NULL, O_POLLNOW },
	{ "uid", required_argument, NULL, O_UID },
	{ "check", no_argument, NULL, O_CHECK },
	{ "mark-seen", no_argument, NULL, O_SEEN },
	{ "move-to", required_argument, NULL, O_MOVE },
	{ "max-size", required_argument, NULL, O_MAXSIZE },
	{ "skip-uid", required_argument, NULL, O_SKIP },
	{ "accounts", no_argument, NULL, O_ACCOUNTS },
	{ NULL, 0, NULL, 0 }
};

static void
usage(void)
{
	fprintf(stderr, "usage: mailfetch [-d spool] -a account [--folder f] "
	    "[--oldest | --latest]\n"
	    "\t[--max n] [--first-run-max n] [--poll-now | --uid uid | --check]\n"
	    "\t[--mark-seen] [--move-to folder] [--max-size bytes] "
	    "[--skip-uid uid]\n"
	    "       mailfetch --accounts\n");
	exit(EX_USAGE);
}

static unsigned long long
number(const char *s, unsigned long long lo, unsigned long long hi)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '-' || *s == '\0' || *end != '\0' || errno || v < lo || v > hi)
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	struct pollopts o = { .maxsize = MAX_MESSAGE_BYTES };
	const char *dir = NULL, *name = NULL, *ingest = NULL;
	unsigned long long max = 0, first = 0;
	int ch, accounts = 0, r;
	char err[512], *defdir = NULL;
	struct account a;
	struct conf *conf;
	struct spool *sp;
	struct imap *imap = NULL;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "a:d:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a': name = optarg; break;
		case 'd': dir = optarg; break;
		case O_FOLDER: o.folder = optarg; break;
		case O_OLDEST: ingest = "oldest"; break;
		case O_LATEST: ingest = "latest"; break;
		case O_MAX: max = number(optarg, 0, UINT32_MAX) + 1; break;
		case O_FIRST: first = number(optarg, 0, UINT32_MAX) + 1; break;
		case O_POLLNOW: o.poll_now = 1; break;
		case O_UID: o.uid = (uint32_t)number(optarg, 1, UINT32_MAX); break;
		case O_CHECK: o.check = 1; break;
		case O_SEEN: o.mark_seen = 1; break;
		case O_MOVE: o.move_to = optarg; break;
		case O_MAXSIZE: o.maxsize = number(optarg, 1, MAX_MESSAGE_BYTES); break;
		case O_SKIP: uidset_add(&o.skip, (uint32_t)number(optarg, 1,
		    UINT32_MAX)); break;
		case O_ACCOUNTS: accounts = 1; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || (name == NULL && !accounts) ||
	    o.poll_now + (o.uid != 0) + o.check > 1)
		usage();

	signal(SIGPIPE, SIG_IGN);
	if ((conf = conf_load(NULL, err, sizeof(err))) == NULL) {
		diag(NULL, "config", "%s", err);
		return EX_CONFIG;
	}
	if (accounts)
		return list_accounts(conf);
	if ((r = setting(conf, name, &o)) != 0)
		return r;
	if (ingest != NULL)
		o.newest = !strcmp(ingest, "latest");
	if (max)
		o.max = max - 1, o.max_given = 1;
	if (first)
		o.first_run_max = first - 1;
	if (dir == NULL && (dir = defdir = spool_default_dir()) == NULL) {
		diag(NULL, "spool", "no home directory: give -d");
		return EX_USAGE;
	}
	if ((sp = spool_open(dir)) == NULL) {
		diag(dir, "open", "%s", strerror(errno));
		return EX_CANTCREAT;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((r = account_load(conf, name, ACCT_IMAP, &a)) == 0 &&
	    (r = login(sp, conf, &a, &imap)) == 0)
		r = poll_folder(sp, imap, &a, &o);
	imap_close(imap);
	account_free(&a);
	uidset_free(&o.skip);
	spool_close(sp);
	conf_free(conf);
	free(defdir);
	curl_global_cleanup();
	return r;
}

/* Folder, order and limits from the account, before the flags. */
static int
setting(const struct conf *c, const char *name, struct pollopts *o)
{
	const char *v;

	if (!conf_has_account(c, name)) {
		diag(name, "config", "no such account");
		return EX_CONFIG;
	}
	if (o->folder == NULL && (o->folder = conf_get(c, name, "folder")) == NULL)
		o->folder = "INBOX";
	if (*o->folder == '\0' || strpbrk(o->folder, "\r\n") != NULL) {
		diag(name, "config", "bad folder name");
		return EX_CONFIG;
	}
	if ((v = conf_get(c, name, "ingest")) != NULL) {
		if (strcmp(v, "oldest") && strcmp(v, "latest")) {
			diag(name, "config", "ingest must be oldest or latest");
			return EX_CONFIG;
		}
		o->newest = !strcmp(v, "latest");
	}
	o->first_run_max = DEFAULT_FIRST_RUN_MAX;
	o->max = DEFAULT_MAX_EMAILS;
	if ((v = conf_get(c, name, "first_run_max")) != NULL)
		o->first_run_max = strtoull(v, NULL, 10);
	if ((v = conf_get(c, name, "max_emails")) != NULL)
		o->max = strtoull(v, NULL, 10);
	if (o->move_to != NULL && (*o->move_to == '\0' ||
	    strpbrk(o->move_to, "\r\n") != NULL || !strcmp(o->move_to, o->folder))) {
		diag(o->move_to, "--move-to", "bad folder name");
		return EX_USAGE;
	}
	return 0;
}

/*
 * Log in; with OAuth, a token the server refuses is refreshed once and
 * tried once more: never a loop.
 */
static int
login(struct spool *sp, const struct conf *c, struct account *a,
    struct imap **imap)
{
	char err[512];
	int r = EX_NOPERM, temp, try;

	if (!a->oauth)
		return imap_connect(imap, a, 0);
	for (try = 0; try < 2; try++) {
		cred_free(a->bearer);
		if ((a->bearer = oauth_token(sp, c, a->name, try > 0, err,
		    sizeof(err), &temp)) == NULL) {
			diag(a->name, "OAuth token", "%s", err);
			return temp ? EX_TEMPFAIL : EX_NOPERM;
		}
		if ((r = imap_connect(imap, a, try == 0)) != EX_NOPERM)
			return r;
	}
	return r;
}

/* The accounts that fetch mail, one a line, for scripts/mailpoll. */
static int
list_accounts(const struct conf *c)
{
	size_t i;
	const char *n;

	for (i = 0; i < conf_naccounts(c); i++) {
		n = conf_account_name(c, i);
		if (conf_get(c, n, "imap_url") != NULL ||
		    conf_get(c, n, "host") != NULL)
			printf("%s\n", n);
	}
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
