#!/bin/bash
# What mailsend --reply CODE composes, without a server: the case store
# is built with the real tools (mailparse | codematch), and --dry-run
# prints the message that would go.  The rules are XSOAR's SendEmailReply
# (shared/notes/xsoar-emailcomm.md 2.2, 2.3, 2.5, 2.7): the subject is
# "<code> " and the last subject less one "Re: " then one "RE: ", no
# second code; To is everyone of the thread less our own mailbox; Cc and
# Bcc the thread's and those given, Bcc never a header; In-Reply-To the
# last inbound Message-ID; the signature before </body>; the history
# quoted.  A dry run changes nothing in the case.
cd "$(dirname "$0")/.." || exit 1
MS=bin/mailsend MP=bin/mailparse CM=bin/codematch
for b in $MS $MP $CM; do [ -x $b ] || { echo "1..0 # SKIP $b not built"; exit 0; }; done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
pass() { n=$((n+1)); echo "ok $n - $1"; }
fail() { n=$((n+1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "$2" | head -8 | cut -c1-300 | sed 's/^/# /'; }
# is DESC GOT WANT
is() { [ "$2" = "$3" ] && pass "$1" || fail "$1" "got:  $(printf %q "$2")
want: $(printf %q "$3")"; }
S=$T/spool
export LC_ALL=C

printf '<p class="sig">SOC team</p>\n' > "$T/sig.html"
cat > "$T/config" <<EOF
account soc
	from SOC <soc@corp.example>
	service_mail soc@corp.example
	signature_file $T/sig.html
EOF
export MAILCASE_CONFIG=$T/config
unset MAILCASE_SPOOL

# ms NAME ARGS...: mailsend -d $S -a soc ARGS, stdout $T/NAME.out, stderr
# $T/NAME.err, exit in $rc.
ms() { local o=$1; shift
	timeout 10 $MS -d "$S" -a soc "$@" < /dev/null > "$T/$o.out" 2> "$T/$o.err"; rc=$?; }
# The header block of FILE, CRs off, folded lines joined.
hdrs() { sed -e 's/\r$//' -e '/^$/q' "$1" | sed '$!N;s/\n[ \t]\+/ /;P;D' | sed '/^$/d'; }
# The values of header NAME of FILE, one a line (any case of NAME).
hdr() { hdrs "$1" | grep -i "^$2:" | sed 's/^[^:]*: *//'; }
# The bare addresses of header NAME of FILE, lowercased, sorted, one a line.
addrs() { hdr "$1" "$2" | grep -oE '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+' | tr A-Z a-z | sort -u; }
# The composed message as mailparse reads it (its text and HTML parts decoded).
parsed() { $MP -d "$S" --no-store --quiet "$1"; }
# A digest of the case store: every file and link under cases/ and index/.
snap() { (cd "$S" && find cases index -type f -exec sha256sum {} + | sort
	find index -type l -printf '%p -> %l\n' | sort; find outbox -type f 2>/dev/null | sort); }
# ingest FILE: mailparse | codematch; the record in $T/rec
ingest() { $MP -d "$S" --quiet "$1" | $CM -d "$S" > "$T/rec" 2> "$T/ingest.err"; }
# CRLF everywhere: no line without a CR before its LF, no CR CR, no lone CR.
crlf_ok() { [ -s "$1" ] && [ "$(grep -c -v $'\r$' "$1")" = 0 ] &&
	! grep -q $'\r\r' "$1" && ! grep -q $'\r.' "$1"; }

# --- the case: dana writes to the SOC, erik in Cc --------------------------
cat > "$T/m1.eml" <<'EOF'
From: Dana <dana@corp.example>
To: soc@corp.example
Cc: Erik <erik@corp.example>
Subject: Re: RE: Suspicious login page
Message-ID: <r1@corp.example>
Date: Mon, 3 Jun 2024 10:00:00 +0000

I clicked the link in the mail.
The page said <b>Verify</b> & asked for my password.
EOF
ingest "$T/m1.eml"
C=$(jq -r .case.code "$T/rec")
if [ "$(jq -r .case.action "$T/rec")" = created ] && [[ $C =~ ^[0-9]{8}$ ]] && [ -s "$S/cases/$C/thread" ]; then
	pass "mailparse | codematch: a case created, code $C"
else
	fail "no case created" "$(cat "$T/rec" "$T/ingest.err")"
	echo "1..$n"; exit 1
fi
TH=$S/cases/$C/thread
# When codematch saw each message: the "On TIME, FROM wrote:" of the history.
mtime() { jq -r --arg id "$1" 'select(.MessageID == $id) | .MessageTime' "$TH"; }
MT1=$(mtime r1@corp.example)
BEFORE=$(snap)

# --- 1. the reply ---------------------------------------------------------
ms r1 --dry-run --reply "$C" --body $'Thanks.\n\n| a | b |\n|---|---|\n| 1 | 2 |' \
    --cc boss@corp.example --bcc audit@corp.example
[ $rc = 0 ] && [ -s "$T/r1.out" ] && [ ! -s "$T/r1.err" ] &&
    pass "--dry-run --reply $C: exit 0, a message on stdout, nothing on stderr" ||
    fail "--dry-run --reply: exit $rc" "$(cat "$T/r1.err")"
parsed "$T/r1.out" > "$T/r1.json"
is "Subject: one \"Re: \" then one \"RE: \" off, the code before it" \
    "$(hdr "$T/r1.out" Subject)" "<$C> Suspicious login page"
is "From: the account's from" "$(hdr "$T/r1.out" From)" "SOC <soc@corp.example>"
is "To: dana only (soc@corp.example, our own mailbox, is not answered)" \
    "$(addrs "$T/r1.out" To)" "dana@corp.example"
is "Cc: the thread's erik and the given boss" \
    "$(addrs "$T/r1.out" Cc)" "$(printf '%s\n' boss@corp.example erik@corp.example)"
if [ -z "$(hdr "$T/r1.out" Bcc)" ] && ! grep -q -i 'audit@' "$T/r1.out"; then
	pass "no Bcc header; audit@corp.example nowhere in the message"
else
	fail "the Bcc shows" "$(grep -n -i 'bcc\|audit@' "$T/r1.out")"
fi
is "Reply-To: service_mail" "$(hdr "$T/r1.out" Reply-To)" "soc@corp.example"
is "In-Reply-To: dana's Message-ID" "$(hdr "$T/r1.out" In-Reply-To)" "<r1@corp.example>"
refs=$(hdr "$T/r1.out" References)
[[ " $refs " == *" <r1@corp.example> "* ]] && pass "References hold it" || fail "References" "$refs"
mid=$(hdr "$T/r1.out" Message-Id)
[ "$(hdr "$T/r1.out" Message-Id | wc -l)" = 1 ] &&
    [[ $mid =~ ^\<mc\.$C\.[0-9a-f]{16}\.[0-9a-f]{32}@corp\.example\>$ ]] &&
    pass "Message-Id <mc.$C.NONCE.MAC@corp.example>" || fail "Message-Id" "$mid"
for h in Subject From To Cc Reply-To In-Reply-To References Message-Id; do
	[ "$(hdrs "$T/r1.out" | grep -c -i "^$h:")" = 1 ] || { fail "one $h header" "$(hdrs "$T/r1.out")"; h=x; break; }
done
[ "$h" != x ] && pass "each of those headers once"
ct=$(hdr "$T/r1.out" Content-Type)
[[ $ct == multipart/alternative* ]] && [ "$(jq -r '.attachments | length' "$T/r1.json")" = 0 ] &&
    pass "multipart/alternative, no attachment" || fail "structure" "$ct"

html=$(jq -r .html "$T/r1.json")
grep -q '<table' <<< "$html" && grep -q '<td>1</td>' <<< "$html" &&
    pass "the HTML part has the Markdown table as a <table>" || fail "no <table>" "$html"
# The signature once, and only white space between it and </body>.
tail=$(printf %s "$html" | tr '\n' ' ' | sed -n 's/.*<p class="sig">SOC team<\/p>[ \t\r]*\(<\/body>\).*/\1/p')
[ "$(grep -o 'SOC team' <<< "$html" | wc -l)" = 1 ] && [ "$tail" = "</body>" ] &&
    pass "the signature, once, right before </body>" || fail "signature placement" "$(tail -c 400 <<< "$html")"
q=$(printf %s "$html" | tr '\n' ' ')
[[ $q == *"<b>On $MT1, dana@corp.example wrote:</b>"*'SOC team'* ]] &&
    [[ $q == *'The page said &lt;b&gt;Verify&lt;/b&gt; &amp; asked'* ]] && [[ $q != *'<b>Verify</b>'* ]] &&
    pass "the HTML quotes dana's message, escaped, above the signature" || fail "HTML history" "$html"
text=$(jq -r .text "$T/r1.json")
want=$(printf '%s\n' 'Thanks.' '' '| a | b |' '|---|---|' '| 1 | 2 |' '' \
    "On $MT1, dana@corp.example wrote:" '> I clicked the link in the mail.' \
    '> The page said <b>Verify</b> & asked for my password.')
is "the text part: the answer, then \"On ..., dana@corp.example wrote:\" and her lines with \"> \"" \
    "$text" "$want"
crlf_ok "$T/r1.out" && pass "every line ends CRLF: no bare LF, no CR CR LF, no lone CR" ||
    fail "line ends" "$(grep -n -v $'\r$' "$T/r1.out" | head -3; grep -c $'\r\r' "$T/r1.out")"

ms r1t0 --dry-run --reply "$C" -t 0 --body 'Thanks.'
[ $rc = 0 ] && [ "$(hdr "$T/r1t0.out" Subject)" = "<$C> Suspicious login page" ] &&
    pass "-t 0 picks the thread too" || fail "-t 0: exit $rc" "$(cat "$T/r1t0.err")"

# --- 2. what is refused ---------------------------------------------------
# refused NAME DESC WANT-EXIT WANT-STDERR ARGS...
refused() { local o=$1 d=$2 x=$3 w=$4; shift 4
	ms "$o" "$@"
	if [ $rc = "$x" ] && [ ! -s "$T/$o.out" ] && grep -q -F -- "$w" "$T/$o.err"; then pass "$d"
	else fail "$d (exit $rc, $(wc -c < "$T/$o.out") bytes out)" "$(cat "$T/$o.err")"; fi
}
refused t7 "-t 7, no such thread: exit 65, XSOAR's words (two spaces), nothing on stdout" 65 \
    "The selected Thread Number to respond to (7) does not exist.  Please choose a valid Thread Number and re-try." \
    --dry-run --reply "$C" -t 7 --body x
U=99999999; [ "$U" = "$C" ] && U=99999998
refused unk "--reply $U, no such case: exit 65, nothing on stdout" 65 "$U" --dry-run --reply $U --body x
refused nobody "--reply without a body: exit 64, XSOAR's words" 64 \
    "The 'New Email Body' field has not been set. Please set it and try again" --dry-run --reply "$C"
refused nobody2 "... an empty body too" 64 "The 'New Email Body' field has not been set" \
    --dry-run --reply "$C" --body ''
refused nosubj "--new-thread without --subject: exit 64, XSOAR's words" 64 \
    "The following required fields have not been set. Please set them and try again. ['New Email Subject']" \
    --dry-run --new-thread "$C" --to x@corp.example --body b
refused inj "--cc with CRLF Bcc: in it: exit 65, nothing on stdout" 65 "line break" \
    --dry-run --reply "$C" --body x --cc $'boss@corp.example\r\nBcc: evil@x'
refused injh "--header with CRLF Bcc: in it: the same" 65 "line break" \
    --dry-run --reply "$C" --body x --header $'X-Note: a\r\nBcc: evil@x'

# --- 3. --header Subject with --reply: refused, the case makes its own ----
# (the thread entry must say what was sent, and a reply keeps its code)
refused hs "--header 'Subject: other' with --reply: exit 64, nothing on stdout" 64 \
    "makes its own" --dry-run --reply "$C" --body x --header 'Subject: other'
refused hto "--header 'To: x' with --reply: the same" 64 "makes its own" \
    --dry-run --reply "$C" --body x --header 'To: x@corp.example'

# --- 4. --new-thread, dry: a message, and no thread made --------------------
ms nt --dry-run --new-thread "$C" --to x@corp.example --subject 'New q' --body b
s=$(hdr "$T/nt.out" Subject)
[ $rc = 0 ] && [[ $s == "<"*"> New q" ]] && [ "$(addrs "$T/nt.out" To)" = x@corp.example ] &&
    [ "$(hdr "$T/nt.out" Reply-To)" = soc@corp.example ] &&
    pass "--dry-run --new-thread with --subject: exit 0, \"<code> New q\" to x, Reply-To service_mail" ||
    fail "--new-thread dry (exit $rc)" "$(hdrs "$T/nt.out"; cat "$T/nt.err")"
is "... and the case still has one thread (a dry run allocates no code)" \
    "$(jq -r '.threads | length' "$S/cases/$C/case")" 1

# --- 5. nothing written by any of these -------------------------------------
is "the case store (cases/, index/) and the outbox are as before the dry runs" "$(snap)" "$BEFORE"

# --- 6. erik answers into the thread; the next reply ------------------------
cat > "$T/m2.eml" <<EOF
From: Erik <erik@corp.example>
To: soc@corp.example
Cc: Dana <dana@corp.example>
Subject: Re: RE: <$C> Suspicious login page
Message-ID: <r2@corp.example>
In-Reply-To: <r1@corp.example>
References: <r1@corp.example>
Date: Mon, 3 Jun 2024 11:00:00 +0000

I got the same mail.
EOF
ingest "$T/m2.eml"
[ "$(jq -r '[.case.action, .case.code, .case.thread] | join(" ")' "$T/rec")" = "linked $C 0" ] &&
    pass "erik's mail (subject with <$C>) is linked to the case's thread 0" ||
    fail "erik's mail not linked" "$(jq -c .case "$T/rec"; cat "$T/ingest.err")"
MT2=$(mtime r2@corp.example)
BEFORE=$(snap)
ms r2 --dry-run --reply "$C" --body 'Thanks both.' --cc boss@corp.example
[ $rc = 0 ] && pass "--reply after erik's mail: exit 0" || fail "exit $rc" "$(cat "$T/r2.err")"
is "the last subject holds <$C: no second code" "$(hdr "$T/r2.out" Subject)" "<$C> Suspicious login page"
is "To: dana and erik, never soc@corp.example" "$(addrs "$T/r2.out" To)" \
    "$(printf '%s\n' dana@corp.example erik@corp.example)"
is "Cc: boss (dana and erik are in To, not twice)" "$(addrs "$T/r2.out" Cc)" boss@corp.example
is "In-Reply-To: the last inbound, erik's" "$(hdr "$T/r2.out" In-Reply-To)" "<r2@corp.example>"
is "References: its references, then it" "$(hdr "$T/r2.out" References)" "<r1@corp.example> <r2@corp.example>"
text=$(parsed "$T/r2.out" | jq -r .text)
want=$(printf '%s\n' 'Thanks both.' '' "On $MT1, dana@corp.example wrote:" \
    '> I clicked the link in the mail.' '> The page said <b>Verify</b> & asked for my password.' \
    '' "On $MT2, erik@corp.example wrote:" '> I got the same mail.')
is "the text quotes both messages, in order" "$text" "$want"
crlf_ok "$T/r2.out" && pass "... CRLF throughout" || fail "line ends"
is "... and the dry run wrote nothing" "$(snap)" "$BEFORE"

# --- 7. dana again, "RE: Re: ", to our mailbox in capitals ------------------
cat > "$T/m3.eml" <<EOF
From: Dana <dana@corp.example>
To: SOC <SOC@CORP.EXAMPLE>
Subject: RE: Re: <$C> Suspicious login page
Message-ID: <r3@corp.example>
In-Reply-To: <r2@corp.example>
References: <r1@corp.example> <r2@corp.example>
Date: Mon, 3 Jun 2024 12:00:00 +0000

Any news?
EOF
ingest "$T/m3.eml"
[ "$(jq -r '[.case.action, .case.code] | join(" ")' "$T/rec")" = "linked $C" ] &&
    pass "dana's second mail is linked" || fail "not linked" "$(jq -c .case "$T/rec"; cat "$T/ingest.err")"
BEFORE=$(snap)
ms r3 --dry-run --reply "$C" --body 'Soon.'
is "\"RE: Re: \": only the \"RE: \" comes off (XSOAR's exact rule), no second code" \
    "$(hdr "$T/r3.out" Subject)" "Re: <$C> Suspicious login page"
is "To: dana and erik; SOC@CORP.EXAMPLE dropped, compared without case" "$(addrs "$T/r3.out" To)" \
    "$(printf '%s\n' dana@corp.example erik@corp.example)"
is "In-Reply-To: r3" "$(hdr "$T/r3.out" In-Reply-To)" "<r3@corp.example>"
is "the dry runs wrote no outbound entry and nothing else" "$(snap)" "$BEFORE"
[ "$(jq -s 'map(select(.MessageDirection == "outbound")) | length' "$TH")" = 0 ] &&
    pass "the thread holds inbound entries only" || fail "outbound entries in the thread"

echo "1..$n"
