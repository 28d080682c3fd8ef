#!/bin/bash
# The test servers of tests/lib work as the fetch and send tests expect:
# Dovecot on free loopback ports with STARTTLS, IMAPS and OAuth2 through
# oauth2-server.py, doveadm on its config, maildir-fill, the scripted
# fakeimap.py, Postfix when installed, and mailtest-down leaves nothing.
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (Dovecot switches users)"; exit 0; }
command -v dovecot >/dev/null || { echo "1..0 # SKIP dovecot not installed"; exit 0; }
for c in curl jq; do command -v $c >/dev/null || { echo "1..0 # SKIP $c not installed"; exit 0; }; done
L=tests/lib
T=$(mktemp -d /tmp/mt.XXXXXX)
trap '$L/mailtest-down "$T"; rm -rf "$W"' EXIT
W=$(mktemp -d)	# the test's own files
postfix=0
[ -x /usr/lib/postfix/sbin/master ] && postfix=1
MT_POSTFIX=$postfix $L/mailtest-up "$T" 2> "$W/up.err"
rc=$?
[ $rc = 77 ] && { echo "1..0 # SKIP $(tail -n1 "$W/up.err")"; exit 0; }
echo "1..30"
n=0
ok() {	# description command...: ok when the command succeeds
	local d=$1; shift
	n=$((n + 1))
	if "$@" > "$W/out" 2>&1; then
		echo "ok $n - $d"
	else
		echo "not ok $n - $d"
		sed 's/^/# /' "$W/out" | tail -n 8
	fi
}
nok() { local d=$1; shift; ok "$d" bash -c '! "$@"' _ "$@"; }
skip() { n=$((n + 1)); echo "ok $n # skip $1"; }
if [ $rc != 0 ]; then
	echo "not ok 1 - mailtest-up exit $rc"
	sed 's/^/# /' "$W/up.err"
	exit 1
fi
set -a; . "$T/env"; set +a	# exported: the bash -c checks below read them
echo "ok 1 - mailtest-up in $MT_STARTUP_SECONDS s; ports $MT_IMAP_PORT $MT_IMAPS_PORT $MT_OAUTH_PORT ${MT_SMTP_PORT:-}"
n=1
C=$MT_DOVECOT_CONF
I=imap://127.0.0.1:$MT_IMAP_PORT
ports=$(cat "$T/ports")
# every process to be gone after mailtest-down: the pid files, the masters' children
pids=$(cat "$T"/*.pid "$T/dovecot/run/master.pid" "$T"/postfix/spool/pid/master.pid 2>/dev/null)
for m in $pids; do pids="$pids $(ps -o pid= --ppid "$m")"; done

ok "env names every setting; the ports are reserved for this run" bash -c '
	for v in MT_DIR MT_CACERT MT_IMAP_PORT MT_IMAPS_PORT MT_OAUTH_PORT MT_OAUTH_URL \
		MT_OAUTH_STATE MT_OAUTH_CLIENT_ID MT_OAUTH_CLIENT_SECRET MT_OAUTH_REFRESH_TOKENS \
		MT_DOVECOT_CONF MT_MAILDIR_ROOT MT_USERS MT_LMTP_SOCKET; do
		[ -n "${!v}" ] || { echo "$v empty"; exit 1; }
	done
	for p in $1; do
		[ "$(readlink /tmp/mailtest-ports/$p)" = "$MT_DIR" ] || { echo "port $p not reserved"; exit 1; }
	done' _ "$ports"

ok "IMAP STARTTLS login (--ssl-reqd, our CA, name localhost)" \
	curl -sS --ssl-reqd --cacert "$MT_CACERT" "imap://localhost:$MT_IMAP_PORT/" -u alice:alicepw
ok "IMAPS login as alice@example.test" \
	curl -sS --cacert "$MT_CACERT" "imaps://localhost:$MT_IMAPS_PORT/" -u alice@example.test:alicepw
nok "IMAPS refuses a client that does not trust our CA" \
	curl -sS --cacert /etc/ssl/certs/ca-certificates.crt "imaps://localhost:$MT_IMAPS_PORT/" -u alice:alicepw
ok "wrong password refused with curl's 'Login denied' (67)" bash -c '
	curl -sS "$1/" -u alice:wrong; [ $? = 67 ]' _ "$I"

tok() {	# refresh-token [client-secret]: the /token answer
	curl -sS -w '\n%{http_code}\n' "$MT_OAUTH_URL" -u "$MT_OAUTH_CLIENT_ID:${2:-$MT_OAUTH_CLIENT_SECRET}" \
		-d grant_type=refresh_token -d "refresh_token=$1"
}
export -f tok
tok rt-alice > "$W/tok"
at=$(head -n1 "$W/tok" | jq -r .access_token)
ok "refresh grant gives a Bearer access token" bash -c '
	[ "$(sed -n 2p "$1")" = 200 ] &&
	head -n1 "$1" | jq -e "(.access_token | startswith(\"at-\")) and .token_type == \"Bearer\" and .expires_in == 3600"' _ "$W/tok"
ok "wrong client secret: 401 invalid_client; unknown refresh token: 400 invalid_grant" bash -c '
	[ "$(tok rt-alice nope | tr "\n" " ")" = "{\"error\": \"invalid_client\"} 401 " ] &&
	[ "$(tok rt-nope | tr "\n" " ")" = "{\"error\": \"invalid_grant\"} 400 " ] &&
	[ "$(curl -sS "$MT_OAUTH_URL" -d grant_type=refresh_token -d refresh_token=rt-bob \
			-d client_id="$MT_OAUTH_CLIENT_ID" -d client_secret="$MT_OAUTH_CLIENT_SECRET" | jq -r .token_type)" = Bearer ]'
ok "OAUTHBEARER login with that token" curl -sS "$I/" -u alice: --oauth2-bearer "$at"
ok "XOAUTH2 login with that token (imaplib)" python3 -c '
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.authenticate("XOAUTH2", lambda _: ("user=alice\1auth=Bearer %s\1\1" % sys.argv[2]).encode())
m.logout()' "$MT_IMAP_PORT" "$at"
nok "alice's token refused for bob" curl -sS "$I/" -u bob: --oauth2-bearer "$at"
curl -sS -X POST "$MT_OAUTH_BASE/revoke" > "$W/revoke"
ok "POST /revoke revokes every token (2); the cached one is refused then" bash -c '
	[ "$(jq .revoked "$1")" = 2 ] && ! curl -sS "$2/" -u alice: --oauth2-bearer "$3"' _ "$W/revoke" "$I" "$at"
# one that expires in 1 s, tried again near the end
curl -sS "$MT_OAUTH_BASE/config" -d expires_in=1 > /dev/null
short=$(tok rt-alice | head -n1 | jq -r .access_token)
curl -sS "$MT_OAUTH_BASE/config" -d expires_in=3600 > /dev/null
ok "a token for 1 s works at once" curl -sS "$I/" -u alice: --oauth2-bearer "$short"
ok "GET /stats and STATEFILE count the requests" bash -c '
	curl -sS "$MT_OAUTH_BASE/stats" | tee "$1"; echo
	jq -e ".token == 5 and .token_issued == 3 and .token_refused == 2 and .introspect_active == 4 and .introspect_inactive == 1 and .revoke == 1" "$1" &&
	jq -e ".counts.token == 5" "$MT_OAUTH_STATE"' _ "$W/stats"

ok "POST /config: fail_next gives a 503, rotate_refresh replaces the refresh token" bash -c '
	curl -sS "$MT_OAUTH_BASE/config" -d fail_next=1 -d rotate_refresh=true > /dev/null
	[ "$(tok rt-bob | tail -n1)" = 503 ] || exit 1
	new=$(tok rt-bob | head -n1 | jq -r .refresh_token)
	curl -sS "$MT_OAUTH_BASE/config" -d rotate_refresh=false > /dev/null
	[ "$(tok rt-bob | tail -n1)" = 400 ] && [ "$(tok "$new" | tail -n1)" = 200 ]'

uv() { doveadm -c "$C" -f flow mailbox status -u alice uidvalidity "$1" | sed 's/.*=//'; }
doveadm -c "$C" mailbox create -u alice Foo
u1=$(uv Foo)
doveadm -c "$C" mailbox delete -u alice Foo && doveadm -c "$C" mailbox create -u alice Foo
u2=$(uv Foo)
ok "doveadm mailbox delete + create gives a new UIDVALIDITY ($u1 -> $u2)" test -n "$u1" -a "$u1" != "$u2"
printf 'From: bob@example.test\nSubject: saved\n\nhello\n' > "$W/saved.eml"
ok "doveadm save, index, mailbox status" bash -c '
	doveadm -c "$1" save -u alice -m Foo < "$2" && doveadm -c "$1" index -u alice Foo &&
	doveadm -c "$1" -f flow mailbox status -u alice "messages uidvalidity uidnext" Foo > "$3" &&
	grep -q "messages=1 " "$3" && grep -q "uidnext=2 " "$3" && grep -q "uidvalidity=[1-9]" "$3"' \
	_ "$C" "$W/saved.eml" "$W/status"

# APPEND over IMAP, then UID FETCH BODY.PEEK[]: what survives (see mailtest-up)
doveadm -c "$C" mailbox create -u alice Bytes
printf 'From: a@example.test\r\nSubject: 8bit \xe9\xff\xfe\r\nX-Bad: \xc3\x28 \xa0\xa1 \x80\r\n\r\ncaf\xe9 \xf0\x28\x8c\xbc\r\nbare\rCR\r\n\x7f\x1b[0m\r\n.\r\nno final newline' > "$W/a1"
printf 'From: a@example.test\nSubject: bare LF\n\nline\r\nlf\n' > "$W/a2"
printf 'From: a@example.test\r\n\r\nnul\0byte, trailing CR\r' > "$W/a3"
for f in a1 a2 a3; do curl -sS -T "$W/$f" "$I/Bytes" -u alice:alicepw; done
python3 - "$MT_IMAP_PORT" "$W" <<'EOF2'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice", "alicepw")
m.select("Bytes", readonly=True)
for uid in (1, 2, 3):
    typ, data = m.uid("FETCH", str(uid), "(RFC822.SIZE BODY.PEEK[])")
    with open("%s/p%d" % (sys.argv[2], uid), "wb") as f:
        f.write(data[0][1])
    with open("%s/p%d.head" % (sys.argv[2], uid), "wb") as f:
        f.write(data[0][0] + b"\n")
m.logout()
EOF2
ok "APPEND, UID FETCH BODY.PEEK[]: CRLF and 8-bit bytes come back byte for byte" bash -c '
	cmp "$1/a1" "$1/p1" && grep -q "RFC822.SIZE $(stat -c %s "$1/a1") " "$1/p1.head"' _ "$W"
ok "bare LF comes back CRLF; NUL comes back 0x80; a final bare CR is lost" bash -c '
	cmp "$1/p2" <(printf "From: a@example.test\r\nSubject: bare LF\r\n\r\nline\r\nlf\r\n") &&
	cmp "$1/p3" <(printf "From: a@example.test\r\n\r\nnul\x80byte, trailing CR")' _ "$W"

ok "maildir-fill: 20,000 messages and doveadm index in under 10 s" bash -c '
	s=$EPOCHREALTIME
	tests/lib/maildir-fill -u bob "$MT_MAILDIR_ROOT/bob/Maildir" 20000 || exit
	echo "# $(awk -v a=$s -v b=$EPOCHREALTIME "BEGIN { printf \"%.1f\", b - a }") s" >&3
	awk -v a=$s -v b=$EPOCHREALTIME "BEGIN { exit !(b - a < 10) }"' _ 3>&1
ok "... UIDs 1..20000 in the order written" bash -c '
	doveadm -c "$MT_DOVECOT_CONF" -f flow mailbox status -u bob "messages uidnext" INBOX |
		grep -x "INBOX messages=20000 uidnext=20001" &&
	curl -sS "$1/INBOX;UID=1" -u bob:bobpw | grep -qx "Subject: fill message 1.$" &&
	curl -sS "$1/INBOX;UID=20000" -u bob:bobpw | grep -qx "Subject: fill message 20000.$"' _ "$I"
python3 $L/fakeimap.py --dump "$W/fake"
ok "maildir-fill from a corpus into a folder: served byte for byte, cycling" bash -c '
	tests/lib/maildir-fill -u alice -m Corpus "$MT_MAILDIR_ROOT/alice/Maildir/.Corpus" 7 "$2" &&
	curl -sS "$1/Corpus;UID=2" -u alice:alicepw | cmp - "$2/2.eml" &&
	curl -sS "$1/Corpus;UID=7" -u alice:alicepw | cmp - "$2/2.eml"' _ "$I" "$W/fake"

fake() { curl -sS --max-time 10 "imap://127.0.0.1:$1/INBOX;UID=$2" -u anyone:anything; }
export -f fake
p=$($L/fakeimap-start "$T" normal)
ok "fakeimap normal: LOGIN, SELECT, UID FETCH 3 as dumped" bash -c '
	fake "$1" 3 | cmp - "$2/3.eml" &&
	curl -sS "imap://127.0.0.1:$1/INBOX" -u a:b -X "UID SEARCH UID 6:*" | grep -qx "\* SEARCH 5.*"' _ "$p" "$W/fake"
p=$($L/fakeimap-start "$T" drop-mid-literal)
ok "fakeimap drop-mid-literal: UID 2 whole, UID 3 cut (curl 18)" bash -c '
	fake "$1" 2 | cmp - "$2/2.eml" && { fake "$1" 3; [ $? = 18 ]; }' _ "$p" "$W/fake"
p=$($L/fakeimap-start "$T" no-folder)
ok "fakeimap no-folder: SELECT refused (curl 67)" bash -c '{ fake "$1" 1; [ $? = 67 ]; }' _ "$p"
for m in oversized-literal unknown-response bad-response; do
	pm[${#pm[@]}]=$($L/fakeimap-start "$T" $m)
done
ok "fakeimap oversized-literal, unknown-response, bad-response as described" python3 - "${pm[@]}" <<'EOF'
import socket, sys
def run(port, cmd):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(b"a LOGIN u p\r\nb EXAMINE INBOX\r\nc " + cmd + b"\r\nd LOGOUT\r\n")
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d
over = run(sys.argv[1], b"UID FETCH 3 BODY.PEEK[]")
head, _, rest = over.partition(b"* 3 FETCH (UID 3 BODY[] {")
size, _, rest = rest.partition(b"}\r\n")
assert rest[int(size):].startswith(b"20 BYTES TOO MANY!\r\n)"), over[-200:]
unk = run(sys.argv[2], b"UID FETCH 2:4 BODY.PEEK[]")
assert b"* GARBAGE !!!\r\n" in unk and b"* 3 FETCH" not in unk and b"* 4 FETCH" in unk and b"c OK" in unk
bad = run(sys.argv[3], b"UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])")
assert b"c BAD" in bad and b"FETCH (" not in bad, bad
EOF

if [ "$MT_POSTFIX" = 1 ]; then
	printf 'From: bob@example.test\r\nTo: alice@example.test\r\nSubject: via postfix\r\n\r\nhi\r\n' > "$W/smtp.eml"
	ok "Postfix: submission STARTTLS + AUTH, LMTP delivery, fetched over IMAP" bash -c '
		curl -sS --ssl-reqd --cacert "$MT_CACERT" "smtp://localhost:$MT_SUBM_PORT" -u bob:bobpw \
			--mail-from bob@example.test --mail-rcpt alice@example.test -T "$2" || exit
		for i in $(seq 100); do
			curl -sS "$1/INBOX" -u alice:alicepw -X "SEARCH SUBJECT postfix" | grep -q "SEARCH [0-9]" && exit 0
			sleep 0.05
		done; exit 1' _ "$I" "$W/smtp.eml"
else
	skip "postfix not installed"
fi
ok "the 1-second token has expired" bash -c '
	sleep 0.2; ! curl -sS "$1/" -u alice: --oauth2-bearer "$2"' _ "$I" "$short"

ok "mailtest-down stops everything, removes DIR, frees the ports" bash -c '
	tests/lib/mailtest-down "$1" || exit
	[ ! -e "$1" ] || { echo "$1 still there"; exit 1; }
	for p in $2; do
		st=$(sed "s/.*) //; s/ .*//" /proc/$p/stat 2>/dev/null) || continue
		[ "$st" = Z ] || { echo "pid $p still running ($st)"; exit 1; }
	done
	for p in $3; do
		[ ! -L /tmp/mailtest-ports/$p ] || [ "$(readlink /tmp/mailtest-ports/$p)" != "$1" ] ||
			{ echo "port $p still reserved"; exit 1; }
	done' _ "$T" "$pids $(cat "$T"/fakeimap-*.pid)" "$ports"
ok "mailtest-down again: nothing to do" $L/mailtest-down "$T"
