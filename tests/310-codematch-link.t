#!/bin/bash
# codematch linking: XSOAR's subject-code rule and its edge cases (notes
# §1.1-1.5), the window, reopening, --no-create, In-Reply-To and
# References, MAC'd Message-IDs, unverified senders, duplicates, threads,
# the views, bad input.
cd "$(dirname "$0")/.." || exit 1
CM=${CODEMATCH:-bin/codematch}
[ -x "${CM%% *}" ] || { echo "1..0 # SKIP bin/codematch not built"; exit 0; }
# shellcheck source=tests/lib/codematch-env.sh
. tests/lib/codematch-env.sh
S=$T/spool

# mk SEED SUBJECT FROM TO [EXTRA-JSON]: a message record.
mk() {
	jq -nc --arg id "$(printf %s "$1" | sha256sum | cut -c1-64)" \
	    --arg seed "$1" --arg s "$2" --arg f "$3" --arg t "$4" \
	    --argjson x "${5:-{\}}" \
	    '{v:1,kind:"message",id:$id,message_id:($seed+"@mail.example"),
	      subject:$s,from:[{name:"",addr:$f}],to:[{name:"",addr:$t}],
	      cc:[],text:"body of \($seed)",html:null,attachments:[]} + $x'
}
cm() { $CM -d "$S" "$@"; }
# link SEED SUBJECT [FROM] [EXTRA]: run one record, print action code link
link() {
	mk "$1" "$2" "${3:-alice@corp.example}" soc@corp.example "${4:-{\}}" |
	    cm "${CMOPTS[@]}" | jq -r '[.case.action, .case.code // "-",
	    .case.link // "-", .case.thread // "-",
	    (if .case.verified == null then "-" else .case.verified end)] |
	    map(tostring) | join(" ")'
}
CMOPTS=()

r=$(link a1 "Suspicious login page"); C=$(cut -d' ' -f2 <<< "$r")
ok "an untagged mail creates a case" '[ "${r%% *}" = created ]'
ok "its code has 8 digits" '[[ $C =~ ^[0-9]{8}$ ]]'
ok "the case is on disk, its code in the index" \
    '[ -f "$S/cases/$C/case" ] && [ "$(readlink "$S/index/code/$C")" = "$C" ]'

for subj in "Re: <$C> Suspicious login page" "Fwd: RE: [EXT] <$C> Suspicious login page" \
    "<$C> Suspicious login page" "<$C> login" "Re: <$C>" "<$C> login > trailing words" \
    "<$C> junk <999> login"; do
	k=$((k+1))
	r=$(link "s$k" "$subj")
	ok "'$subj' links" '[ "$r" = "linked $C subject-code 0 true" ]'
done
r=$(link s20 "<$C> Something else entirely")
ok "an edited subject does not link (code AND subject, as XSOAR)" '[ "${r%% *}" = created ]'
CMOPTS=(--no-match-subject)
r=$(link s21 "<$C> Something else entirely")
ok "--no-match-subject links on the code alone" '[ "$r" = "linked $C subject-code 0 true" ]'
CMOPTS=()
r=$(link s22 "a < b <$C> Suspicious login page")
ok "a stray '<' before the code breaks it, as in XSOAR: a new case" '[ "${r%% *}" = created ]'
r=$(link s23 "<$C Suspicious login page")
ok "no closing '>': no code, a new case" '[ "${r%% *}" = created ]'
r=$(link s24 "<bob@corp.example> Suspicious login page")
ok "a code that is not digits is no code" '[ "${r%% *}" = created ]'
r=$(link s25 "<00000000> Suspicious login page")
ok "an unknown code: a new case" '[ "${r%% *}" = created ]'
r=$(mk s26 x alice@corp.example soc@corp.example '{"subject":null}' | cm | jq -r .case.action)
ok "a null subject (XSOAR crashes): a new case" '[ "$r" = created ]'

# Unverified: a stranger who guessed the code.
r=$(link s30 "Re: <$C> Suspicious login page" mallory@evil.example 2> "$T/err")
ok "a code link from a sender on none of the threads is unverified" \
    '[ "$r" = "linked $C subject-code 0 false" ]'
ok "and says so on stderr" 'grep -q "mallory@evil.example is on none" "$T/err"'
ok "and does not become one of the case's people" \
    '[ "$(jq -r ".participants | index(\"mallory@evil.example\")" "$S/cases/$C/case")" = null ]'
r=$(link s31 "Re: <$C> Suspicious login page" Alice@Corp.Example)
ok "the reporter is verified (addresses compared without case)" \
    '[ "$r" = "linked $C subject-code 0 true" ]'

# Duplicates.
mk s32 "Re: <$C> Suspicious login page" alice@corp.example soc@corp.example > "$T/dup"
cm < "$T/dup" > /dev/null
before=$(wc -l < "$S/cases/$C/thread")
r=$(cm < "$T/dup" | jq -r '.case.action + " " + .case.code')
ok "the same message again is a duplicate" '[ "$r" = "duplicate $C" ]'
ok "with no second thread entry" '[ "$(wc -l < "$S/cases/$C/thread")" = "$before" ]'
r=$(jq -c '.id = ("f" * 64)' "$T/dup" | cm | jq -r .case.action)
ok "the same Message-ID in other bytes (another copy) is a duplicate" '[ "$r" = duplicate ]'
r=$(jq -c '.message_id = null | .id = ("e" * 64)' "$T/dup" | cm | jq -r .case.action)
r2=$(jq -c '.message_id = null | .id = ("e" * 64)' "$T/dup" | cm | jq -r .case.action)
ok "mail without a Message-ID: deduplicated by its bytes" '[ "$r $r2" = "linked duplicate" ]'

# Close, reopen.
cm --close "$C" > /dev/null
ok "--close closes" '[ "$(jq -r .status "$S/cases/$C/case")" = closed ]'
ok "--list --closed shows it" 'cm --list --closed | grep -q "^$C  closed"'
r=$(link s40 "Re: <$C> Suspicious login page")
ok "a reply to a closed case reopens it" '[ "$r" = "reopened $C subject-code 0 true" ]'
ok "and the case is open again" '[ "$(jq -r .status "$S/cases/$C/case")" = open ]'
cm --close "$C" > /dev/null; cm --reopen "$C" > /dev/null
ok "--reopen reopens" '[ "$(jq -r .status "$S/cases/$C/case")" = open ]'

# The days_to_query window: a case last changed 90 days ago.
r=$(link w1 "Old matter"); OLD=$(cut -d' ' -f2 <<< "$r")
old=$(date -u -d '90 days ago' +%Y-%m-%dT%H:%M:%SZ)
jq -c --arg t "$old" '.updated = $t' "$S/cases/$OLD/case" > "$T/c" && cp "$T/c" "$S/cases/$OLD/case"
touch -d '90 days ago' "$S/cases/$OLD/thread"
r=$(link w2 "Re: <$OLD> Old matter")
ok "a case changed 90 days ago is outside the default 60-day window" '[ "${r%% *}" = created ]'
CMOPTS=(--days 100)
r=$(link w3 "Re: <$OLD> Old matter")
ok "--days 100 takes it in" '[ "$r" = "linked $OLD subject-code 0 true" ]'
touch -d '90 days ago' "$S/cases/$OLD/thread"
CMOPTS=()
printf 'defaults\ndays_to_query 100\n' > "$MAILCASE_CONFIG"
r=$(link w4 "Re: <$OLD> Old matter")
ok "so does days_to_query in the config" '[ "$r" = "linked $OLD subject-code 0 true" ]'
: > "$MAILCASE_CONFIG"

# --no-create, and create_untagged off.
CMOPTS=(--no-create)
r=$(link n1 "Nothing to do with anything")
ok "--no-create: untagged mail is ignored" '[ "$r" = "ignored - - - -" ]'
r=$(link n2 "<00000000> unknown code")
ok "--no-create: an unknown code is ignored too (as XSOAR)" '[ "${r%% *}" = ignored ]'
r=$(link n3 "Re: <$C> Suspicious login page")
ok "--no-create: a known code still links" '[ "${r%% *}" = linked ]'
CMOPTS=()
printf 'defaults\ncreate_untagged off\n' > "$MAILCASE_CONFIG"
r=$(link n4 "Still nothing")
ok "create_untagged off in the config ignores too" '[ "${r%% *}" = ignored ]'
: > "$MAILCASE_CONFIG"
ok "an ignored mail leaves no case behind" '! grep -rqs "Nothing to do with" "$S/cases"'

# In-Reply-To and References, without a code.
r=$(link i1 "Completely new subject" alice@corp.example '{"in_reply_to":"a1@mail.example"}')
ok "In-Reply-To naming mail of a case links to it" '[ "$r" = "linked $C in-reply-to 0 true" ]'
r=$(link i2 "Another subject" alice@corp.example \
    '{"references":["zzz@nowhere.example","s31@mail.example","yyy@nowhere.example"]}')
ok "so does References" '[ "$r" = "linked $C references 0 true" ]'
r=$(link i3 "Another subject" mallory@evil.example '{"in_reply_to":"a1@mail.example"}' 2>/dev/null)
ok "an In-Reply-To link from a stranger is unverified" '[ "$r" = "linked $C in-reply-to 0 false" ]'
MID=$(build/tests/common mkmsgid "$S" "$C")
r=$(link i4 "Out of office" mallory@evil.example "{\"in_reply_to\":\"$MID\"}")
ok "a reply to a Message-ID we made (MAC) links, verified, index or not" \
    '[ "$r" = "linked $C in-reply-to 0 true" ]'
FORGED=$(printf %s "$MID" | sed 's/\.[0-9a-f]\{32\}@/.0123456789abcdef0123456789abcdef@/')
r=$(link i5 "Out of office" mallory@evil.example "{\"in_reply_to\":\"$FORGED\"}")
ok "a forged one does not" '[ "${r%% *}" = created ]'

# Several threads; XSOAR's 16-digit codes.
T1=$(cm --new-thread "$C" --subject "Ask the user's manager" | cut -d' ' -f1)
ok "--new-thread gives a new 8-digit code under the case" \
    '[[ $T1 =~ ^[0-9]{8}$ ]] && [ "$(readlink "$S/index/code/$T1")" = "$C" ]'
r=$(link t1 "Re: <$T1> Ask the user's manager" boss@corp.example 2>/dev/null)
ok "mail with the thread's code links to thread 1" '[ "$r" = "linked $C subject-code 1 false" ]'
X=1231708596000000
cm --new-thread "$C" --code $X --subject "Imported from XSOAR" > /dev/null
r=$(link t2 "RE: <$X> Imported from XSOAR")
ok "a 16-digit XSOAR code links too" '[ "$r" = "linked $C subject-code 2 true" ]'
ok "a code is never taken twice" '! cm --new-thread "$C" --code $X 2>/dev/null'

# Thread entries keep XSOAR's fields and the real headers.
e=$(grep '"t2@mail.example"' "$S/cases/$C/thread")
ok "an entry has XSOAR's fields" '[ "$(jq -r "[.EmailCommsThreadId, .EmailCommsThreadNumber, .MessageDirection, .EmailFrom, .EmailTo, .EmailAttachments] | join(\"|\")" <<< "$e")" = "$X|2|inbound|alice@corp.example|soc@corp.example|['"'"'None'"'"']" ]'
ok "MessageTime in XSOAR's format" '[[ $(jq -r .MessageTime <<< "$e") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}UTC$ ]]'
ok "and the message id, Message-ID, key" \
    '[ "$(jq -r "[.MessageID, (.id|length), (.key|length)] | join(\" \")" <<< "$e")" = "t2@mail.example 64 64" ]'
r=$(link q1 "Re: <$C> Suspicious login page" alice@corp.example \
    '{"html":"<html><body><p>New words</p><div class=\"gmail_quote\">On Mon, x wrote: old words</div></body></html>"}')
ok "quoted history is cut from the stored HTML at Gmail's marker" \
    '[ "$(grep "\"q1@mail.example\"" "$S/cases/$C/thread" | jq -r .EmailHTML)" = "<html><body><p>New words</p></body></html>" ]'
r=$(link q2 "Re: <$C> Suspicious login page" alice@corp.example \
    '{"html":"<p>Mine</p><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\">From: x</div>"}')
ok "and at Outlook's" \
    '[ "$(grep "\"q2@mail.example\"" "$S/cases/$C/thread" | jq -r .EmailHTML)" = "<p>Mine</p></body></html>" ]'

# Views.
cm --summary "$C" > "$T/sum"
ok "--summary: XSOAR's Email Thread List" \
    '[ "$(sed -n 1,2p "$T/sum")" = "### Email Thread List
|Thread Number|Subject|Recipients|CC|BCC|" ]'
ok "one row per thread, subject after the code" \
    '[ "$(grep -c "^| [0-9]" "$T/sum")" = 3 ] && grep -q "^| 2 | Imported from XSOAR | soc@corp.example |  |  |$" "$T/sum"'
ok "--summary --json" '[ "$(cm --summary "$C" --json | jq -c "[.threads[] | .[\"Thread Number\"]]")" = "[0,1,2]" ]'
cm --thread "$C" > "$T/thr"
ok "--thread shows newest first" \
    '[ "$(grep -m1 "^Subject:" "$T/thr")" = "Subject: Re: <$C> Suspicious login page" ] && [ "$(grep "^Subject:" "$T/thr" | tail -1)" = "Subject: Suspicious login page" ]'
ok "-t 1 shows thread 1 only" '[ "$(cm --thread "$C" -t 1 | grep -c "^From:")" = 1 ]'
ok "an unknown thread number is an error" '! cm --thread "$C" -t 9 2>/dev/null'
ok "an unknown code is an error (66)" 'cm --thread 99999999 2>/dev/null; [ $? = 66 ]'
ok "--list --json has the message count" \
    '[ "$(cm --list --json | jq -r "select(.code==\"$C\") | .messages")" = "$(wc -l < "$S/cases/$C/thread")" ]'
ok "--fsck says the store is consistent" 'cm --fsck | grep -q "0 problems: consistent"'

# A record goes out as soon as it is linked, while the input stays open.
coproc CMP { $CM -d "$S"; }
mk p1 "Streaming" alice@corp.example soc@corp.example >&"${CMP[1]}"
line=
read -t 20 -r line <&"${CMP[0]}"
eval "exec ${CMP[1]}>&-"
wait "$CMP_PID" 2>/dev/null
ok "from a pipe that stays open, the record comes out at once" \
    '[ "$(jq -r .case.action <<< "$line")" = created ]'

# Bad input.
{
	mk b1 "Bad input neighbour" alice@corp.example soc@corp.example
	echo 'not json'
	echo '{"v":1,"kind":"message","subject":"no id"}'
	echo '{"v":1,"kind":"artifact","value":"passes through"}'
	mk b2 "Other neighbour" alice@corp.example soc@corp.example
} | cm > "$T/out" 2> "$T/err"; st=$?
ok "exit 65 when a line was bad" '[ $st = 65 ]'
ok "every line has its record, in order" \
    '[ "$(jq -r ".kind + \":\" + (.case.action // \"-\")" "$T/out" | tr "\n" " ")" = "message:created error:- message:error artifact:- message:created " ]'
ok "one stderr line per bad line" '[ "$(wc -l < "$T/err")" = 2 ]'
ok "other kinds pass through unchanged" \
    '[ "$(sed -n 4p "$T/out")" = "{\"v\":1,\"kind\":\"artifact\",\"value\":\"passes through\"}" ]'
ok "the store is still consistent" 'cm --fsck > /dev/null'

echo "1..$n"
