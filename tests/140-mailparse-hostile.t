#!/bin/bash
# Hostile input: whatever the bytes, a record comes out for each message,
# the stream goes on, one stderr line says what was wrong, and the exit
# status tells (65 when some record has an error).
cd "$(dirname "$0")/.." || exit 1
MP=${MAILPARSE:-bin/mailparse}
[ -x "${MP%% *}" ] || { echo "1..0 # SKIP $MP not built"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
pass() { n=$((n+1)); echo "ok $n - $1"; }
fail() { n=$((n+1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "$2" | head -5 | cut -c1-300 | sed 's/^/# /'; }
check() {	# check DESC FILE JQ-FILTER [WANT-EXIT]
	local desc=$1 f=$2 filter=$3 want=${4:-}
	"$MP" --no-store --quiet "$f" > "$T/out" 2> "$T/err"
	local st=$?
	if [ -n "$want" ] && [ "$st" != "$want" ]; then
		fail "$desc (exit $st, want $want)" "$(cat "$T/err")"; return
	fi
	if jq -e -s "$filter" "$T/out" > /dev/null 2>&1; then pass "$desc"
	else fail "$desc" "$(head -c 600 "$T/out")"; fi
}

python3 - "$T" <<'PY'
import os, sys
t = sys.argv[1]
def w(name, data):
    with open(os.path.join(t, name), "wb") as f:
        f.write(data)
hdr = b"From: a@example.org\nTo: b@example.org\nMessage-ID: <%s@example.org>\n"
w("huge-header.eml", hdr % b"huge" + b"Subject: " + b"A" * (50 << 20) + b"\n\nbody\n")
parts = [b"--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(10000)]
w("many-parts.eml", hdr % b"many" + b"Subject: many\nMIME-Version: 1.0\n"
  b"Content-Type: multipart/mixed; boundary=b\n\n" + b"".join(parts) + b"--b--\n")
deep = b"Content-Type: text/plain\n\ninnermost\n"
for i in range(1000):
    deep = (b"Content-Type: multipart/mixed; boundary=x%d\n\n--x%d\n" % (i, i)
            + deep + b"\n--x%d--\n" % i)
w("deep-multipart.eml", hdr % b"deep" + b"Subject: deep\nMIME-Version: 1.0\n" + deep)
msg = b"Subject: bottom\n\nbottom\n"
for i in range(1000):
    msg = (b"Subject: level %d\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n" % i) + msg
w("deep-rfc822.eml", hdr % b"deeprfc" + msg)
w("nul-everywhere.eml", b"Subj\0ect: a\0b\nFrom: x\0@example.org\n\n\0\0body\0\n")
w("random.bin", os.urandom(1 << 20))
w("only-nuls.bin", b"\0" * 65536)
w("long-line.eml", hdr % b"long" + b"Subject: x\n\n" + b"y" * (8 << 20) + b"\n")
w("header-only.eml", b"Subject: no body and no newline")
w("bad-boundary.eml", hdr % b"bb" + b"Subject: bb\nContent-Type: multipart/mixed; boundary=\"\"\n\n--\n\nx\n")
w("many-headers.eml", b"".join(b"X-H%d: v\n" % i for i in range(20000)) + b"\nbody\n")
good = b"From: g@example.org\nSubject: good %d\nMessage-ID: <g%d@example.org>\n\nfine\n"
w("mixed.mbox", b"From a@example.org Mon Jan  1 00:00:00 2024\n" + good % (1, 1)
  + b"\nFrom a@example.org Mon Jan  1 00:00:00 2024\n" + hdr % b"mixed"
  + b"Subject: many\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
  + b"".join(parts) + b"--b--\n"
  + b"\nFrom a@example.org Mon Jan  1 00:00:00 2024\n" + good % (3, 3))
w("empty.eml", b"")
PY

check "50 MB header: a record, header-too-large, exit 65" "$T/huge-header.eml" \
    '.[0].error.code == "header-too-large" and .[0].message_id == "huge@example.org"
     and (.[0].headers | map(select(.[0] == "Subject"))[0][1] | length) == 1048576' 65
check "10,000 parts: too-many-parts, the first 4096 read" "$T/many-parts.eml" \
    '.[0].error.code == "too-many-parts" and (.[0].text | startswith("part 0\n"))' 65
check "multipart nested 1,000 deep: an error record, no crash" "$T/deep-multipart.eml" \
    '(.[0].error.code | IN("too-deep")) and .[0].subject == "deep"' 65
check "message/rfc822 nested 1,000 deep: too-deep, the outer levels kept" "$T/deep-rfc822.eml" \
    '.[0].error.code == "too-deep" and .[0].subject == "level 999"
     and .[0].messages[0].subject == "level 998"' 65
check "NUL bytes in headers and body" "$T/nul-everywhere.eml" \
    'length == 1 and (.[0].text | index("body")) != null'
check "1 MB of random bytes: one record" "$T/random.bin" 'length == 1 and (.[0].id | length) == 64'
check "64 KB of NUL bytes: one record" "$T/only-nuls.bin" 'length == 1'
check "an 8 MB line" "$T/long-line.eml" '.[0].error == null and (.[0].text | length) == 8388609' 0
check "headers and no body, no final newline" "$T/header-only.eml" \
    '.[0].subject == "no body and no newline" and .[0].error == null' 0
check "empty boundary parameter" "$T/bad-boundary.eml" 'length == 1 and .[0].subject == "bb"'
check "20,000 headers: too-many-headers, the first 10,000 kept" "$T/many-headers.eml" \
    '.[0].error.code == "too-many-headers" and (.[0].headers | length) == 10000' 65
check "an empty file named on the command line: an error record" "$T/empty.eml" \
    '.[0].error.code == "empty"' 65

# The stream goes on past a bad message, in order, one stderr line for it.
"$MP" --no-store --quiet "$T/mixed.mbox" > "$T/out" 2> "$T/err"; st=$?
subs=$(jq -r .subject "$T/out" | tr '\n' ,)
if [ "$st" = 65 ] && [ "$subs" = "good 1,many,good 3," ]; then
	pass "bad message between two good ones: three records in order, exit 65"
else
	fail "mixed mbox: exit $st, subjects $subs"
fi
if [ "$(wc -l < "$T/err")" = 1 ] && grep -q "mixed.mbox: message 2: parse: more MIME parts" "$T/err"; then
	pass "one stderr line names the input, the message and the reason"
else
	fail "stderr for the bad message" "$(cat "$T/err")"
fi

# Any bytes on stdin; stdin that is empty is no message at all.
head -c 300000 /dev/urandom | "$MP" --no-store --quiet > "$T/out" 2>/dev/null
[ "$(wc -l < "$T/out")" = 1 ] && pass "random bytes on stdin: one record" || fail "random stdin"
"$MP" --no-store --quiet < /dev/null > "$T/out" 2> "$T/err"; st=$?
[ "$st" = 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] && pass "empty stdin: nothing, exit 0" || fail "empty stdin (exit $st)"

# A file that cannot be opened: exit 66, the others still read.
"$MP" --no-store --quiet "$T/nonexistent" tests/fixtures/no-subject.eml > "$T/out" 2> "$T/err"; st=$?
if [ "$st" = 66 ] && [ "$(wc -l < "$T/out")" = 1 ] && grep -q "nonexistent: open:" "$T/err"; then
	pass "missing file: exit 66, stderr names it, the next file is read"
else
	fail "missing file (exit $st)" "$(cat "$T/err")"
fi

# Bad flags.
"$MP" -j 0 < /dev/null > /dev/null 2>&1; st=$?
[ "$st" = 64 ] && pass "-j 0 is a usage error (64)" || fail "-j 0 gave $st"

# Threads change nothing but speed: -j 3 writes what -j 1 writes.
cat share/demo/mailbox.mbox tests/fixtures/mbox-from-quoting.mbox "$T/mixed.mbox" > "$T/all.mbox"
"$MP" --no-store --quiet -j 1 "$T/all.mbox" > "$T/j1" 2>/dev/null
"$MP" --no-store --quiet -j 3 "$T/all.mbox" > "$T/j3" 2>/dev/null
cat "$T/all.mbox" | "$MP" --no-store --quiet -j 2 2>/dev/null | sed 's/"path":"-"/"path":"'"${T//\//\\/}"'\/all.mbox"/' > "$T/j2"
if cmp -s "$T/j1" "$T/j3" && cmp -s "$T/j1" "$T/j2" && [ -s "$T/j1" ]; then
	pass "-j 1, -j 3 and -j 2 on a pipe write the same records in the same order"
else
	fail "-j output differs"
fi
echo "1..$n"
