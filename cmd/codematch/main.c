/*
 * codematch - cases from mail.
 *
 * It reads message records and writes each back with a "case" object:
 * the mail joins the case whose code its subject carries (XSOAR's
 * "<12345678> subject" rule, subject text and all), or the case whose
 * mail it answers (In-Reply-To, References), or it opens a new case with
 * a fresh random code.  The store is plain files in the spool (see
 * mailspool(5)), changed under one lock by any number of processes and
 * safe to kill at any moment.  It also shows cases: a list, the thread
 * summary, a thread as text or as one sanitized HTML page.  It holds no
 * secrets and opens no sockets.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "cases.h"
#include "codematch.h"
#include "conf.h"
#include "diag.h"
#include "jsonl.h"
#include "spool.h"
#include "xalloc.h"

enum mode { LINK, LIST, SUMMARY, THREAD, CLOSE, REOPEN, NEWTHREAD, FSCK };

static void	usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: codematch [-q] [-d spool] [--no-create] [--days n] "
	    "[--no-match-subject] [file ...]\n"
	    "       codematch [-d spool] --list [--open | --closed] [--json]\n"
	    "       codematch [-d spool] --summary code [--json]\n"
	    "       codematch [-d spool] --thread code [-t n] [--html]\n"
	    "       codematch [-d spool] --close code | --reopen code\n"
	    "       codematch [-d spool] --new-thread code [--code new] "
	    "[--subject text]\n"
	    "       codematch [-d spool] --fsck\n");
	exit(EX_USAGE);
}

static long
number(const char *s, const char *what)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || n < 0) {
		diag(s, what, "not a number of 0 or more");
		exit(EX_USAGE);
	}
	return n;
}

/* Settings from the config file's defaults; flags override them. */
static void
config(struct linker *lk)
{
	char err[512];
	struct conf *c;
	const char *v;
	int b;

	if ((c = conf_load(NULL, err, sizeof(err))) == NULL) {
		diag(NULL, "config", "%s", err);
		exit(EX_CONFIG);
	}
	if ((v = conf_get(c, NULL, "days_to_query")) != NULL)
		lk->days = number(v, "days_to_query");
	if ((b = conf_bool(c, NULL, "create_untagged", 1)) == -1 ||
	    (lk->create = b, (b = conf_bool(c, NULL, "match_subject", 1)) == -1)) {
		diag(NULL, "config", "create_untagged, match_subject: on or off");
		exit(EX_CONFIG);
	}
	lk->match_subject = b;
	conf_free(c);
}

static int
link_stream(struct linker *lk, int argc, char **argv)
{
	int i, status = 0;
	FILE *fp;

	lk->pending = json_array();
	if (argc == 0)
		status = feed_link(stdin, "stdin", lk);
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-"))
			fp = stdin;
		else if ((fp = fopen(argv[i], "re")) == NULL) {
			diag(argv[i], "open", "%s", strerror(errno));
			status = status_worse(status, EX_NOINPUT);
			continue;
		}
		status = status_worse(status, feed_link(fp, argv[i], lk));
		if (fp != stdin)
			fclose(fp);
	}
	status = status_worse(status, link_flush(lk));
	json_decref(lk->pending);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "no-create",		no_argument,		NULL, 'N' },
		{ "days",		required_argument,	NULL, 'D' },
		{ "no-match-subject",	no_argument,		NULL, 'S' },
		{ "list",		no_argument,		NULL, 'l' },
		{ "open",		no_argument,		NULL, 'o' },
		{ "closed",		no_argument,		NULL, 'c' },
		{ "json",		no_argument,		NULL, 'j' },
		{ "summary",		required_argument,	NULL, 's' },
		{ "thread",		required_argument,	NULL, 'T' },
		{ "html",		no_argument,		NULL, 'H' },
		{ "close",		required_argument,	NULL, 'C' },
		{ "reopen",		required_argument,	NULL, 'R' },
		{ "new-thread",		required_argument,	NULL, 'n' },
		{ "code",		required_argument,	NULL, 'k' },
		{ "subject",		required_argument,	NULL, 'u' },
		{ "fsck",		no_argument,		NULL, 'F' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct linker lk = { .create = 1, .match_subject = 1, .days = 60 };
	const char *dir = NULL, *code = NULL, *given = NULL, *subject = NULL;
	enum mode mode = LINK;
	struct spool *sp;
	char *defdir = NULL;
	long thread = -1, days = -1;
	int ch, which = 0, json = 0, html = 0, nocreate = 0, nomatch = 0;
	int status;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "d:qt:h", longopts, NULL)) != -1)
		switch (ch) {
		case 'd':	dir = optarg; break;
		case 'q':	lk.quiet = 1; break;
		case 't':	thread = number(optarg, "-t"); break;
		case 'N':	nocreate = 1; break;
		case 'D':	days = number(optarg, "--days"); break;
		case 'S':	nomatch = 1; break;
		case 'l':	mode = LIST; break;
		case 'o':	which = 1; break;
		case 'c':	which = 2; break;
		case 'j':	json = 1; break;
		case 's':	mode = SUMMARY; code = optarg; break;
		case 'T':	mode = THREAD; code = optarg; break;
		case 'H':	html = 1; break;
		case 'C':	mode = CLOSE; code = optarg; break;
		case 'R':	mode = REOPEN; code = optarg; break;
		case 'n':	mode = NEWTHREAD; code = optarg; break;
		case 'k':	given = optarg; break;
		case 'u':	subject = optarg; break;
		case 'F':	mode = FSCK; break;
		default:	usage();
		}
	argc -= optind;
	argv += optind;
	if (mode != LINK && argc > 0)
		usage();

	if (sodium_init() == -1) {
		diag(NULL, "libsodium", "cannot initialise");
		return EX_OSERR;
	}
	if (mode == LINK) {
		config(&lk);
		if (days >= 0)
			lk.days = days;
		if (nocreate)
			lk.create = 0;
		if (nomatch)
			lk.match_subject = 0;
	}
	if (dir == NULL && (dir = defdir = spool_default_dir()) == NULL) {
		diag(NULL, "spool", "no -d, $MAILCASE_SPOOL or home directory");
		return EX_USAGE;
	}
	if ((sp = spool_open(dir)) == NULL) {
		diag(dir, "open spool", "%s", strerror(errno));
		return EX_CANTCREAT;
	}
	if ((lk.cs = cases_open(sp)) == NULL) {
		diag(dir, "open case store", "%s", strerror(errno));
		return EX_CANTCREAT;
	}
	switch (mode) {
	case LINK:	status = link_stream(&lk, argc, argv); break;
	case LIST:	status = view_list(lk.cs, which, json); break;
	case SUMMARY:	status = view_summary(lk.cs, code, json); break;
	case THREAD:	status = view_thread(lk.cs, code, thread, html); break;
	case CLOSE:	status = case_set_status(lk.cs, code, "closed"); break;
	case REOPEN:	status = case_set_status(lk.cs, code, "open"); break;
	case NEWTHREAD:	status = case_new_thread(lk.cs, code, given, subject); break;
	case FSCK:	status = store_fsck(lk.cs); break;
	default:	abort();
	}
	cases_close(lk.cs);
	spool_close(sp);
	free(defdir);
	if (fflush(stdout) == EOF) {
		diag("stdout", "write", "%s", strerror(errno));
		status = status_worse(status, EX_IOERR);
	}
	return status;
}
