#!/bin/bash
# The round trip, as the seeds' own "Testing the Pack" does it, on a real
# Postfix and Dovecot on loopback (tests/lib/mailtest-up): a reporter
# (alice) mails a phishing report to the SOC mailbox (bob) through
# Postfix; mailfetch | mailparse | artifactx | codematch makes a case of
# it; mailsend --reply CODE answers; alice's Maildir gets "<CODE> subject"
# with the threading headers, a Markdown table as HTML, a text part and the
# report quoted; alice answers without the code (linked by In-Reply-To
# through mailsend's MAC'd Message-ID) and with it (linked by the code);
# codematch --thread shows it all newest first, --summary the threads;
# mailsend --new-thread opens thread 1, which alice answers too; and the
# refusals (no subject for a new thread, an unknown code) send nothing.
# Every expected value is worked out here from what the test sent (the
# messages below, Python's email parser on the delivered files, HMAC over
# the spool's key), not copied from the tools.
# MAILFETCH= MAILPARSE= ARTIFACTX= CODEMATCH= MAILSEND= test other builds.
cd "$(dirname "$0")/.." || exit 1
. tests/lib/servers.sh
need_root "Dovecot and Postfix switch users"
need_cmds dovecot
need_bins /usr/lib/postfix/sbin/master
need_cmds curl jq python3 timeout
MF=${MAILFETCH:-bin/mailfetch} MP=${MAILPARSE:-bin/mailparse} AX=${ARTIFACTX:-bin/artifactx}
CM=${CODEMATCH:-bin/codematch} MS=${MAILSEND:-bin/mailsend} L=tests/lib
need_bins $MF $MP $AX $CM $MS
servers_up MT_POSTFIX=1
S=$W/spool			# one spool for every tool
CF=$W/config
PLOG=$MT_LOG_DIR/postfix.log
export MAILCASE_CONFIG=$CF


# The SOC mailbox, bob, for both tools: one account with both servers.
cat > "$CF" <<EOF
account soc
imap_url imap://localhost:$MT_IMAP_PORT
smtp_url smtp://localhost:$MT_SUBM_PORT
tls_ca_file $MT_CACERT
user bob
password bobpw
from SOC <bob@example.test>
service_mail bob@example.test
timeout 10
EOF
chmod 600 "$CF"

# submit FILE: alice sends FILE to bob through Postfix's submission port
# (STARTTLS, AUTH as alice), as her mail client would.
submit() { timeout 20 curl -sS --ssl-reqd --cacert "$MT_CACERT" "smtp://localhost:$MT_SUBM_PORT" \
	-u alice:alicepw --mail-from alice@example.test --mail-rcpt bob@example.test -T "$1"; }
# maildir_find USER MSGID: the file in USER's Maildir with that Message-ID
maildir_find() { grep -l -i -s -F -x "Message-ID: <$2>" "$MT_MAILDIR_ROOT/$1/Maildir/new/"* \
	"$MT_MAILDIR_ROOT/$1/Maildir/cur/"* | head -n1; }
# wait_mail USER MSGID: wait (10 s at most) until Postfix has delivered it; its path
wait_mail() { local i f; for i in $(seq 200); do f=$(maildir_find "$1" "$2"); [ -n "$f" ] && { echo "$f"; return 0; }
	sleep 0.05; done; echo "no <$2> in $1's Maildir after 10 s" >&2; return 1; }
nmail() { ls "$MT_MAILDIR_ROOT/$1/Maildir/new" "$MT_MAILDIR_ROOT/$1/Maildir/cur" 2>/dev/null | grep -c '^[0-9]'; }
# ingest NAME: one round of the pipeline, records to $W/NAME.jsonl, exits in $prc
ingest() { timeout 30 $MF -d "$S" -a soc 2> "$W/$1.err" | $MP -d "$S" 2>> "$W/$1.err" |
	$AX 2>> "$W/$1.err" | $CM -d "$S" > "$W/$1.jsonl" 2>> "$W/$1.err"; prc=${PIPESTATUS[*]}; }
# msend NAME ARGS...: mailsend, stdout $W/NAME.out, stderr $W/NAME.err, exit in $rc
msend() { local o=$1; shift; timeout 30 $MS -d "$S" -a soc "$@" > "$W/$o.out" 2> "$W/$o.err"; rc=$?; }
# mailjson FILE: the delivered message as Python's email parser reads it
mailjson() { python3 - "$1" <<'EOF'
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
o = {k: (str(m[k]) if m[k] is not None else None) for k in
     ("subject", "from", "to", "cc", "bcc", "reply-to", "message-id", "in-reply-to", "references")}
o["type"] = m.get_content_type()
o["parts"] = [p.get_content_type() for p in m.walk() if not p.is_multipart()]
for k, sub in (("text", "plain"), ("html", "html")):
    b = m.get_body((sub,))
    o[k] = b.get_content() if b is not None else None
print(json.dumps(o))
EOF
}
# macok MSGID CODE: MSGID is mc.CODE.NONCE.MAC@example.test, MAC the first
# 16 bytes of HMAC-SHA-512 (crypto_auth's HMAC-SHA-512-256 is its first 32)
# over "mc.CODE.NONCE" under the spool's keys/msgid (common/msgid.h)
macok() { python3 - "$S/keys/msgid" "$1" "$2" <<'EOF'
import hashlib, hmac, re, sys
key = open(sys.argv[1], "rb").read()
m = re.fullmatch(r"(mc\.([0-9]+)\.[0-9a-f]{16})\.([0-9a-f]{32})@example\.test", sys.argv[2])
if not m or m.group(2) != sys.argv[3]:
    sys.exit("not of the form mc.%s.<16 hex>.<32 hex>@example.test: %s" % (sys.argv[3], sys.argv[2]))
want = hmac.new(key, m.group(1).encode(), hashlib.sha512).hexdigest()[:32]
if not hmac.compare_digest(want, m.group(3)):
    sys.exit("MAC %s, HMAC over the key gives %s" % (m.group(3), want))
EOF
}
# view ARGS...: codematch --thread ARGS, one "direction|subject" line per
# entry, in the order shown (the header block of each entry)
view() { $CM -d "$S" --thread "$@" | awk '
	BEGIN { hdr = 1 }
	/^-+$/ && length($0) == 72 { print dir "|" subj; dir = subj = ""; hdr = 1; next }
	hdr && /^$/ { hdr = 0 }
	hdr && /^Subject: / { subj = substr($0, 10) }
	hdr && /^Direction: / { dir = substr($0, 12) }'; }
outbox() { find "$S/outbox" -type f 2>/dev/null | sort; }
eml() {	# eml FILE HEADER...: a message from alice to bob, CRLF, the body on stdin
	local f=$1; shift
	{ printf 'From: Alice Reporter <alice@example.test>\nTo: SOC <bob@example.test>\n'
	  printf '%s\n' "$@"
	  printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n'
	  cat; } | sed 's/$/\r/' > "$f"
}

# --- 1. the report reaches the SOC mailbox ----------------------------------
URL='https://login.evil-phish.example/verify?u=alice'
SUBJ='Re: RE: Suspicious invoice mail'	# XSOAR takes off one Re: and one RE:
BASE='Suspicious invoice mail'
RMID=report-1.$$@alice.example.test
eml "$W/report.eml" "Subject: $SUBJ" "Message-ID: <$RMID>" 'Date: Mon, 01 Dec 2025 10:00:00 +0000' <<EOF
Hello SOC,

I got this mail asking me to log in at $URL
Is it real?

Alice
EOF
submit "$W/report.eml" > "$W/sub.err" 2>&1; src=$?
ok "1. alice's report goes to bob through Postfix (submission, STARTTLS, AUTH as alice) and lands in bob's Maildir" \
	sh_ '[ $1 = 0 ] || { say "curl exit $1"; cat "$W/sub.err"; exit 1; }; wait_mail bob "$2" > /dev/null' $src "$RMID"

# --- 2. the pipeline makes a case of it -------------------------------------
ingest r1
CODE=$(jq -r '.case.code // empty' "$W/r1.jsonl" 2>/dev/null | head -n1)
ok "2. mailfetch -a soc | mailparse | artifactx | codematch: exits 0, one record, the report, case created, code $CODE" sh_ '
	[ "$prc" = "0 0 0 0" ] || { say "exits $prc"; cat "$W/r1.err"; exit 1; }
	jq -e -s --arg m "$1" "length == 1 and .[0].kind == \"message\" and .[0].message_id == \$m and
		.[0].case.action == \"created\" and .[0].case.link == null and .[0].case.thread == 0" "$W/r1.jsonl" &&
	[[ $2 =~ ^[0-9]{8}$ ]] || { say "code $2"; jq -c .case "$W/r1.jsonl"; exit 1; }' "$RMID" "$CODE"
ok "... artifactx found the URL in it" \
	jq -e --arg u "$URL" '[.artifacts[] | select(.type == "url") | .value] | index($u) != null' "$W/r1.jsonl"
[[ $CODE =~ ^[0-9]{8}$ ]] || CODE=00000000	# the rest then fails, visibly

# --- 3. mailsend --reply CODE ----------------------------------------------
cat > "$W/answer.md" <<'EOF'
Hello Alice,

thank you for the report. What we found:

| indicator | verdict |
| --- | --- |
| login.evil-phish.example | malicious |

Please delete the mail.  
Do not click the link.

The SOC
EOF
nbob=$(nmail bob)
msend s1 --reply "$CODE" --body-file "$W/answer.md"
SMID=$(jq -r '.message_id // empty' "$W/s1.out" 2>/dev/null | head -n1)
ok "3. mailsend -a soc --reply $CODE --body-file answer.md: exit 0, one sent record, alice accepted, nothing refused or queued" sh_ '
	[ $rc = 0 ] || { say "exit $rc"; cat "$W/s1.err" "$W/s1.out"; exit 1; }
	jq -e -s --arg c "$1" "length == 1 and .[0].kind == \"sent\" and .[0].accepted == [\"alice@example.test\"] and
		.[0].rejected == [] and .[0].queued == false and .[0].case == \$c and .[0].thread == 0" "$W/s1.out" ||
	{ cat "$W/s1.out"; exit 1; }' "$CODE"
AF=$(wait_mail alice "$SMID" 2> "$W/wait.err")
[ -n "$AF" ] && mailjson "$AF" > "$W/a1.json"
ok "... alice's Maildir receives it: Subject '<$CODE> $BASE', From SOC, To alice only" sh_ '
	[ -n "$1" ] || { cat "$W/wait.err"; exit 1; }
	jq -e --arg s "<$2> $3" ".subject == \$s and .from == \"SOC <bob@example.test>\" and
		.to == \"alice@example.test\" and .cc == null and .bcc == null" "$W/a1.json" ||
	{ jq "{subject, from, to, cc, bcc}" "$W/a1.json"; exit 1; }' "$AF" "$CODE" "$BASE"
ok "... our own mailbox is left out: bob's Maildir gets no copy" \
	sh_ 'sleep 0.2; [ "$(nmail bob)" = "$1" ] || { say "bob had $1 messages, has $(nmail bob)"; false; }' "$nbob"
ok "... In-Reply-To is the report's Message-ID, References hold it" sh_ '
	jq -e --arg m "<$1>" ".[\"in-reply-to\"] == \$m and (.references | split(\" \") | index(\$m) != null)" "$W/a1.json" ||
	{ jq "{\"in-reply-to\", references}" "$W/a1.json"; exit 1; }' "$RMID"
ok "... its Message-ID is mailsend's, mc.$CODE.<nonce>.<mac>@example.test, and the MAC is right" sh_ '
	[ "$(jq -r ".[\"message-id\"]" "$W/a1.json")" = "<$1>" ] || { say "delivered $(jq -r ".[\"message-id\"]" "$W/a1.json"), sent <$1>"; exit 1; }
	macok "$1" "$2"' "$SMID" "$CODE"
ok "... multipart/alternative: text/plain, then text/html with the table as a <table> and the hard line break as <br>" sh_ '
	jq -e ".type == \"multipart/alternative\" and .parts == [\"text/plain\", \"text/html\"] and
		(.html | test(\"<table>\") and test(\"<th>indicator</th>\") and test(\"<td>malicious</td>\") and
		 test(\"delete the mail\\\\.<br ?/?>\\\\s*Do not click\")) and
		(.text | test(\"thank you for the report\"))" "$W/a1.json" || { jq -r .html "$W/a1.json" | head -n 30; exit 1; }'
ok "... the report quoted below the answer, in the text ('> ' lines) and in the HTML" sh_ '
	jq -e --arg u "$1" "
		(.text | index(\"The SOC\")) as \$a | (.text | index(\"> I got this mail asking me to log in at \" + \$u)) as \$q |
		(.html | index(\"</table>\")) as \$ha | (.html | index(\"I got this mail asking me to log in at \" + \$u)) as \$hq |
		\$a != null and \$q != null and \$q > \$a and \$ha != null and \$hq != null and \$hq > \$ha" "$W/a1.json" ||
	{ jq -r .text "$W/a1.json"; exit 1; }' "$URL"
# The outbound thread entry, as XSOAR's SendEmailReply records it (notes
# xsoar-emailcomm.md 1.9): EmailBody is the analyst's Markdown as typed.
jq -c --arg m "$SMID" 'select(.MessageID == $m)' "$S/cases/$CODE/thread" > "$W/out1.json" 2> /dev/null
ok "... mailsend appended it to the case's thread 0: an outbound entry, our Message-ID, to alice" sh_ '
	jq -e -s --arg c "$1" "length == 1 and .[0].MessageDirection == \"outbound\" and
		.[0].EmailCommsThreadNumber == \"0\" and .[0].EmailCommsThreadId == \$c and .[0].EmailTo == \"alice@example.test\"" "$W/out1.json" ||
	{ cat "$W/out1.json"; exit 1; }' "$CODE"
ok "... its EmailBody is the answer as typed (XSOAR's outbound EmailBody): no CR, no quoted history" sh_ '
	jq -e --rawfile md "$W/answer.md" "(.EmailBody | sub(\"\\\\s+\$\"; \"\")) == (\$md | sub(\"\\\\s+\$\"; \"\"))" "$W/out1.json" ||
	{ jq .EmailBody "$W/out1.json"; exit 1; }'
# A second answer, composed only: the history quotes each message once.
msend s1b --reply "$CODE" --body 'A second answer.' --dry-run
ok "... a second --reply (--dry-run) quotes the report once, in text and HTML, and has no bare CR" sh_ '
	[ $rc = 0 ] || { say "exit $rc"; cat "$W/s1b.err"; exit 1; }
	mailjson "$W/s1b.out" > "$W/s1b.json" || exit 1
	q=$(jq -c "[.text, .html] | map(split(\"I got this mail asking me\") | length - 1)" "$W/s1b.json")
	cr=$(grep -c $'"'"'\r\r'"'"' "$W/s1b.out")
	[ "$q" = "[1,1]" ] && [ "$cr" = 0 ] || { say "the report quoted (text, html) $q times; $cr lines end CR CR LF:"
		grep -n -B1 -A1 -m2 $'"'"'\r\r'"'"' "$W/s1b.out" | cut -c1-70 | cat -A; exit 1; }'

# linked DESC RUN LINK MID: delivered ($src), ingested as RUN with every
# exit 0, and RUN's one record is MID linked to $CODE's thread 0 by LINK,
# verified.
linked() {
	ok "$1" sh_ '
	[ $1 = 0 ] || { say "not delivered"; cat "$W/sub.err"; exit 1; }
	[ "$prc" = "0 0 0 0" ] || { say "exits $prc"; cat "$W/$4.err"; exit 1; }
	jq -e -s --arg c "$2" --arg m "$3" --arg l "$5" "length == 1 and .[0].message_id == \$m and
		.[0].case.code == \$c and .[0].case.action == \"linked\" and .[0].case.link == \$l and
		.[0].case.thread == 0 and .[0].case.verified == true" "$W/$4.jsonl" ||
		{ jq -c "{message_id, case}" "$W/$4.jsonl"; exit 1; }' $src "$CODE" "$4" "$2" "$3"
}

# --- 4. alice answers -------------------------------------------------------
# Without the code in the subject, In-Reply-To our Message-ID, References
# as a mail client makes them (the report's id too: In-Reply-To must win).
R1=reply-1.$$@alice.example.test
eml "$W/reply1.eml" 'Subject: Re: something else' "Message-ID: <$R1>" "In-Reply-To: <$SMID>" \
	"References: <$RMID> <$SMID>" 'Date: Mon, 01 Dec 2025 11:00:00 +0000' <<'EOF'
Deleted it, thanks.
EOF
submit "$W/reply1.eml" > "$W/sub.err" 2>&1 && wait_mail bob "$R1" > /dev/null 2>> "$W/sub.err"; src=$?
ingest r2
linked "4. alice's reply 'Re: something else', In-Reply-To our mail: fetched and linked to $CODE by in-reply-to, verified" \
    r2 in-reply-to "$R1"
R2=reply-2.$$@alice.example.test
eml "$W/reply2.eml" "Subject: Re: <$CODE> $BASE" "Message-ID: <$R2>" 'Date: Mon, 01 Dec 2025 11:05:00 +0000' <<'EOF'
One more thing: a colleague got it too.
EOF
submit "$W/reply2.eml" > "$W/sub.err" 2>&1 && wait_mail bob "$R2" > /dev/null 2>> "$W/sub.err"; src=$?
ingest r3
linked "... her second reply, 'Re: <$CODE> $BASE' and no In-Reply-To: linked by subject-code, verified" \
    r3 subject-code "$R2"
# An id of our form whose MAC is wrong proves nothing: no link, a new case.
RF=forged.$$@alice.example.test
eml "$W/forged.eml" 'Subject: Re: unrelated question' "Message-ID: <$RF>" \
	"In-Reply-To: <mc.$CODE.0123456789abcdef.00000000000000000000000000000000@example.test>" \
	'Date: Mon, 01 Dec 2025 11:10:00 +0000' <<'EOF'
Is this linked?
EOF
submit "$W/forged.eml" > "$W/sub.err" 2>&1 && wait_mail bob "$RF" > /dev/null 2>> "$W/sub.err"; src=$?
ingest r4
ok "... a reply In-Reply-To mc.$CODE.<nonce>.<wrong MAC>: not linked to $CODE, a case of its own" sh_ '
	[ $1 = 0 ] && [ "$prc" = "0 0 0 0" ] || { say "delivered $1, exits $prc"; cat "$W/sub.err" "$W/r4.err"; exit 1; }
	jq -e -s --arg c "$2" "length == 1 and .[0].case.action == \"created\" and .[0].case.code != \$c" "$W/r4.jsonl" ||
	{ jq -c .case "$W/r4.jsonl"; exit 1; }' $src "$CODE"

# --- 5. the thread ------------------------------------------------------------
view "$CODE" > "$W/view1" 2> "$W/view1.err"
printf '%s\n' "inbound|Re: <$CODE> $BASE" 'inbound|Re: something else' "outbound|<$CODE> $BASE" "inbound|$SUBJ" > "$W/view1.want"
ok "5. codematch --thread $CODE: the 4 messages newest first (alice's 2 replies, our reply as outbound, the report)" sh_ '
	diff "$W/view1.want" "$W/view1" || { cat "$W/view1.err"; exit 1; }'
ok "... the thread log holds them in that order, inbound and outbound, with their real Message-IDs" sh_ '
	[ "$(jq -r "\"\(.MessageDirection) \(.MessageID)\"" "$S/cases/$2/thread" | tr "\n" " ")" = "inbound $1 outbound $3 inbound $4 inbound $5 " ] ||
	{ jq -c "{MessageDirection, MessageID, link}" "$S/cases/$2/thread"; exit 1; }' "$RMID" "$CODE" "$SMID" "$R1" "$R2"
$CM -d "$S" --summary "$CODE" > "$W/sum1" 2>&1; src=$?
ok "... codematch --summary $CODE: XSOAR's Email Thread List, one row, thread 0" sh_ '
	[ $1 = 0 ] && grep -q "^|Thread Number|Subject|Recipients|CC|BCC|$" "$W/sum1" &&
	[ "$(grep -c "^| [0-9]" "$W/sum1")" = 1 ] && grep -q "^| 0 | .*'"$BASE"'.* | .*alice@example.test" "$W/sum1" ||
	{ say "exit $1"; cat "$W/sum1"; exit 1; }' $src

# --- 6. a new thread under the case -------------------------------------------
msend s2 --new-thread "$CODE" --to alice@example.test --subject 'More questions' --body 'x'
NMID=$(jq -r '.message_id // empty' "$W/s2.out" 2>/dev/null | head -n1)
ok "6. mailsend --new-thread $CODE --to alice --subject 'More questions' --body x: exit 0, sent, case $CODE thread 1" sh_ '
	[ $rc = 0 ] || { say "exit $rc"; cat "$W/s2.err" "$W/s2.out"; exit 1; }
	jq -e -s --arg c "$1" "length == 1 and .[0].kind == \"sent\" and .[0].accepted == [\"alice@example.test\"] and
		.[0].rejected == [] and .[0].case == \$c and .[0].thread == 1" "$W/s2.out" || { cat "$W/s2.out"; exit 1; }' "$CODE"
AF2=$(wait_mail alice "$NMID" 2> "$W/wait.err")
[ -n "$AF2" ] && mailjson "$AF2" > "$W/a2.json"
NC=$(jq -r '.subject // empty' "$W/a2.json" 2>/dev/null | sed -n 's/^<\([0-9]*\)> More questions$/\1/p')
ok "... alice receives '<$NC> More questions': a new 8-digit thread code, its own MAC'd Message-ID" sh_ '
	[ -n "$1" ] || { cat "$W/wait.err"; exit 1; }
	[[ $2 =~ ^[0-9]{8}$ ]] && [ "$2" != "$3" ] || { say "subject: $(jq -r .subject "$W/a2.json")"; exit 1; }
	jq -e ".to == \"alice@example.test\" and .[\"in-reply-to\"] == null" "$W/a2.json" || { jq "{to, \"in-reply-to\"}" "$W/a2.json"; exit 1; }
	macok "$4" "$2"' "$AF2" "$NC" "$CODE" "$NMID"
$CM -d "$S" --summary "$CODE" --json > "$W/sum2" 2>&1; src=$?
ok "... codematch --summary $CODE shows thread 1, 'More questions', beside thread 0" sh_ '
	[ $1 = 0 ] && jq -e --arg c "$2" ".code == \$c and [.threads[][\"Thread Number\"]] == [0, 1] and
		.threads[1].Subject == \"More questions\" and (.threads[1].Recipients | test(\"alice@example.test\"))" "$W/sum2" ||
	{ say "exit $1"; cat "$W/sum2"; exit 1; }' $src "$CODE"
R3=reply-3.$$@alice.example.test
eml "$W/reply3.eml" "Subject: Re: <$NC> More questions" "Message-ID: <$R3>" "In-Reply-To: <$NMID>" \
	"References: <$NMID>" 'Date: Mon, 01 Dec 2025 12:00:00 +0000' <<'EOF'
Answers: none.
EOF
submit "$W/reply3.eml" > "$W/sub.err" 2>&1 && wait_mail bob "$R3" > /dev/null 2>> "$W/sub.err"; src=$?
ingest r5
ok "... alice's reply 'Re: <$NC> More questions': linked to case $CODE, thread 1 ($NC)" sh_ '
	[ $1 = 0 ] && [ "$prc" = "0 0 0 0" ] || { say "delivered $1, exits $prc"; cat "$W/sub.err" "$W/r5.err"; exit 1; }
	jq -e -s --arg c "$2" --arg t "$3" "length == 1 and .[0].case.code == \$c and .[0].case.action == \"linked\" and
		.[0].case.thread == 1 and .[0].case.thread_code == \$t and .[0].case.link == \"subject-code\" and
		.[0].case.verified == true" "$W/r5.jsonl" || { jq -c .case "$W/r5.jsonl"; exit 1; }' $src "$CODE" "$NC"
R4=reply-4.$$@alice.example.test
eml "$W/reply4.eml" 'Subject: Re: my answers' "Message-ID: <$R4>" "In-Reply-To: <$NMID>" \
	'Date: Mon, 01 Dec 2025 12:05:00 +0000' <<'EOF'
And one I forgot.
EOF
submit "$W/reply4.eml" > "$W/sub.err" 2>&1 && wait_mail bob "$R4" > /dev/null 2>> "$W/sub.err"; src=$?
ingest r6
ok "... and one without the code, In-Reply-To the new thread's mail: case $CODE, thread 1, by in-reply-to" sh_ '
	[ $1 = 0 ] && [ "$prc" = "0 0 0 0" ] || { say "delivered $1, exits $prc"; cat "$W/sub.err" "$W/r6.err"; exit 1; }
	jq -e -s --arg c "$2" --arg t "$3" "length == 1 and .[0].case.code == \$c and .[0].case.action == \"linked\" and
		.[0].case.thread == 1 and .[0].case.thread_code == \$t and .[0].case.link == \"in-reply-to\" and
		.[0].case.verified == true" "$W/r6.jsonl" || { jq -c .case "$W/r6.jsonl"; exit 1; }' $src "$CODE" "$NC"
view "$CODE" -t 1 > "$W/view2" 2> "$W/view2.err"
printf '%s\n' 'inbound|Re: my answers' "inbound|Re: <$NC> More questions" "outbound|<$NC> More questions" > "$W/view2.want"
ok "... codematch --thread $CODE -t 1: its 3 messages newest first" sh_ 'diff "$W/view2.want" "$W/view2" || { cat "$W/view2.err"; exit 1; }'
view "$CODE" > "$W/view3" 2> "$W/view3.err"
{ head -n 3 "$W/view2.want"; cat "$W/view1.want"; } > "$W/view3.want"
ok "... codematch --thread $CODE: all 7 of both threads newest first" sh_ 'diff "$W/view3.want" "$W/view3" || { cat "$W/view3.err"; exit 1; }'

# Refused: nothing sent, nothing queued, no thread made.
nal=$(nmail alice); outbox > "$W/ob.before"
msend s3 --new-thread "$CODE" --to alice@example.test --body 'x'
ok "... --new-thread without --subject: exit 64, XSOAR's text naming 'New Email Subject', no record, nothing queued" sh_ '
	[ $rc = 64 ] && [ ! -s "$W/s3.out" ] || { say "exit $rc"; cat "$W/s3.out" "$W/s3.err"; exit 1; }
	grep -qF "The following required fields have not been set. Please set them and try again. ['"'"'New Email Subject'"'"']" "$W/s3.err" ||
	{ cat "$W/s3.err"; exit 1; }
	outbox | diff "$W/ob.before" - || { say "the outbox changed"; exit 1; }
	[ "$($CM -d "$S" --summary "$1" --json | jq ".threads | length")" = 2 ] || { say "a thread was made"; exit 1; }' "$CODE"

# --- 7. a reply into a code no case has -------------------------------------------
UNK=4242424242	# 10 digits: a valid code, never one of ours (8 digits)
msend s4 --reply $UNK --body 'x'
ok "7. mailsend --reply $UNK (no such case): exit 65, saying so, no record, nothing queued" sh_ '
	[ $rc = 65 ] && [ ! -s "$W/s4.out" ] && grep -q "$1" "$W/s4.err" || { say "exit $rc"; cat "$W/s4.out" "$W/s4.err"; exit 1; }
	outbox | diff "$W/ob.before" - || { say "the outbox changed"; exit 1; }' $UNK

# --- what went over the wire, in all ------------------------------------------
ok "in all: mailsend logged in to Postfix twice (the reply, the new thread), the refusals never" sh_ '
	for i in $(seq 100); do [ "$(grep -c "sasl_username=bob\$" "$PLOG")" -ge 2 ] && break; sleep 0.05; done
	[ "$(grep -c "sasl_username=bob\$" "$PLOG")" = 2 ] || { grep "sasl_username=bob" "$PLOG"; exit 1; }'
ok "... alice got exactly those 2, bob exactly alice's 6; the outbox holds the 2 as sent, none waiting" sh_ '
	[ "$(nmail alice)" = 2 ] && [ "$1" = 2 ] && [ "$(nmail bob)" = 6 ] || { say "alice $(nmail alice) ($1 before the refusals), bob $(nmail bob)"; exit 1; }
	[ -z "$(ls -A "$S/outbox/new")" ] && [ "$(ls "$S/outbox/cur" | grep -vc "\.sent$")" = 2 ] || { outbox; exit 1; }' "$nal"

echo "1..$n"
