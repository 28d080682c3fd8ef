#!/bin/bash
# mailsend against a real Postfix and Dovecot on loopback (tests/lib/mailtest-up),
# every claim checked in what Dovecot wrote into the Maildirs and in
# Postfix's log: submission (STARTTLS + AUTH), SMTPS, STARTTLS on the
# port-25 listener, tls off, a server without STARTTLS, a wrong password;
# address lists (quoted commas, groups, ';'), Bcc only in the envelope,
# custom headers, header injection, dot lines, HTML with its text part,
# attachments (files and the vault) and inline images in the structure
# mail clients expect; --raw byte for byte with every Bcc header gone;
# drafts on one connection; recipients refused one by one and all;
# 4xx, a dropped connection and no server at all -> the outbox -> --flush;
# --dry-run, --check; OAuth2 through Dovecot's oauth2 passdb; SMTPUTF8.
# Postfix here refuses bare LF (smtpd_forbid_bare_newline = reject) and
# UTF-8 addresses without the SMTPUTF8 parameter (strict_smtputf8), so
# what it accepts shows what mailsend put on the wire.  The misbehaving
# servers are Postfix's smtp-sink (no STARTTLS, 4xx on RCPT, 421 on MAIL).
# Each mailsend run has a spool of its own, but for the outbox and the
# OAuth token cache, whose point is a second run.  Expected values come
# from what the test sent (fixtures tests/fixtures/send-*, Python's email
# parser, sha256sum), not from mailsend.
# MAILSEND=path and MAILPARSE=path test other builds.
cd "$(dirname "$0")/.." || exit 1
. tests/lib/servers.sh
need_root "Dovecot and Postfix switch users"
need_cmds dovecot
need_bins /usr/lib/postfix/sbin/master
need_cmds smtp-sink postconf curl jq python3 sha256sum flock timeout
MS=${MAILSEND:-bin/mailsend} MP=${MAILPARSE:-bin/mailparse} L=tests/lib F=tests/fixtures
need_bins $MS $MP
servers_up MT_POSTFIX=1
CF=$W/config
PLOG=$MT_LOG_DIR/postfix.log
export MAILCASE_CONFIG=$CF
mkdir -p "$W/sp"


# ms NAME ACCOUNT ARGS...: mailsend with the spool $W/sp/NAME, stdin $IN
# (default none), stdout $W/NAME.out, stderr $W/NAME.err, exit in $rc
ms() { local o=$1 a=$2; shift 2
	timeout 30 $MS -d "$W/sp/$o" -a "$a" "$@" < "${IN:-/dev/null}" > "$W/$o.out" 2> "$W/$o.err"; rc=$?; }
# the JSON of the sent record(s) of run NAME; the one Message-ID
rec() { local o=$1; shift; jq -c "$@" "$W/$o.out"; }
mid() { jq -r -s '.[0].message_id' "$W/$1.out"; }
lines() { echo $(( $(wc -l < "$1") )); }
sha() { sha256sum < "$1" | cut -c1-64; }
outbox() { find "$W/sp/$1/outbox" -type f 2>/dev/null | sort; }

# --- mailboxes --------------------------------------------------------------
mails() { ls -d "$MT_MAILDIR_ROOT/$1/Maildir/new/"* "$MT_MAILDIR_ROOT/$1/Maildir/cur/"* 2>/dev/null; }
nmail() { mails "$1" | grep -c .; }
# maildir_find USER MSGID: the file in USER's Maildir with that Message-ID
maildir_find() { grep -l -i -s -F -x "Message-ID: <$2>" $(mails "$1") /dev/null | head -n1; }
# wait_mail USER MSGID: wait (10 s at most) until Dovecot has it; its path
wait_mail() { local i f; for i in $(seq 500); do f=$(maildir_find "$1" "$2"); [ -n "$f" ] && { echo "$f"; return 0; }
	sleep 0.02; done; echo "no <$2> in $1's Maildir after 10 s" >&2; return 1; }
# got USER... (MSGID in $M): each has exactly one message, that one
got() { local u f; for u in "$@"; do f=$(wait_mail "$u" "$M") || return 1
	[ "$(nmail "$u")" = 1 ] || { say "$u has $(nmail "$u") messages"; return 1; }; done; }
# own FILE: the message without what the servers put on top: Dovecot's
# Return-Path, Delivered-To (only when the LMTP transaction had one
# recipient) and Received, then Postfix's Received; just these, or it fails
own() { awk 'function name(l) { return tolower(substr(l, 1, index(l, ":") - 1)) }
	!done && /^[ \t]/ { next }
	!done { f = name($0)
		if (k == 0 && f == "return-path") { k = 1; next }
		if (k == 1 && f == "delivered-to") { k = 2; next }
		if ((k == 1 || k == 2) && f == "received") { k = 3; next }
		if (k == 3 && f == "received") { k = 4; next }
		if (k != 4) { print "unexpected server field: " $0 > "/dev/stderr"; bad = 1; exit 1 }
		done = 1 }
	{ print }
	END { exit bad }' "$1"; }
# hdrs FILE: the message's own header (folded lines as they are), servers' lines off
hdrs() { local h; h=$(own "$1") || return 1; echo "$h" | sed '/^$/q'; }
mp() { $MP --no-store "$1"; }
# mime.py CMD FILE: tree (the MIME structure as type(child,...)), text TYPE
# (the first part of that type, decoded), cte TYPE (its Content-Transfer-Encoding)
cat > "$W/mime.py" <<'EOF'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[2], "rb"), policy=email.policy.default)
def tree(p):
    if p.is_multipart():
        return p.get_content_type() + "(" + ",".join(tree(c) for c in p.iter_parts()) + ")"
    return p.get_content_type()
if sys.argv[1] == "tree":
    print(tree(m))
else:
    for p in m.walk():
        if p.get_content_type() == sys.argv[3]:
            print(p.get_content() if sys.argv[1] == "text" else (p["Content-Transfer-Encoding"] or "7bit").lower(), end="")
            break
EOF
mime() { python3 "$W/mime.py" "$@"; }

# --- Postfix's log, and sessions by hand ---------------------------------------
pmark() { stat -c %s "$PLOG"; }
plog() { tail -c +$(($1 + 1)) "$PLOG"; }
# plogwait MARK RE: Postfix's log after MARK has a line matching RE (10 s at most)
plogwait() { local i; for i in $(seq 500); do plog "$1" | grep -q -- "$2" && return 0; sleep 0.02; done
	say "no '$2' in postfix.log"; plog "$1" | tail -n 4; return 1; }
# talk.py PORT STEP...: connect, read the greeting, then send each step
# (bytes as given) and read one reply; prints the last line of each reply
cat > "$W/talk.py" <<'EOF'
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def reply():
    last = b"EOF"
    while True:
        l = f.readline()
        if not l:
            break
        last = l.rstrip(b"\r\n")
        if len(l) < 4 or l[3:4] != b"-":
            break
    print(last.decode("utf-8", "replace"), flush=True)
reply()
for step in sys.argv[2:]:
    s.sendall(os.fsencode(step))
    reply()
EOF
talk() { timeout 20 python3 "$W/talk.py" "$@"; }
AUTHPLAIN="AUTH PLAIN $(printf '\0alice\0alicepw' | base64)"$'\r\n'
# barrier: a session of our own on the port-25 listener, returning once
# Postfix logged its end: every line of the sessions before it is in the log.
barrier() { local m i; m=$(pmark); talk "$MT_SMTP_PORT" $'EHLO barrier\r\n' $'QUIT\r\n' > /dev/null
	for i in $(seq 500); do plog "$m" | grep -q 'smtp-test/smtpd.*disconnect from .* ehlo=1 quit=1 commands=2$' && return 0
	sleep 0.02; done; echo "barrier: Postfix did not log it" >&2; return 1; }
# quiet MARK: (after a barrier) no message reached Postfix's queue since MARK
quiet() { ! plog "$1" | grep -E ': client=|submission/smtpd.*: connect from|smtps/smtpd.*: connect from' ||
	{ say "Postfix saw that"; return 1; }; }
subm_sessions() { plog "$1" | grep -c 'submission/smtpd\[[0-9]*\]: connect from'; }

# --- smtp-sink -------------------------------------------------------------------
# sink NAME OPTIONS...: Postfix's smtp-sink (no STARTTLS; -a: no AUTH; -v:
# each command into $MT_LOG_DIR/NAME.log) on a free port reserved as
# mailtest-up reserves its own (mailtest-down gives it back and stops it);
# the port in $W/NAME.port.
sink() {
	local name=$1 p i j hi eph top=/tmp/mailtest-ports; shift
	read -r eph _ < /proc/sys/net/ipv4/ip_local_port_range
	hi=$(( eph < 32000 ? eph : 32000 ))
	for i in $(seq 20); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % (hi - 20000) ))
		exec 9> "$top/.lock"; flock 9
		if [ -L "$top/$p" ] || grep -qi ":$(printf %04X $p) " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			exec 9>&-; continue
		fi
		ln -s "$T" "$top/$p" && echo "$p" >> "$T/ports"
		exec 9>&-
		smtp-sink -4 -a -v -u nobody "$@" "127.0.0.1:$p" 16 </dev/null >/dev/null 2>"$MT_LOG_DIR/$name.log" &
		echo $! > "$T/$name.pid"
		for j in $(seq 300); do
			grep -qi ": 0100007F:$(printf %04X $p) 00000000:0000 0A " /proc/net/tcp && { echo "$p" > "$W/$name.port"; return 0; }
			kill -0 $! 2>/dev/null || break
			sleep 0.01
		done
	done
	return 1
}
slog() { cat "$MT_LOG_DIR/$1.log"; }
# sinkwait NAME K: the sink has seen K sessions end (5 s at most)
sinkwait() { local i; for i in $(seq 250); do [ "$(grep -c 'smtp-sink: disconnect' "$MT_LOG_DIR/$1.log")" -ge "$2" ] && return 0
	sleep 0.02; done; say "sink $1: fewer than $2 sessions"; return 1; }
sink plain && sink later -r RCPT && sink bye -Q MAIL ||
	{ echo "1..1"; echo "not ok 1 - smtp-sink did not start"; exit 1; }
SINK=$(cat "$W/plain.port") LATER=$(cat "$W/later.port") BYE=$(cat "$W/bye.port")

# --- the accounts ----------------------------------------------------------------
# QURL and QTLS: where the account q (the outbox runs) sends, changed below.
config() {
	acct() {	# acct NAME URL LINE...
		printf 'account %s\nsmtp_url %s\nfrom Alice <alice@example.test>\ntimeout 10\n' "$1" "$2"; shift 2
		printf '%s\n' "$@" ''
	}
	local me=("tls_ca_file $MT_CACERT" "user alice" "password alicepw")
	acct subm "smtp://localhost:$MT_SUBM_PORT" "${me[@]}"
	acct smtps "smtps://localhost:$MT_SMTPS_PORT" "${me[@]}"
	acct smtp25 "smtp://localhost:$MT_SMTP_PORT" "${me[@]}"
	acct clear "smtp://localhost:$MT_SMTP_PORT" "tls off" "user alice" "password alicepw"
	acct wrong "smtp://localhost:$MT_SUBM_PORT" "tls_ca_file $MT_CACERT" "user alice" "password Wr0ngPassw0rd"
	acct nostarttls "smtp://127.0.0.1:$SINK" "${me[@]}"
	acct sinkoff "smtp://127.0.0.1:$SINK" "tls off" "auth none"
	acct later "smtp://127.0.0.1:$LATER" "tls off" "auth none"
	acct bye "smtp://127.0.0.1:$BYE" "tls off" "auth none"
	acct down "smtp://127.0.0.1:1" "tls off" "auth none"
	acct q "$QURL" "$QTLS" "user alice" "password alicepw"
	acct noutf "smtp://localhost:$MT_SUBM_PORT" "${me[@]}" "smtputf8 off"
	acct oa "smtp://localhost:$MT_SUBM_PORT" "tls_ca_file $MT_CACERT" "user alice" "auth oauth" \
		"token_url $MT_OAUTH_URL" "client_id $MT_OAUTH_CLIENT_ID" \
		"client_secret $MT_OAUTH_CLIENT_SECRET" "refresh_token rt-alice"
}
QURL=smtp://127.0.0.1:$LATER QTLS="tls off"
config > "$CF"
chmod 600 "$CF"

# --- Postfix made strict ------------------------------------------------------------
# Bare LF refused from every client (not only outside mynetworks), UTF-8
# addresses only after MAIL FROM ... SMTPUTF8.  A HUP is what postfix
# reload sends; the main.cf back-dated, as mailtest-up does.
P=$MT_DIR/postfix
postconf -c "$P/etc" -e 'smtpd_forbid_bare_newline = reject' 'smtpd_forbid_bare_newline_exclusions =' \
	'strict_smtputf8 = yes'
touch -d '-10 seconds' "$P/etc/main.cf"
m=$(pmark)
kill -HUP "$(head -n1 "$P/spool/pid/master.pid")"
plogwait "$m" 'master.*reload --' > /dev/null
control() {	# a session by hand: a UTF-8 RCPT without SMTPUTF8, then DATA with a bare LF
	talk "$MT_SMTP_PORT" $'EHLO control\r\n' "$AUTHPLAIN" $'MAIL FROM:<alice@example.test>\r\n' \
		$'RCPT TO:<ctl-\xc3\xbc@example.test>\r\n' $'RCPT TO:<control@example.test>\r\n' $'DATA\r\n' \
		$'From: alice@example.test\r\nSubject: control\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n.\r\n' \
		$'QUIT\r\n' > "$W/control.out"
	[ "$(sed -n 5p "$W/control.out" | cut -c1-3)" = 553 ] && sed -n 8p "$W/control.out" | grep -q '^550 .*bare <LF>'
}
for i in $(seq 50); do control && break; sleep 0.1; done	# old smtpd processes are on their way out
ok "Postfix (control, by hand): refuses a UTF-8 RCPT without SMTPUTF8 (553) and a bare LF in DATA (550)" \
	sh_ 'control || { cat "$W/control.out"; false; }'

# --- 1. how mailsend gets there -------------------------------------------------------
# transport NAME ACCOUNT: one message to NAME@example.test, delivered
transport() {
	m=$(pmark); ms "$1" "$2" --to "$1@example.test" --subject "via $2" --body "sent through $2"
	[ $rc = 0 ] && [ ! -s "$W/$1.err" ] || { say "exit $rc"; cat "$W/$1.err"; return 1; }
	rec "$1" -e '.kind == "sent" and .accepted == ["'"$1"'@example.test"] and .rejected == [] and .queued == false' > /dev/null ||
		{ cat "$W/$1.out"; return 1; }
	M=$(mid "$1") got "$1" || return 1
	f=$(maildir_find "$1" "$(mid "$1")")
	grep -q "^Subject: via $2\$" "$f" || { say "subject"; head -n 20 "$f"; return 1; }
}
ok "submission (STARTTLS required, AUTH PLAIN): delivered into the Maildir" transport via-subm subm
ok "... Postfix's log: that session did STARTTLS and AUTH as alice, on submission" sh_ '
	plogwait "$1" "submission/smtpd.*client=localhost.*sasl_method=PLAIN, sasl_username=alice" &&
	plogwait "$1" "submission/smtpd.*disconnect from .* ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1"' "$m"
ok "SMTPS (TLS from the first byte): delivered" transport via-smtps smtps
ok "... Postfix's log: on the smtps listener, AUTH, no STARTTLS needed; Received says ESMTPSA" sh_ '
	plogwait "$1" "smtps/smtpd.*disconnect from .* ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1" &&
	grep -q "with ESMTPSA id" "$(mails via-smtps)"' "$m"
ok "port-25 listener with STARTTLS offered (smtp://): STARTTLS taken, delivered" transport via-25 smtp25
ok "... Postfix's log: smtp-test listener, starttls=1 auth=1" sh_ '
	plogwait "$1" "smtp-test/smtpd.*disconnect from .* ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1"' "$m"
ok "tls off on the port-25 listener: delivered in clear (AUTH allowed there)" transport via-clear clear
ok "... no STARTTLS in that session, Received says ESMTPA (no S)" sh_ '
	plogwait "$1" "smtp-test/smtpd.*disconnect from .* ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1" &&
	grep -q "with ESMTPA id" "$(mails via-clear)" || { grep -A2 ^Received "$(mails via-clear)"; false; }' "$m"

s0=$(grep -c 'smtp-sink: disconnect' "$MT_LOG_DIR/plain.log")
ms nostls nostarttls --to nostls@example.test --subject secret --body 'must not go in clear'
sinkwait plain $((s0 + 1)) > /dev/null
ok "smtp:// to a server without STARTTLS (smtp-sink): refused, exit 78, 'STARTTLS' said, one stderr line" sh_ '
	[ $rc = 78 ] && grep -q STARTTLS "$W/nostls.err" && [ "$(lines "$W/nostls.err")" = 1 ] &&
	rec nostls -e ".accepted == [] and .queued == false and .error != null" > /dev/null ||
	{ say "exit $rc"; cat "$W/nostls.err" "$W/nostls.out"; false; }'
ok "... the sink saw EHLO and nothing else: no AUTH, no MAIL, no DATA in clear" sh_ '
	slog plain | grep -q "smtp-sink: EHLO" && ! slog plain | grep -E "smtp-sink: (AUTH|MAIL|RCPT|DATA)" || { slog plain; false; }'

m=$(pmark); ms wrongpw wrong --to wrongpw@example.test --subject w --body w; barrier
ok "wrong password: exit 77, one stderr line with the server's 535, the password nowhere" sh_ '
	[ $rc = 77 ] && [ "$(lines "$W/wrongpw.err")" = 1 ] && grep -q 535 "$W/wrongpw.err" &&
	! grep -r -q Wr0ngPassw0rd "$W/wrongpw.err" "$W/wrongpw.out" "$W/sp/wrongpw" ||
	{ say "exit $rc"; cat "$W/wrongpw.err"; false; }'
ok "... nothing reached Postfix's queue" sh_ '! plog "$1" | grep -q ": client=" && [ "$(nmail wrongpw)" = 0 ]' "$m"

# --- 2. headers --------------------------------------------------------------------
HU="hdr-j hdr-k hdr-a hdr-b hdr-c hdr-d hdr-e hdr-bcc hdr-bcc2"	# every recipient below
ms hdr subm --to '"Doe, J" <hdr-j@example.test>; hdr-k@example.test' \
	--cc 'Team: hdr-a@example.test, hdr-b@example.test;, hdr-c@example.test' --cc 'hdr-d@example.test; hdr-e@example.test' \
	--bcc 'hdr-bcc@example.test, "Hidden, H" <hdr-bcc2@example.test>' \
	--subject 'the flag subject' --header 'Subject: the header subject' --header 'X-Foo: 1' --body 'address lists'
M=$(mid hdr)
ok "address lists (quoted comma, ';', a group): exit 0, accepted = all 9, Bcc included" sh_ '
	[ $rc = 0 ] || { say "exit $rc"; cat "$W/hdr.err"; exit 1; }
	[ "$(rec hdr ".accepted | sort | join(\" \")")" = "\"$(for u in $HU; do echo $u@example.test; done | sort | tr "\n" " " | sed "s/ $//")\"" ] ||
	{ rec hdr .accepted; false; }'
ok "... each of the 9 mailboxes got it, once" got $HU
ok "... To and Cc as written: \"Doe, J\" one mailbox, the group kept, the ';' list split" sh_ '
	f=$(maildir_find hdr-j "$M"); mp "$f" > "$W/hdr.rec" || exit 1
	jq -e "(.to | map(.addr)) == [\"hdr-j@example.test\", \"hdr-k@example.test\"] and .to[0].name == \"Doe, J\" and
	    (.cc | map(.addr)) == [\"hdr-a@example.test\", \"hdr-b@example.test\", \"hdr-c@example.test\", \"hdr-d@example.test\", \"hdr-e@example.test\"] and
	    .bcc == []" "$W/hdr.rec" > /dev/null || { jq -c "{to, cc, bcc}" "$W/hdr.rec"; exit 1; }
	hdrs "$f" | grep -q "^Cc: Team: hdr-a@example.test, hdr-b@example.test;" || { hdrs "$f" | grep -A1 ^Cc; false; }'
ok "... no copy has a Bcc header or a Bcc address in its own header; the 7 others not even in the servers' lines" sh_ '
	for u in $HU; do
		f=$(maildir_find $u "$M")
		h=$(hdrs "$f") && [ -n "$h" ] || exit 1
		echo "$h" | grep -i -E "^bcc:|hdr-bcc|Hidden" && { say "in $u copy"; exit 1; }
		case $u in hdr-bcc*) ;; *) grep -i -q "hdr-bcc" "$f" && { say "$u copy names a Bcc"; exit 1; };; esac
	done; true'
ok "... --header Subject replaces --subject: one Subject header, the header's; X-Foo: 1 added once" sh_ '
	f=$(maildir_find hdr-k "$M")
	[ "$(hdrs "$f" | grep -c -i "^Subject:")" = 1 ] && hdrs "$f" | grep -qx "Subject: the header subject" &&
	[ "$(hdrs "$f" | grep -c -i "^X-Foo:")" = 1 ] && hdrs "$f" | grep -qx "X-Foo: 1" || { hdrs "$f"; false; }'

# Header injection: each refused before anything is composed.
m=$(pmark); k=0
inject() {	# inject DESC ARGS...: exit 65, nothing in the outbox
	local d=$1; shift
	k=$((k+1)); ms inj$k subm "$@"
	ok "CR/LF in a header value refused, exit 65, nothing queued: $d" sh_ '
		[ $rc = 65 ] && [ -z "$(outbox inj$1)" ] && [ ! -s "$W/inj$1.out" ] || { say "exit $rc"; cat "$W/inj$1.err" "$W/inj$1.out"; outbox inj$1; false; }' $k
}
inject "--subject \$'a\\r\\nBcc: ...'" --to inj@example.test --subject $'a\r\nBcc: inj-x@example.test' --body b
inject "--subject with a bare LF" --to inj@example.test --subject $'a\nBcc: inj-x@example.test' --body b
inject "--header 'X-Foo: a\\r\\nBcc: ...'" --to inj@example.test --subject s --header $'X-Foo: a\r\nBcc: inj-x@example.test' --body b
inject "--to with CRLF" --to $'inj@example.test\r\nBcc: inj-x@example.test' --subject s --body b
inject "--from with CRLF" --from $'alice@example.test\r\nBcc: inj-x@example.test' --to inj@example.test --subject s --body b
printf '%s\n' '{"v":1,"kind":"draft","to":"inj@example.test","subject":"s","body":"b","headers":{"X-A":"a\r\nBcc: inj-x@example.test"}}' \
	'{"v":1,"kind":"draft","to":"inj@example.test","subject":"s\nBcc: inj-x@example.test","body":"b"}' > "$W/inj-drafts.jsonl"
IN=$W/inj-drafts.jsonl ms injd subm
ok "... each refusal said once: one stderr line a message (STYLE 6, 8)" sh_ '
	for i in 1 2 3 4 5; do [ "$(lines "$W/inj$i.err")" = 1 ] || { say "run $i:"; cat "$W/inj$i.err"; exit 1; }; done
	[ "$(lines "$W/injd.err")" = 2 ] || { say "drafts:"; cat "$W/injd.err"; false; }'
ok "drafts with CR/LF in a header value and in the subject: exit 65, an error record for each in place" sh_ '
	[ $rc = 65 ] && [ "$(lines "$W/injd.out")" = 2 ] && jq -e -s "all(.error != null) and all(.accepted == null or .accepted == [])" "$W/injd.out" > /dev/null ||
	{ say "exit $rc"; cat "$W/injd.out" "$W/injd.err"; false; }'
barrier
ok "... none of these reached Postfix, and inj-x@ got nothing" sh_ 'quiet "$1" && [ "$(nmail inj-x)" = 0 ] && [ "$(nmail inj)" = 0 ]' "$m"

ms dot subm --to dot@example.test --subject dots --body $'first\n.\nmiddle\n..\n.x\nlast'
ok "a body line of a single '.' (and '..', '.x') arrives intact" sh_ '
	[ $rc = 0 ] && f=$(wait_mail dot "$(mid dot)") || { say "exit $rc"; cat "$W/dot.err"; exit 1; }
	[ "$(own "$f" | sed "1,/^\$/d")" = "$(printf "first\n.\nmiddle\n..\n.x\nlast")" ] || { own "$f" | sed "1,/^\$/d" | od -c | head; false; }'

# --- 3. HTML, attachments, inline images ---------------------------------------------
awk 'BEGIN { for (i = 0; i < 256; i++) printf "%c", i; for (i = 0; i < 4000; i++) printf "%c", (i * 7 + 3) % 256 }' > "$W/report.pdf"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR%s' "$(head -c 200 "$W/report.pdf" | base64 -w0)" > "$W/logo.png"
HTML=$'  \n<!-- made by a template -->\n<html><body><h1>Title</h1><p>First para <a href="https://example.org/page?a=1">the link</a>.</p><ul><li>one</li><li>two</li></ul><div>Last</div></body></html>'
ms html1 subm --to html1@example.test --subject html --body "$HTML"
ok "HTML body after white space and a comment: multipart/alternative(text/plain, text/html)" sh_ '
	[ $rc = 0 ] && f=$(wait_mail html1 "$(mid html1)") || { say "exit $rc"; cat "$W/html1.err"; exit 1; }
	[ "$(mime tree "$f")" = "multipart/alternative(text/plain,text/html)" ] || { mime tree "$f"; false; }'
ok "... the text part: blocks on lines of their own, the link target kept" sh_ '
	mime text "$(mails html1)" text/plain > "$W/html1.txt"
	grep -qx "Title" "$W/html1.txt" && grep -q "^First para the link.*https://example.org/page?a=1" "$W/html1.txt" &&
	grep -qx ".*one" "$W/html1.txt" && grep -qx ".*two" "$W/html1.txt" && ! grep -q "one.*two" "$W/html1.txt" &&
	grep -qx "Last" "$W/html1.txt" || { cat "$W/html1.txt"; false; }'
ok "... the HTML part is the body as given" sh_ '[ "$(mime text "$(mails html1)" text/html)" = "$1" ] || mime text "$(mails html1)" text/html' "$HTML"
ms html2 subm --to html2@example.test --subject doctype --body $'\n\t<!DOCTYPE html>\n<html><body><p>doctype</p></body></html>'
ms html3 subm --to html3@example.test --subject 'not html' --body 'a mail that talks about <html> tags'
ok "'<!DOCTYPE html' after white space is HTML too; text that only mentions <html> stays text/plain" sh_ '
	f=$(wait_mail html2 "$(mid html2)") && g=$(wait_mail html3 "$(mid html3)") || exit 1
	[ "$(mime tree "$f")" = "multipart/alternative(text/plain,text/html)" ] && [ "$(mime tree "$g")" = text/plain ] ||
	{ mime tree "$f"; mime tree "$g"; false; }'
ms html4 subm --to html4@example.test --subject 'html + file' --body "$HTML" --attach "$W/report.pdf"
ok "HTML + an attachment: multipart/mixed(alternative(text, html), the file), not inside the alternative" sh_ '
	[ $rc = 0 ] && f=$(wait_mail html4 "$(mid html4)") || { say "exit $rc"; cat "$W/html4.err"; exit 1; }
	[ "$(mime tree "$f")" = "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf)" ] || { mime tree "$f"; false; }'
ok "... the attachment: name report.pdf, its sha256 (mailparse) that of the file" sh_ '
	mp "$(mails html4)" | jq -e --arg s "$(sha "$W/report.pdf")" ".attachments | length == 1 and .[0].name == \"report.pdf\" and .[0].sha256 == \$s" > /dev/null ||
	mp "$(mails html4)" | jq -c .attachments'
printf '<html><body><p>Our logo: <img src="cid:cid1" alt="logo"></p></body></html>\n' > "$W/page.html"
ms inl subm --to inline@example.test --subject inline --html-file "$W/page.html" --inline "$W/logo.png=cid1" --attach "$W/report.pdf"
ok "--html-file + --inline + --attach: mixed(alternative(text, related(html, image)), file)" sh_ '
	[ $rc = 0 ] && f=$(wait_mail inline "$(mid inl)") || { say "exit $rc"; cat "$W/inl.err"; exit 1; }
	[ "$(mime tree "$f")" = "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),application/pdf)" ] ||
	{ mime tree "$f"; false; }'
ok "... the image has Content-ID <cid1> and the bytes of logo.png; the attachment those of report.pdf" sh_ '
	mp "$(mails inline)" | jq -e --arg i "$(sha "$W/logo.png")" --arg a "$(sha "$W/report.pdf")" "
	    (.attachments | map(select(.content_id == \"cid1\")) | length == 1 and .[0].sha256 == \$i) and
	    (.attachments | map(select(.name == \"report.pdf\")) | length == 1 and .[0].sha256 == \$a)" > /dev/null ||
	mp "$(mails inline)" | jq -c ".attachments[] | {name, type, content_id, sha256}"'
$MP -d "$W/sp/vault" "$F/no-disposition-pdf.eml" > "$W/vault.rec" 2> "$W/vault.mp.err"
V=$(jq -r '.attachments[0].vault' "$W/vault.rec")
ms vault subm --to vault@example.test --subject 'from the vault' --body 'see the file' --attach "vault:$V"
ok "--attach vault:<sha256> (put there by mailparse): delivered, the bytes of the vault file" sh_ '
	[ -f "$W/sp/vault/vault/${1:0:2}/$1" ] || { say "no vault file for $1"; cat "$W/vault.mp.err"; exit 1; }
	[ $rc = 0 ] && f=$(wait_mail vault "$(mid vault)") || { say "exit $rc"; cat "$W/vault.err"; exit 1; }
	mp "$f" | jq -e --arg v "$1" --arg s "$(sha "$W/sp/vault/vault/${1:0:2}/$1")" ".attachments | length == 1 and .[0].sha256 == \$v and \$v == \$s" > /dev/null ||
	mp "$f" | jq -c .attachments' "$V"
ms eml subm --to eml@example.test --subject 'a forwarded mail' --body 'attached' --attach "$F/qp-soft-breaks.eml"
ok "an .eml attached as message/rfc822 is not base64 (RFC 2046 5.2.1: 7bit, 8bit or binary only)" sh_ '
	[ $rc = 0 ] && f=$(wait_mail eml "$(mid eml)") || { say "exit $rc"; cat "$W/eml.err"; exit 1; }
	cte=$(mime cte "$f" message/rfc822); case $cte in 7bit|8bit|binary) ;; *) say "message/rfc822 part with Content-Transfer-Encoding: $cte"; false;; esac'

# --- 4. raw mail ------------------------------------------------------------------------
# what must arrive: the input less every Bcc field (folded lines too), LF
# line ends as Dovecot keeps them; the envelope: every To, Cc and Bcc
nobcc() { awk 'h == 0 && /^\r?$/ { h = 1 } h == 0 && /^[^ \t]/ { skip = tolower($0) ~ /^bcc[ \t]*:/ } h == 0 && skip { next } { print }' "$1" | sed 's/\r$//'; }
RAWU="raw-to1 raw-to2 raw-cc1 raw-cc2 raw-bcc1 raw-bcc2 raw-bcc3"
rawcheck() {	# rawcheck RUN PREFIX EXPECTED MSGID: the 7 copies each the expected bytes, no Bcc
	local u f
	[ $rc = 0 ] || { say "exit $rc"; cat "$W/$1.err"; return 1; }
	[ "$(rec "$1" '.accepted | sort | join(" ")')" = "\"$(for u in $RAWU; do echo "${u/raw-/$2-}@example.test"; done | sort | tr '\n' ' ' | sed 's/ $//')\"" ] ||
		{ say "accepted"; rec "$1" .accepted; return 1; }
	M=$4 got $(for u in $RAWU; do echo "${u/raw-/$2-}"; done) || return 1
	for u in $RAWU; do
		f=$(maildir_find "${u/raw-/$2-}" "$4")
		own "$f" > "$W/$1.$u" || return 1
		cmp "$3" "$W/$1.$u" || { diff "$3" "$W/$1.$u" | head -n 10; return 1; }
		grep -i -q '^bcc' <(sed '/^$/q' "$W/$1.$u") && { say "a Bcc header in $u's copy"; return 1; }
	done; true
}
nobcc "$F/send-raw-bcc.eml" > "$W/raw.want"
IN=$F/send-raw-bcc.eml ms raw subm --raw
ok "--raw (LF line ends throughout): every To/Cc/Bcc of every occurrence got it, each copy the input less its Bcc fields, byte for byte" \
	rawcheck raw raw "$W/raw.want" send-raw-bcc@example.test
ok "... its sent record names the message's own Message-ID" sh_ '
	[ "$(mid raw)" = send-raw-bcc@example.test ] || { say "message_id: $(mid raw)"; false; }'
ok "... the two Bcc headers (one folded) gone; 'X-After-Bcc' and the 'Bcc:' body line kept; raw-not@ and raw-body@ no recipients" sh_ '
	grep -qx "X-After-Bcc: kept, and not folded into anything" "$W/raw.raw-to1" && grep -q "^Bcc: raw-body@" "$W/raw.raw-to1" &&
	! grep -q "raw-bcc[0-9]" <(sed "/^\$/q" "$W/raw.raw-to1") && [ "$(nmail raw-not)" = 0 ] && [ "$(nmail raw-body)" = 0 ] &&
	[ "$(rec raw ".accepted | length")" = 7 ]'
ok "... and its bare LFs went as CRLF: Postfix, which refuses a bare LF here, took it" sh_ '
	grep -q "$(printf "\r")" "$F/send-raw-bcc.eml" && { say "the fixture has CRs"; exit 1; }; rec raw -e ".rejected == []" > /dev/null'
# the same with CRLF on every other line, addresses renamed
sed 's/raw-/rwx-/g' "$F/send-raw-bcc.eml" | awk '{ printf "%s%s\n", $0, NR % 2 ? "\r" : "" }' > "$W/mixed.eml"
nobcc "$W/mixed.eml" > "$W/mixed.want"
IN=$W/mixed.eml ms mixed subm --raw
ok "--raw with CRLF and LF mixed: CRLF kept as it is (no CR doubled), LF made CRLF, the rest byte for byte" rawcheck mixed rwx "$W/mixed.want" send-rwx-bcc@example.test

# --- 5. drafts ---------------------------------------------------------------------------
m=$(pmark); IN=$F/send-drafts.jsonl ms drafts subm; barrier
ok "3 draft records: 3 sent records in their order, each with its recipients, exit 0" sh_ '
	[ $rc = 0 ] && [ "$(lines "$W/drafts.out")" = 3 ] && jq -e -s "map(.kind) == [\"sent\", \"sent\", \"sent\"] and
	    map(.accepted | sort) == [[\"dr-one@example.test\"], [\"dr-two-bcc@example.test\", \"dr-two-cc@example.test\", \"dr-two@example.test\"], [\"dr-three@example.test\"]]" \
	    "$W/drafts.out" > /dev/null || { say "exit $rc"; cat "$W/drafts.out" "$W/drafts.err"; false; }'
ok "... all delivered (5 mailboxes), the draft's Bcc in no copy, the dot line intact" sh_ '
	for i in 0 1 2; do id=$(jq -r -s ".[$i].message_id" "$W/drafts.out")
		for u in $(jq -r -s ".[$i].accepted[] | sub(\"@.*\"; \"\")" "$W/drafts.out"); do
			f=$(wait_mail $u "$id") || exit 1
			h=$(hdrs "$f") && [ -n "$h" ] || exit 1
			echo "$h" | grep -i -q -e "^bcc:" -e "dr-two-bcc" && { say "Bcc in $u copy"; exit 1; }
		done; done
	own "$(mails dr-three)" | sed "1,/^\$/d" | grep -qx "\." || { own "$(mails dr-three)"; false; }'
ok "... over one SMTP connection: one submission session in Postfix's log, mail=3 rcpt=5 data=3" sh_ '
	[ "$(subm_sessions "$1")" = 1 ] && plog "$1" | grep -q "submission/smtpd.*disconnect from .* mail=3 rcpt=5 data=3 quit=1" ||
	{ plog "$1" | grep "submission/smtpd.*connect"; false; }' "$m"
{ echo '{"v":1,"kind":"draft","to":"bad-one@example.test","subject":"before","body":"b"}'; echo 'not json {'
  echo '{"v":1,"kind":"draft","to":"bad-x@example.test","subject":5,"body":"a number for a subject"}'
  echo '{"v":1,"kind":"draft","to":"bad-two@example.test","subject":"after","body":"b"}'; } > "$W/bad.jsonl"
IN=$W/bad.jsonl ms bad subm
ok "a line that is not JSON and a draft of the wrong shape: an error record in the place of each, exit 65" sh_ '
	[ $rc = 65 ] && [ "$(lines "$W/bad.out")" = 4 ] && jq -e -s ".[0].kind == \"sent\" and .[0].accepted == [\"bad-one@example.test\"] and
	    .[1].kind == \"error\" and .[1].input == \"not json {\" and .[2].error != null and (.[2].accepted // []) == [] and
	    .[3].kind == \"sent\" and .[3].accepted == [\"bad-two@example.test\"]" "$W/bad.out" > /dev/null ||
	{ say "exit $rc"; cat "$W/bad.out" "$W/bad.err"; false; }'
ok "... the drafts before and after were delivered, the bad one not" sh_ '
	wait_mail bad-one "$(jq -r -s ".[0].message_id" "$W/bad.out")" > /dev/null &&
	wait_mail bad-two "$(jq -r -s ".[3].message_id" "$W/bad.out")" > /dev/null && [ "$(nmail bad-x)" = 0 ]'

# --- 6. recipients refused ---------------------------------------------------------------
m=$(pmark); ms rej1 subm --to rej-good@example.test --to nobody@elsewhere.test --subject 'one refused' --body b
ok "one recipient refused (550 from Postfix), one taken: exit 67 (EX_NOUSER), each in its list" sh_ '
	[ $rc = 67 ] && rec rej1 -e ".accepted == [\"rej-good@example.test\"] and (.rejected | length) == 1 and
	    .rejected[0].addr == \"nobody@elsewhere.test\" and .queued == false" > /dev/null || { say "exit $rc"; cat "$W/rej1.out" "$W/rej1.err"; false; }'
ok "... the refusal carries the server's reply, as Postfix logged it" sh_ '
	r=$(rec rej1 -r ".rejected[0].reply"); case $r in "550 5.1.1 <nobody@elsewhere.test>: Recipient address rejected"*) ;; *) say "reply: $r"; exit 1;; esac
	plogwait "$1" ": reject: RCPT from" && plog "$1" | grep -F -q "reject: RCPT from localhost[127.0.0.1]: $r;" ||
	{ plog "$1" | grep reject; false; }' "$m"
ok "... the good one delivered; the message in outbox/cur with its sent record" sh_ '
	wait_mail rej-good "$(mid rej1)" > /dev/null && [ "$(outbox rej1 | grep -c /outbox/cur/)" = 2 ] &&
	[ -z "$(outbox rej1 | grep /outbox/new/)" ] || outbox rej1'
m=$(pmark); ms rej2 subm --to nobody@elsewhere.test --cc nobody2@elsewhere.test --subject 'all refused' --body b; barrier
ok "every recipient refused: exit 69 (EX_UNAVAILABLE), both in rejected[], an error, nothing queued by Postfix" sh_ '
	[ $rc = 69 ] && rec rej2 -e ".accepted == [] and (.rejected | map(.addr)) == [\"nobody@elsewhere.test\", \"nobody2@elsewhere.test\"] and
	    all(.rejected[]; .reply | startswith(\"550 \")) and .error != null and .queued == false" > /dev/null &&
	! plog "$1" | grep -q ": client=" || { say "exit $rc"; cat "$W/rej2.out" "$W/rej2.err"; false; }' "$m"

# --- 7. later: the outbox and --flush --------------------------------------------------------
qfile() { ls "$W/sp/queue/outbox/new/"* 2>/dev/null; }
qmeta() { head -n1 "$(qfile)" | jq -r "$1"; }
s0=$(grep -c 'smtp-sink: disconnect' "$MT_LOG_DIR/later.log")
t0=$(date +%s); ms queue q --to q-one@example.test --to q-two@example.test --subject 'queued first' --body 'sent at last'
sinkwait later $((s0 + 1)) > /dev/null
ok "4xx on RCPT (smtp-sink -r RCPT): exit 75, queued:true, both rejected with the 450" sh_ '
	[ $rc = 75 ] && rec queue -e ".queued == true and .accepted == [] and (.rejected | length) == 2 and all(.rejected[]; .reply | startswith(\"450\"))" > /dev/null ||
	{ say "exit $rc"; cat "$W/queue.out" "$W/queue.err"; false; }'
ok "... the sink got RCPTs and no DATA; the message in outbox/new: tries 1, next in a minute, the error kept" sh_ '
	slog later | grep -q "RCPT TO:<q-one@example.test>" && ! slog later | grep -q "smtp-sink: DATA" || { slog later; exit 1; }
	[ "$(qfile | wc -l)" = 1 ] && [ "$(qmeta .tries)" = 1 ] && [ "$(qmeta .next)" -ge $(($1 + 59)) ] &&
	[ "$(qmeta .next)" -le $(($1 + 62)) ] && qmeta .last_error | grep -q 450 || { outbox queue; head -n1 "$(qfile)"; false; }' "$t0"
ms bye1 bye --to bye@example.test --subject 421 --body b
ok "421 and a dropped connection at MAIL (smtp-sink -Q MAIL): exit 75, queued in outbox/new" sh_ '
	[ $rc = 75 ] && rec bye1 -e ".queued == true" > /dev/null && [ "$(outbox bye1 | grep -c /outbox/new/)" = 1 ] ||
	{ say "exit $rc"; cat "$W/bye1.out" "$W/bye1.err"; outbox bye1; false; }'
if grep -qi ': 0100007F:0001 \|: 00000000:0001 ' /proc/net/tcp; then
	pass "# SKIP something listens on port 1"
else
	ms down1 down --to down@example.test --subject nobody --body b
	ok "nothing listening (127.0.0.1:1): exit 75, queued in outbox/new" sh_ '
		[ $rc = 75 ] && rec down1 -e ".queued == true" > /dev/null && [ "$(outbox down1 | grep -c /outbox/new/)" = 1 ] ||
		{ say "exit $rc"; cat "$W/down1.out" "$W/down1.err"; false; }'
fi
QURL=smtp://127.0.0.1:1 QTLS="tls off"; config > "$CF"
t1=$(date +%s); ms queue q --flush --force
ok "--flush --force to a server not there: exit 75, still queued, tries 2, the wait doubled" sh_ '
	[ $rc = 75 ] && [ "$(qfile | wc -l)" = 1 ] && [ "$(qmeta .tries)" = 2 ] && [ "$(qmeta .next)" -ge $(($1 + 119)) ] ||
	{ say "exit $rc"; cat "$W/queue.err"; head -n1 "$(qfile)"; false; }' "$t1"
QURL=smtp://localhost:$MT_SUBM_PORT QTLS="tls_ca_file $MT_CACERT"; config > "$CF"
m=$(pmark); ms queue q --flush; barrier
ok "--flush (no --force) before the next try is due: exit 0, nothing sent, still queued, tries 2" sh_ '
	[ $rc = 0 ] && [ ! -s "$W/queue.out" ] && [ "$(qfile | wc -l)" = 1 ] && [ "$(qmeta .tries)" = 2 ] && quiet "$1" ||
	{ say "exit $rc"; cat "$W/queue.out" "$W/queue.err"; false; }' "$m"
ms queue q --flush --force
ok "--flush --force to the real Postfix: exit 0, a sent record, both delivered" sh_ '
	[ $rc = 0 ] && rec queue -e ".queued == false and (.accepted | sort) == [\"q-one@example.test\", \"q-two@example.test\"] and .rejected == []" > /dev/null ||
	{ say "exit $rc"; cat "$W/queue.out" "$W/queue.err"; exit 1; }
	M=$(mid queue) got q-one q-two && grep -q "^Subject: queued first$" "$(mails q-one)"'
ok "... outbox/new empty, the message in outbox/cur with a .sent record saying so" sh_ '
	[ -z "$(qfile)" ] && c=$(ls "$W/sp/queue/outbox/cur/"*.sent) && [ "$(echo "$c" | wc -l)" = 1 ] && [ -f "${c%.sent}" ] &&
	jq -e "(.accepted | length) == 2 and .error == null" "$c" > /dev/null || { outbox queue; cat "$c"; false; }'

# --- 8. --dry-run, --check ------------------------------------------------------------------
m=$(pmark); ms dry subm --dry-run --to dry@example.test --subject 'dry run' --body 'not to be sent'; barrier
ok "--dry-run: exit 0, the message on stdout (CRLF), nothing queued, no connection in Postfix's log" sh_ '
	[ $rc = 0 ] && grep -q "^Subject: dry run$(printf "\r")\$" "$W/dry.out" && grep -q "^To: dry@example.test" "$W/dry.out" &&
	grep -q "not to be sent" "$W/dry.out" && [ -z "$(outbox dry)" ] && quiet "$1" && [ "$(nmail dry)" = 0 ] ||
	{ say "exit $rc"; cat "$W/dry.out" "$W/dry.err"; false; }' "$m"
m=$(pmark); ms check subm --check; barrier
ok "--check: exit 0, one submission session with STARTTLS and AUTH, no MAIL, nothing delivered" sh_ '
	[ $rc = 0 ] && [ "$(subm_sessions "$1")" = 1 ] && plog "$1" | grep -q "submission/smtpd.*disconnect from .* ehlo=2 starttls=1 auth=1 " &&
	! plog "$1" | grep -q -e "submission/smtpd.*disconnect.*mail=" -e ": client=" || { say "exit $rc"; cat "$W/check.err"; plog "$1" | grep smtpd; false; }' "$m"
ok "... and it says QUIT (Postfix logs quit=1, not a lost connection)" sh_ '
	plog "$1" | grep -Eq "submission/smtpd.*disconnect from .* auth=1 (noop=1 )?quit=1 commands=[56]" || { plog "$1" | grep submission; false; }' "$m"
ms checkw wrong --check
ok "--check with a wrong password: exit 77, the password not shown" sh_ '
	[ $rc = 77 ] && ! grep -q Wr0ngPassw0rd "$W/checkw.err" "$W/checkw.out" || { say "exit $rc"; cat "$W/checkw.err"; false; }'

# --- 9. OAuth 2.0 (Postfix -> Dovecot's auth -> the oauth2 passdb -> introspection) -----------------
ostats() { curl -sS "$MT_OAUTH_BASE/stats" > "$W/$1"; }
odiff() { echo $(( $(jq ".$2" "$W/$1.stats") - $(jq ".$2" "$W/$1.before") )); }
ostats o1.before; m=$(pmark); ms oauth oa --to oauth1@example.test --subject oauth --body 'with a token'; ostats o1.stats
ok "OAuth account (token_url, client_id, client_secret, refresh_token): one refresh, AUTH with the token, delivered" sh_ '
	[ $rc = 0 ] && [ "$(odiff o1 token_issued)" = 1 ] && [ "$(odiff o1 introspect_active)" = 1 ] || { say "exit $rc"; cat "$W/oauth.err" "$W/o1.stats"; exit 1; }
	plogwait "$1" "submission/smtpd.*client=.*sasl_method=OAUTHBEARER, sasl_username=alice" && M=$(mid oauth) got oauth1' "$m"
curl -sS -X POST "$MT_OAUTH_BASE/revoke" > /dev/null
ostats o2.before; m=$(pmark); ms oauth oa --to oauth2@example.test --subject 'oauth again' --body 'token revoked'; ostats o2.stats
ok "token revoked (the cached one refused): exactly one refresh, AUTH again, sent and delivered" sh_ '
	[ $rc = 0 ] && [ "$(odiff o2 token)" = 1 ] && [ "$(odiff o2 token_issued)" = 1 ] && [ "$(odiff o2 introspect_inactive)" = 1 ] &&
	[ "$(odiff o2 introspect_active)" = 1 ] || { say "exit $rc"; cat "$W/oauth.err" "$W/o2.before" "$W/o2.stats"; exit 1; }
	plogwait "$1" "submission/smtpd.*client=.*sasl_method=OAUTHBEARER, sasl_username=alice" || exit 1
	[ "$(plog "$1" | grep -c "SASL OAUTHBEARER authentication failed")" = 1 ] || { plog "$1" | grep -i sasl; exit 1; }
	M=$(mid oauth) got oauth2' "$m"

# --- 10. SMTPUTF8 ----------------------------------------------------------------------------
U8=$'j\xc3\xb6s\xc3\xa9'	# jösé
m=$(pmark); ms utf8 subm --to "$U8@example.test" --subject 'utf8 local part' --body b
ok "a UTF-8 local part ($U8@example.test) to Postfix: accepted, so libcurl sent MAIL FROM ... SMTPUTF8 (strict_smtputf8 here)" sh_ '
	[ $rc = 0 ] && rec utf8 -e ".accepted == [\"$1@example.test\"]" > /dev/null || { say "exit $rc"; cat "$W/utf8.out" "$W/utf8.err"; exit 1; }
	plogwait "$2" "submission/smtpd.*client="' "$U8" "$m"
ok "... Postfix's LMTP hop bounces it, 5.6.7: Dovecot 2.3's LMTP offers no SMTPUTF8 (a limit of the test servers)" sh_ '
	plogwait "$2" "lmtp.*to=<$1@example.test>.*dsn=5.6.7, status=bounced (SMTPUTF8 is required, but was not offered by host" &&
	[ "$(nmail "$1")" = 0 ]' "$U8" "$m"
m=$(pmark); ms noutf noutf --to "$U8@example.test" --subject 'smtputf8 off' --body b; barrier
ok "smtputf8 off and an address that needs it: refused before any connection, exit 65, said why" sh_ '
	[ $rc = 65 ] && grep -qi smtputf8 "$W/noutf.err" && quiet "$1" || { say "exit $rc"; cat "$W/noutf.err"; plog "$1" | grep smtpd; false; }' "$m"
s0=$(grep -c 'smtp-sink: disconnect' "$MT_LOG_DIR/plain.log")
ms utfsink sinkoff --to "$U8@example.test" --subject 'no SMTPUTF8 there' --body b
sinkwait plain $((s0 + 1)) > /dev/null
ok "a server that offers no SMTPUTF8 (smtp-sink): the UTF-8 address is not sent there (RFC 6531 3.4), not exit 0" sh_ '
	! slog plain | grep -a -q "RCPT TO:<j" && [ $rc != 0 ] || { say "exit $rc"; cat "$W/utfsink.out"; slog plain | grep -a -E "MAIL|RCPT"; false; }'

echo "1..$n"
