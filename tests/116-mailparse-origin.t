#!/bin/bash
# The X-Mailcase-Source line mailfetch puts first in each message: when
# its signature verifies under the spool's keys/source.pub, the line comes off and
# the record's source is the IMAP folder and UID; when it does not, the
# message is kept whole, as it came, with a defect that says so.
# build/tests/mkorigin writes what mailfetch would, without a server.
cd "$(dirname "$0")/.." || exit 1
MP=${MAILPARSE:-bin/mailparse}
MK=build/tests/mkorigin
[ -x "${MP%% *}" ] || { echo "1..0 # SKIP $MP not built"; exit 0; }
[ -x "$MK" ] || { echo "1..0 # SKIP $MK not built (make build/tests/mkorigin)"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
pass() { n=$((n+1)); echo "ok $n - $1"; }
fail() { n=$((n+1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "$2" | head -5 | cut -c1-300 | sed 's/^/# /'; }
check() {	# check DESC RECORDS JQ-FILTER
	if jq -e -s "$3" "$2" > /dev/null 2>&1; then pass "$1"
	else fail "$1" "$(jq -c '{id,source,source_id,name,defects}' "$2" 2>&1)"; fi
}
sha() { sha256sum < "$1" | cut -c1-64; }
# The stored message of the first record in $1, compared with file $2.
stored_is() { local id; id=$(jq -r -s '.[0].id' "$1"); cmp -s "$S/msg/${id:0:2}/$id" "$2"; }
mk() {		# mk OUT SPOOL UID FILE: what mailfetch writes for FILE
	"$MK" "$2" soc INBOX 1796137136 "$3" "$4" > "$1" || echo "# mkorigin failed" >&2
}
S=$T/spool
SRCID="$(printf %s INBOX | md5sum | cut -c1-32) : 42"
IMAP='{"kind":"imap","account":"soc","folder":"INBOX","uidvalidity":1796137136,"uid":42}'

# The messages, as the server would hand them over.
printf 'From: Dana <dana@example.com>\nTo: soc@example.org\nSubject: Invoice\nMessage-ID: <m1@example.com>\n\nPlease pay.\n' > "$T/m1.eml"
# Same size as m1, one byte different.
printf 'From: Dana <dana@example.com>\nTo: soc@example.org\nSubject: Invoice\nMessage-ID: <m1@example.com>\n\nPlease pat.\n' > "$T/m1x.eml"
printf 'From: a@example.com\nSubject: no newline at the end\n\nlast line' > "$T/nonl.eml"
printf 'From: a@example.com\r\nSubject: crlf\r\n\r\nline one\r\nline two\r\n' > "$T/crlf.eml"
printf 'From: a@example.com\nSubject: quoting\n\nFrom the start\n>From one\n>>From two\nFrom me 2024\nFrom ' > "$T/from.eml"
printf 'From: a@example.com\nTo: soc@example.org\n\nNo subject at all.\n' > "$T/nosubj.eml"
printf 'From: a@example.com\nSubject:   \n\nAn empty subject.\n' > "$T/empty-subj.eml"

# A verified header.
mk "$T/o1" "$S" 42 "$T/m1.eml"
"$MP" -d "$S" --quiet "$T/o1" > "$T/r1" 2> "$T/err"; st=$?
check "verified: source is the IMAP folder and UID" "$T/r1" ".[0].source == $IMAP"
check "source_id is md5(folder) : uid, as Splunk SOAR forms it" "$T/r1" ".[0].source_id == \"$SRCID\""
check "id is the SHA-256 of the server's bytes" "$T/r1" ".[0].id == \"$(sha "$T/m1.eml")\""
stored_is "$T/r1" "$T/m1.eml" && pass "msg/ holds exactly the server's bytes" ||
    fail "msg/ differs from the message"
check "the header is not among the message's headers" "$T/r1" \
    '[.[0].headers[][0] | ascii_downcase] == ["from", "to", "subject", "message-id"]'
check "no defects, the subject names it" "$T/r1" '.[0].defects == [] and .[0].name == "Invoice"'
[ "$st" = 0 ] && [ ! -s "$T/err" ] && pass "exit 0, nothing on stderr" || fail "exit $st" "$(cat "$T/err")"
"$MP" -d "$S" --quiet "$T/m1.eml" > "$T/plain"
[ "$(jq -r .id "$T/plain")" = "$(jq -r .id "$T/r1")" ] &&
    pass "the same id as the message read from a file: one copy in the spool" || fail "ids differ"

for m in nonl crlf from; do
	mk "$T/o-$m" "$S" 42 "$T/$m.eml"
	"$MP" -d "$S" --quiet "$T/o-$m" > "$T/r-$m"
	if jq -e ".source == $IMAP and .id == \"$(sha "$T/$m.eml")\"" "$T/r-$m" > /dev/null &&
	    stored_is "$T/r-$m" "$T/$m.eml"; then
		pass "verified and byte-exact: $m.eml"
	else
		fail "$m.eml" "$(jq -c '{id,source,defects}' "$T/r-$m")"
	fi
done
grep -q '^>>From one$' "$T/o-from" && grep -q '^>>>From two$' "$T/o-from" &&
    pass "(the stream quotes From lines, mboxrd)" || fail "mkorigin did not quote"

mk "$T/o-nosubj" "$S" 42 "$T/nosubj.eml"
mk "$T/o-empty" "$S" 42 "$T/empty-subj.eml"
"$MP" -d "$S" --quiet "$T/o-nosubj" "$T/o-empty" > "$T/r-nosubj"
check "no subject or an empty one: name \"Email UID: 42\"" "$T/r-nosubj" \
    '[.[].name] == ["Email UID: 42", "Email UID: 42"] and .[0].subject == null'
"$MP" -d "$S" --quiet "$T/nosubj.eml" > "$T/r-nosubj-plain"
check "not fetched: still \"(no subject)\"" "$T/r-nosubj-plain" '.[0].name == "(no subject)"'

# Headers that must not be believed.  Each message is kept whole: the
# header line and the bytes after it.
unverified() {	# unverified DESC STREAM WHY
	"$MP" -d "$S" --quiet "$2" > "$T/ru" 2> "$T/err"; st=$?
	tail -n +2 "$2" | head -c -1 > "$T/whole"	# without From_ line and separator
	if jq -e -s --arg why "$3" --arg id "$(sha "$T/whole")" '
	    .[0] | .source.kind == "mbox" and .source_id == null and .id == $id and
	    (.defects | map(select(.code == "origin-unverified")) | length == 1) and
	    (.defects[0].text | contains($why)) and
	    (.headers[0][0] == "X-Mailcase-Source") and .name == "Invoice"' "$T/ru" > /dev/null &&
	    stored_is "$T/ru" "$T/whole" && [ "$st" = 0 ] && [ ! -s "$T/err" ]; then
		pass "$1: kept whole, mbox source, origin-unverified ($3)"
	else
		fail "$1 (exit $st)" "$(jq -c '{id,source,defects}' "$T/ru"; cat "$T/err")"
	fi
}
sed -e '2{s/sig=0/sig=1/;t' -e 's/sig=./sig=0/;}' "$T/o1" > "$T/forged"	# one hex digit changed
unverified "forged signature" "$T/forged" "signature does not verify"
mk "$T/other" "$T/otherspool" 42 "$T/m1.eml"
unverified "signature under another spool's key" "$T/other" "signature does not verify"
mk "$T/o1x" "$S" 42 "$T/m1x.eml"
{ head -2 "$T/o1"; tail -n +3 "$T/o1x"; } > "$T/moved"
unverified "header moved onto another message of the same size" "$T/moved" "the bytes are not the ones signed"
sed '2s/size=\([0-9]*\)/size=1\1/' "$T/o1" > "$T/bigsize"
unverified "size changed: larger" "$T/bigsize" "signature does not verify"
sed '2s/size=\([0-9]*\)/size=1/' "$T/o1" > "$T/smallsize"
unverified "size changed: smaller" "$T/smallsize" "signature does not verify"
# A signed line with fewer bytes behind it than it signed: mailfetch was
# killed while writing.  Not a message to make a case of: an error record.
{ head -n -2 "$T/o1"; echo; } > "$T/short"
"$MP" -d "$S" --quiet "$T/short" > "$T/rs" 2> "$T/err"; st=$?
if jq -e -s 'length == 1 and .[0].kind == "error" and .[0].error.code == "truncated" and
    .[0].source.kind == "imap" and .[0].source.uid == 42' "$T/rs" > /dev/null &&
    [ "$st" = 65 ] && [ "$(wc -l < "$T/err")" = 1 ] && grep -q 'cut short' "$T/err"; then
	pass "a message cut short after a signed line: error record truncated, exit 65, one stderr line"
else
	fail "cut short (exit $st)" "$(cat "$T/rs" "$T/err")"
fi
# The same cut in the middle of a stream: the next message is still read.
{ cat "$T/short"; cat "$T/o-crlf"; } > "$T/short2"
"$MP" -d "$S" --quiet "$T/short2" > "$T/rs" 2> /dev/null
check "after a cut message the stream goes on" "$T/rs" \
    '[.[] | .kind] == ["error", "message"] and .[1].source.kind == "imap"'
{ head -n -1 "$T/o1"; echo "Added."; echo; } > "$T/long"
unverified "a line added to the message" "$T/long" "more bytes than its size says"
k=0
for edit in 's/uid=42/uid=4x2/' 's/; sig=.*//' 's/v=1/v=2/' 's/folder=INBOX/folder=IN%0/' \
    's/account=soc; //' 's/uid=42/uid=042/' 's/; /;/'; do
	k=$((k+1))
	sed "2$edit" "$T/o1" > "$T/bad$k"
	unverified "malformed: sed '$edit'" "$T/bad$k" "malformed X-Mailcase-Source header"
done
"$MP" -d "$T/nokey" --quiet "$T/m1.eml" > /dev/null
S_SAVED=$S S=$T/nokey
unverified "no keys/source.pub in the spool" "$T/o1" "the spool has no keys/source.pub"
S=$S_SAVED
[ ! -e "$T/nokey/keys" ] && pass "mailparse made no key" || fail "mailparse made $T/nokey/keys"
B=$T/badkey
mkdir -p "$B/keys" && printf 'not a key' > "$B/keys/source.pub"
"$MP" -d "$B" --quiet "$T/o1" "$T/o-crlf" "$T/o-from" > "$T/r-badkey" 2> "$T/err"; st=$?
check "a keys/source that is no key: not believed" "$T/r-badkey" \
    '[.[] | .source.kind == "mbox" and .defects[0].text == "keys/source.pub cannot be read"] == [true, true, true]'
[ "$st" = 0 ] && [ "$(wc -l < "$T/err")" = 1 ] && grep -q 'read keys/source.pub' "$T/err" &&
    pass "one line on stderr for it, not one per message" || fail "exit $st, stderr" "$(cat "$T/err")"

# Anywhere but the first line it is an ordinary header, valid or not.
{ echo "From mailfetch@localhost Thu Jan  1 00:00:00 1970"; echo "Received: by mx.example.com"
  tail -n +2 "$T/o1"; } > "$T/second"
"$MP" -d "$S" --quiet "$T/second" > "$T/r-second"
check "on the second line: an ordinary header, no defect" "$T/r-second" \
    '.[0] | .source.kind == "mbox" and .defects == [] and .source_id == null and
     ([.headers[][0]] | index("X-Mailcase-Source")) == 1'
# A message attached to a mail, itself starting with a header that verifies.
inner=$(tail -n +2 "$T/o1" | head -n -1)
{ printf 'From: mallory@example.net\nSubject: fwd\nMIME-Version: 1.0\n'
  printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee\n'
  printf -- '--b\nContent-Type: message/rfc822\n\n%s\n--b--\n' "$inner"; } > "$T/nested.eml"
"$MP" -d "$S" --quiet "$T/nested.eml" > "$T/r-nested"
check "a nested message starting with one: attached, the header kept" "$T/r-nested" \
    '.[0].messages[0] | .source.kind == "attached" and .source_id == null and
     .headers[0][0] == "X-Mailcase-Source" and .defects == []'

# Threads: the same records in the same order.
cat "$T"/o1 "$T"/forged "$T"/o-nonl "$T"/second "$T"/o-crlf "$T"/other "$T"/o-from \
    "$T"/moved "$T"/o-nosubj "$T"/bad1 "$T"/o1x > "$T/all.mbox"
for i in 1 2 3; do cat "$T/all.mbox"; done > "$T/all3.mbox"
"$MP" -d "$S" --quiet -j 1 "$T/all3.mbox" > "$T/j1"
"$MP" -d "$S" --quiet -j 2 "$T/all3.mbox" > "$T/j2"
"$MP" -d "$S" --quiet -j 4 < "$T/all3.mbox" | jq -c 'del(.source.path)' > "$T/j4"
[ "$(jq -s 'length' "$T/j1")" = 33 ] && cmp -s "$T/j1" "$T/j2" && pass "-j 2 writes what -j 1 writes" ||
    fail "-j 2 differs from -j 1" "$(diff "$T/j1" "$T/j2" | head -3)"
jq -c 'del(.source.path)' "$T/j1" | cmp -s - "$T/j4" && pass "-j 4 from a pipe: the same" || fail "-j 4 differs"
[ "$(jq -s 'map(select(.source.kind == "imap")) | length' "$T/j1")" = 18 ] &&
    pass "18 of the 33 verified, mixed with the others" || fail "verified count"

# --no-store: nothing written, and the spool's key still read.
"$MP" -d "$S" --no-store --quiet "$T/o1" > "$T/r-nostore"
check "--no-store still verifies" "$T/r-nostore" ".[0].source == $IMAP and .[0].id == \"$(sha "$T/m1.eml")\""
"$MP" -d "$T/absent" --no-store --quiet "$T/o1" > "$T/r-absent" 2> "$T/err"
check "--no-store and no spool: not believed" "$T/r-absent" \
    '.[0].source.kind == "mbox" and .[0].defects[0].code == "origin-unverified"'
[ ! -e "$T/absent" ] && [ ! -s "$T/err" ] && pass "and the spool is not made, nothing said" ||
    fail "the spool was made or something said" "$(cat "$T/err")"
MAILCASE_SPOOL=$S "$MP" --no-store --quiet "$T/o1" > "$T/r-env"
check "--no-store finds the spool as mailparse does, from MAILCASE_SPOOL" "$T/r-env" ".[0].source == $IMAP"

# The key is read at the first header, and again later while it is missing:
# mailfetch makes it on its first run, while mailparse already waits.
L=$T/late
mkfifo "$T/fifo"
"$MP" -d "$L" --no-store --quiet < "$T/fifo" > "$T/r-late" 2> "$T/err" &
mp=$!
exec 3> "$T/fifo"
cat "$T/other" >&3				# signed by otherspool's key; $L has none
echo "From mailfetch@localhost Thu Jan  1 00:00:00 1970" >&3
for i in $(seq 50); do [ -s "$T/r-late" ] && break; sleep 0.1; done
mkdir -p "$L/keys" && cp "$T/otherspool/keys/source.pub" "$L/keys/source.pub"
tail -n +2 "$T/other" >&3
exec 3>&-
wait "$mp"
check "before the key exists: not believed; once it does: verified" "$T/r-late" \
    '[.[] | .source.kind] == ["mbox", "imap"] and .[0].defects[0].text == "the spool has no keys/source.pub"'
echo "1..$n"
