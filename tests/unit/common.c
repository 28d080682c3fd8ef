/* Unit tests of common/: UTF-8, JSON Lines, mbox splitting, the spool,
 * the configuration file and the HTML scanner. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "cases.h"
#include "conf.h"
#include "hash.h"
#include "html.h"
#include "jsonl.h"
#include "msgsrc.h"
#include "msgid.h"
#include "spool.h"
#include "tap.h"
#include "utf8.h"

static char tmpdir[] = "/tmp/mailcase-unit.XXXXXX";

static void
test_utf8(void)
{
	size_t n;
	char *r;

	ok(utf8_valid("caf\xc3\xa9 \xe2\x82\xac", 9), "valid UTF-8 passes");
	ok(!utf8_valid("caf\xe9", 4), "a Latin-1 byte is not UTF-8");
	ok(!utf8_valid("\xc0\xaf", 2), "overlong form rejected");
	ok(!utf8_valid("\xed\xa0\x80", 3), "surrogate rejected");
	ok(!utf8_valid("\xf4\x90\x80\x80", 4), "past U+10FFFF rejected");
	ok(utf8_seqlen("", 0) == 0, "empty input has no sequence");
	r = utf8_repair("a\xffz", 3, &n);
	ok(r && n == 5 && memcmp(r, "a\xef\xbf\xbdz", 5) == 0,
	    "bad byte becomes U+FFFD");
	free(r);
}

static int seen;
static int
count_rec(json_t *rec, void *arg)
{
	(void)arg;
	seen += json_is_object(rec);
	return 0;
}

/* Long strings: escapes on both sides of every 16-byte step and piece. */
static void
test_jsonl_long(void)
{
	size_t n = 200000, i, len, o = 0, bad = 0;
	char *s = malloc(n), *want = malloc(n * 2 + 64), *line;
	json_t *r;

	memcpy(want, "{\"s\":\"", 6);
	o = 6;
	for (i = 0; i < n; i++) {
		/* A quote, a newline or a control byte every so often. */
		s[i] = i % 17 == 0 ? '"' : i % 29 == 0 ? '\n' : i % 65537 == 3 ?
		    '\001' : (char)('a' + i % 26);
		if (s[i] == '"')
			o += (size_t)sprintf(want + o, "\\\"");
		else if (s[i] == '\n')
			o += (size_t)sprintf(want + o, "\\n");
		else if (s[i] == '\001')
			o += (size_t)sprintf(want + o, "\\u0001");
		else
			want[o++] = s[i];
	}
	memcpy(want + o, "\"}\n", 4);
	o += 3;
	r = json_object();
	json_object_set_new(r, "s", jsonl_str(s, n));
	line = jsonl_dump(r, &len);
	for (i = 0; i < len && i < o; i++)
		bad += line[i] != want[i];
	ok(len == o && bad == 0, "a 200,000-byte string is escaped byte for "
	    "byte (length %zu, want %zu, %zu differ)", len, o, bad);
	free(line);
	json_decref(r);
	free(s);
	free(want);
}

static void
write_abc(struct jsonw *w, void *arg)
{
	(void)arg;
	jsonw_raw(w, "[");
	jsonw_str(w, "a\"b", 3);
	jsonw_raw(w, ",");
	jsonw_str(w, "c\xff", 2);
	jsonw_raw(w, "]");
}

/* jsonl_write_with: the member written in its place, or last. */
static void
test_jsonl_with(void)
{
	char out[512];
	FILE *fp;
	json_t *r;

	r = json_pack("{s:i, s:s, s:i}", "v", 1, "kind", "x", "n", 2);
	fp = fmemopen(out, sizeof(out) - 1, "w");
	ok(jsonl_write_with(fp, r, "kind", write_abc, NULL) == 0,
	    "write_with returns 0");
	fclose(fp);
	out[sizeof(out) - 1] = '\0';
	is_str(out, "{\"v\":1,\"kind\":[\"a\\\"b\",\"c\xef\xbf\xbd\"],\"n\":2}\n",
	    "write_with puts the member in its place, escaped and repaired");
	fp = fmemopen(out, sizeof(out) - 1, "w");
	jsonl_write_with(fp, r, "new", write_abc, NULL);
	fclose(fp);
	is_str(out, "{\"v\":1,\"kind\":\"x\",\"n\":2,\"new\":[\"a\\\"b\",\"c\xef\xbf\xbd\"]}\n",
	    "write_with adds a member rec lacks at the end");
	json_decref(r);
}

static void
test_jsonl(void)
{
	const char *in = "{\"v\":1,\"kind\":\"x\"}\n"
	    "not json\n"
	    "\n"
	    "[1,2]\n"
	    "{\"v\":1,\"kind\":\"y\",\"s\":\"a\\u0000b\"}\r\n"
	    "{\"v\":1} trailing\n"
	    "{\"v\":1,\"kind\":\"z\"}";
	char out[8192] = "", *line;
	FILE *fin, *fout;
	json_t *r;
	size_t len;
	int st;

	fin = fmemopen((void *)in, strlen(in), "r");
	fout = fmemopen(out, sizeof(out) - 1, "w");
	seen = 0;
	st = jsonl_loop(fin, "test", fout, count_rec, NULL);
	fclose(fin);
	fclose(fout);
	ok(seen == 3, "three good records reach the tool (got %d)", seen);
	ok(st == EX_DATAERR, "bad lines make EX_DATAERR");
	ok(strstr(out, "\"input\":\"not json\"") != NULL,
	    "an error record keeps the bad line");
	ok(strstr(out, "\"line 6:") != NULL || strstr(out, "line 6") != NULL,
	    "trailing garbage after an object is an error");

	r = jsonl_record("message");
	json_object_set_new(r, "t", jsonl_str("q\"\\\n\x01\xc3\xa9\xff", 8));
	line = jsonl_dump(r, &len);
	is_str(line, "{\"v\":1,\"kind\":\"message\",\"t\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\xef\xbf\xbd\"}\n",
	    "dump escapes, keeps UTF-8, repairs bad bytes, ends in newline");
	free(line);
	json_decref(r);
	test_jsonl_long();
	test_jsonl_with();
	ok(status_worse(0, EX_DATAERR) == EX_DATAERR &&
	    status_worse(EX_TEMPFAIL, EX_DATAERR) == EX_TEMPFAIL &&
	    status_worse(EX_IOERR, EX_DATAERR) == EX_IOERR, "status_worse ranks");
}

static int
fd_of(const char *s)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/in", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		return -1;
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Split s with msgsrc, on a file (mapped) or through a pipe (read). */
static int
split(const char *s, int viapipe, struct rawmsg *out, int max)
{
	struct msgsrc *src;
	int fd, n = 0, p[2];

	if (viapipe) {
		if (pipe(p) == -1)
			return -1;
		if (fork() == 0) {
			close(p[0]);
			if (write(p[1], s, strlen(s)) < 0)
				_exit(1);
			_exit(0);
		}
		close(p[1]);
		fd = p[0];
	} else
		fd = fd_of(s);
	src = msgsrc_new(fd);
	while (n < max && msgsrc_next(src, &out[n]) == 1) {
		if (out[n].borrowed) {
			char *c = malloc(out[n].len + 1);

			memcpy(c, out[n].data, out[n].len);
			out[n].data = c;
		}
		out[n].data[out[n].len] = '\0';
		n++;
	}
	msgsrc_free(src);
	close(fd);
	return n;
}

static void
test_msgsrc(void)
{
	struct rawmsg m[8];
	const char *mbox =
	    "From a@example.org Mon Jan  1 00:00:00 2024\n"
	    "Subject: one\n\nbody\n>From quoted\n>>From twice\nFrom Russia with love\n\n"
	    "From b@example.org Tue Jan  2 00:00:00 2024\n"
	    "Subject: two\n\nx\n";
	int n, v;

	for (v = 0; v < 2; v++) {
		const char *how = v ? "pipe" : "file";

		n = split(mbox, v, m, 8);
		ok(n == 2, "%s: two messages (undated From line is body)", how);
		if (n != 2)
			continue;
		is_str(m[0].data, "Subject: one\n\nbody\nFrom quoted\n>From twice\n"
		    "From Russia with love\n", "%s: unescaped once, separator "
		    "blank line dropped", how);
		ok(m[0].mbox && m[0].index == 0 && m[0].offset == 0,
		    "%s: first index and offset", how);
		ok(m[1].index == 1 && m[1].offset == 112,
		    "%s: second offset %llu", how, m[1].offset);
		is_str(m[1].data, "Subject: two\n\nx\n", "%s: last message", how);
		free(m[0].data);
		free(m[1].data);
	}
	n = split("Subject: single\n\nFrom here on\n", 0, m, 8);
	ok(n == 1 && !m[0].mbox, "a plain message is one message");
	free(m[0].data);
	n = split("\xef\xbb\xbf" "From -\nSubject: a\n\n\nFrom -\nSubject: b\n\n", 1,
	    m, 8);
	ok(n == 2 && m[0].offset == 3, "BOM skipped, sender-only From_ lines");
	while (n-- > 0)
		free(m[n].data);
	n = split("From x@y Mon Jan 1 00:00:00 2024\nContent-Length: 22\n"
	    "Subject: c\n\nFrom 1 2 3 unescaped\n\nFrom x@y Mon Jan 1 00:00:00 2024\n"
	    "Subject: d\n\n", 0, m, 8);
	ok(n == 2 && strstr(m[0].data, "From 1 2 3") != NULL,
	    "Content-Length that lands on a From_ line is honoured");
	while (n-- > 0)
		free(m[n].data);
	ok(msgsrc_is_from_line("From MAILER-DAEMON", 18) &&
	    !msgsrc_is_from_line("From :<a@b>", 11) &&
	    !msgsrc_is_from_line("From: a@b", 9) &&
	    msgsrc_is_from_line("From a@b Sat Jan  1 00:00:00 2000", 33),
	    "From_ line shapes");
}

static int
count_files(const char *dir)
{
	char cmd[512];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find %s -type f | wc -l", dir);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static void
test_spool(void)
{
	char dir[256], hex[HASH_HEX_LEN + 1], path[512], buf[64];
	struct spool *sp;
	struct stat st;
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/spool", tmpdir);
	sp = spool_open(dir);
	ok(sp != NULL, "spool_open creates the spool");
	hash_sha256_hex("hello", 5, hex);
	is_str(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
	    "sha256 of hello");
	ok(spool_put(sp, "msg", hex, "hello", 5) == 0, "put stages");
	ok(spool_put(sp, "msg", hex, "hello", 5) == 0 && spool_staged(sp) == 1,
	    "the same bytes twice stage once");
	ok(!spool_has(sp, "msg", hex), "staged is not yet visible");
	snprintf(path, sizeof(path), "%s/tmp", dir);
	ok(count_files(path) == 1, "staged file lives in tmp/");
	ok(spool_commit(sp) == 0 && spool_has(sp, "msg", hex), "commit makes it visible");
	ok(count_files(path) == 0, "tmp/ is empty after commit");
	snprintf(path, sizeof(path), "%s/msg/2c/%s", dir, hex);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "file is 0600");
	ok(spool_put(sp, "msg", hex, "hello", 5) == 0 && spool_staged(sp) == 0,
	    "an existing file is not written again");
	ok(spool_put(sp, "msg", "../x", "x", 1) == -1 && errno == EINVAL,
	    "a name with a slash is refused");
	ok(spool_replace(sp, "fetch/acct/state", "one\n", 4) == 0 &&
	    spool_replace(sp, "fetch/acct/state", "two\n", 4) == 0, "replace twice");
	snprintf(path, sizeof(path), "%s/fetch/acct/state", dir);
	fp = fopen(path, "r");
	ok(fp && fgets(buf, sizeof(buf), fp) && !strcmp(buf, "two\n"),
	    "replace leaves the new contents");
	if (fp)
		fclose(fp);
	spool_close(sp);
}

static void
test_conf(void)
{
	char path[256], err[512];
	struct conf *c;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/config", tmpdir);
	fp = fopen(path, "w");
	fputs("# comment\ndefaults\ntls_verify on\n\naccount soc\n"
	    "imap_url imaps://imap.example.org\nuser \"soc@example.org\"\n"
	    "account soc2 : soc\nuser soc2@example.org\n"
	    "account default : soc\n", fp);
	fclose(fp);
	chmod(path, 0644);
	c = conf_load(path, err, sizeof(err));
	ok(c != NULL, "config loads");
	if (c != NULL) {
		is_str(conf_get(c, "soc", "user"), "soc@example.org", "quotes removed");
		is_str(conf_get(c, "soc2", "imap_url"), "imaps://imap.example.org",
		    "inherits from its parent");
		is_str(conf_get(c, "soc2", "user"), "soc2@example.org", "own value wins");
		ok(conf_bool(c, "soc", "tls_verify", 0) == 1, "defaults apply");
		ok(conf_naccounts(c) == 3 && conf_has_account(c, "default"),
		    "three accounts");
		conf_free(c);
	}
	fp = fopen(path, "w");
	fputs("account a\nimap_ulr x\n", fp);
	fclose(fp);
	c = conf_load(path, err, sizeof(err));
	ok(c == NULL && strstr(err, ":2: unknown key 'imap_ulr'") != NULL,
	    "a typo is an error with its line: %s", err);
	fp = fopen(path, "w");
	fputs("account a\npassword hunter2\n", fp);
	fclose(fp);
	chmod(path, 0644);
	c = conf_load(path, err, sizeof(err));
	ok(c == NULL && strstr(err, "chmod 600") != NULL,
	    "secrets in a file others can read are refused");
	chmod(path, 0600);
	c = conf_load(path, err, sizeof(err));
	ok(c != NULL, "the same file at 0600 loads");
	conf_free(c);
	c = conf_load("/nonexistent/mailcase", err, sizeof(err));
	ok(c == NULL, "a named file that is missing is an error");
}

static void
test_html(void)
{
	char out[256];
	size_t n;
	char *t;

	html_decode("a&amp;b &lt;&#65;&#x42;&eacute;&bogus; &amp=x &#0;", 49, out);
	is_str(out, "a&b <AB\xc3\xa9&bogus; &amp=x \xef\xbf\xbd", "entities decoded");
	t = html_to_text("<html><head><title>T</title><style>p{}</style></head>"
	    "<body><p>One&nbsp;two</p><script>alert(1)</script>"
	    "<a href=\"http://x.example/\">click</a><br>line<!-- c --></body>", 162, &n);
	is_str(t, "One\xc2\xa0two\n\nclick <http://x.example/>\nline",
	    "text rendering skips head, script and comments, keeps the link");
	free(t);
	t = html_to_text("<<<>>>&&&<a", 11, &n);
	ok(t != NULL, "junk does not stop the scanner: '%s'", t);
	free(t);
}

static void
test_cases(void)
{
	char dir[300], code[CASE_CODE_MAX + 1], code2[CASE_CODE_MAX + 1];
	char id[MSGID_MAX + 1], got[CASE_CODE_MAX + 1], hex[65];
	struct spool *sp;
	struct cases *cs;

	snprintf(dir, sizeof(dir), "%s/cases", tmpdir);
	sp = spool_open(dir);
	cs = sp ? cases_open(sp) : NULL;
	ok(cs != NULL, "case store opens");
	if (cs == NULL)
		return;
	ok(cases_code_ok("00000001") && cases_code_ok("1231708596000000") &&
	    !cases_code_ok("") && !cases_code_ok("12a") &&
	    !cases_code_ok("../etc") && !cases_code_ok("123456789012345678901"),
	    "codes are 1 to 20 digits, nothing else");
	ok(cases_new_code(cs, NULL, code) == 0 && strlen(code) == 8 &&
	    strcmp(code, "00000000") != 0, "a new code has 8 digits: %s", code);
	ok(cases_owner(cs, code, got) == 0 && !strcmp(got, code),
	    "a case code owns itself");
	ok(cases_new_code(cs, code, code2) == 0 && cases_owner(cs, code2, got) == 0 &&
	    !strcmp(got, code), "a thread code leads to its case");
	cases_msgkey("a@b", hex);
	ok(cases_msgid_put(cs, hex, code, NULL) == 0, "a Message-ID is indexed");
	ok(cases_msgid_put(cs, hex, code2, got) == 1 && !strcmp(got, code),
	    "the first entry for a Message-ID stays");

	ok(msgid_verify(sp, "mc.12345678.0011223344556677.00112233445566778899aabbccddeeff@x",
	    got) == 0, "no key yet: no id verifies");
	ok(msgid_make(sp, code, "soc.example", id, sizeof(id)) == 0 &&
	    strncmp(id, "mc.", 3) == 0, "a Message-ID is made: %s", id);
	ok(msgid_verify(sp, id, got) == 1 && !strcmp(got, code),
	    "it verifies and names its code");
	id[strlen("mc.") + 1] ^= 1;
	ok(msgid_verify(sp, id, got) == 0, "a changed code does not verify");
	id[strlen("mc.") + 1] ^= 1;
	id[strcspn(id, "@") - 1] ^= 1;
	ok(msgid_verify(sp, id, got) == 0, "a changed MAC does not verify");
	ok(msgid_verify(sp, "<junk>", got) == 0 && msgid_verify(sp, "mc.1.x.y@z",
	    got) == 0, "junk does not verify");

	cases_close(cs);
	spool_close(sp);
}

/* "common mkmsgid SPOOL CODE": a Message-ID for tests of the tools. */
static int
mkmsgid(const char *dir, const char *code)
{
	char id[MSGID_MAX + 1];
	struct spool *sp;

	if (sodium_init() == -1 || (sp = spool_open(dir)) == NULL ||
	    msgid_make(sp, code, "soc.example", id, sizeof(id)) == -1)
		return 1;
	printf("%s\n", id);
	spool_close(sp);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc == 4 && !strcmp(argv[1], "mkmsgid"))
		return mkmsgid(argv[2], argv[3]);
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	if (sodium_init() == -1)
		return 1;
	test_utf8();
	test_jsonl();
	test_msgsrc();
	test_spool();
	test_conf();
	test_html();
	test_cases();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			ok(0, "clean up");
	}
	return tap_done();
}
