#!/bin/bash
# The spool: content-addressed files written once, records only after
# their files are durable, and SIGKILL at any moment leaves no partial
# file outside tmp/.
cd "$(dirname "$0")/.." || exit 1
MP=bin/mailparse
[ -x "$MP" ] || { echo "1..0 # SKIP $MP not built"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
pass() { n=$((n+1)); echo "ok $n - $1"; }
fail() { n=$((n+1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "$2" | head -5 | sed 's/^/# /'; }

# Files outside tmp/ whose name is not the SHA-256 of their bytes.
badfiles() {
	(cd "$1" && find msg vault -type f -print0 2>/dev/null |
	    xargs -0 -r sha256sum | awk '{ n = split($2, p, "/"); if ($1 != p[n]) print $2 }')
}
# Record ids and vault keys that have no file.
unbacked() {
	jq -r '.. | objects | (select(.kind == "message") | "msg/\(.id[0:2])/\(.id)"),
	    (select(.vault? | type == "string") | "vault/\(.vault[0:2])/\(.vault)")' "$2" |
	    sort -u > "$1.want"
	(cd "$1" && find msg vault -type f 2>/dev/null | sort) | comm -23 "$1.want" -
}

S=$T/spool
"$MP" -d "$S" --quiet share/demo/mailbox.mbox tests/fixtures/*.eml > "$T/r1" 2>/dev/null
find "$S/msg" "$S/vault" -type f -printf '%p %i %T@\n' | sort > "$T/files1"
"$MP" -d "$S" --quiet share/demo/mailbox.mbox tests/fixtures/*.eml > "$T/r2" 2>/dev/null
find "$S/msg" "$S/vault" -type f -printf '%p %i %T@\n' | sort > "$T/files2"
[ -s "$T/files1" ] && cmp -s "$T/files1" "$T/files2" &&
    pass "a second run writes no file again ($(wc -l < "$T/files1") files, same inodes and times)" ||
    fail "second run changed the spool"
cmp -s "$T/r1" "$T/r2" && pass "and writes the same records" || fail "records differ between runs"
[ -z "$(badfiles "$S")" ] && pass "every stored file is named by its SHA-256" || fail "misnamed files" "$(badfiles "$S")"
[ -z "$(unbacked "$S" "$T/r1")" ] && pass "every record id and vault key has its file" ||
    fail "records name missing files" "$(unbacked "$S" "$T/r1")"
[ -z "$(find "$S/tmp" -type f)" ] && pass "tmp/ is empty after a clean run" || fail "tmp/ not empty"
[ "$(stat -c %a "$S")" = 700 ] && [ "$(stat -c %a "$(find "$S/msg" -type f | head -1)")" = 600 ] &&
    pass "spool 0700, files 0600" || fail "modes"

# An mbox of distinct messages, each with its own attachment.
python3 - "$T/big.mbox" <<'PY'
import os, sys, base64
with open(sys.argv[1], "wb") as f:
    for i in range(3000):
        att = base64.encodebytes(os.urandom(3000 + i))
        f.write(b"From k@example.org Mon Jan  1 00:00:00 2024\n"
                b"From: k@example.org\nSubject: kill %d\nMessage-ID: <k%d@example.org>\n"
                b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=z\n\n"
                b"--z\nContent-Type: text/plain\n\nbody %d\n--z\n"
                b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                % (i, i, i) + att + b"--z--\n\n")
PY

# Kill it at ten different moments; after each, check what is there.
K=$T/killspool
partial=0 unbacked_n=0
for delay in 0.01 0.03 0.05 0.08 0.1 0.15 0.2 0.3 0.4 0.6; do
	"$MP" -d "$K" --quiet -j 2 "$T/big.mbox" > "$T/killed.out" 2>/dev/null &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ -z "$(badfiles "$K")" ] || partial=$((partial+1))
	# A record cut off by the kill is not a record: check whole lines only.
	head -n "$(($(wc -l < "$T/killed.out")))" "$T/killed.out" | jq -c . > "$T/whole" 2>/dev/null
	[ -z "$(unbacked "$K" "$T/whole")" ] || unbacked_n=$((unbacked_n+1))
done
[ "$partial" = 0 ] && pass "after SIGKILL at 10 moments, no partial file outside tmp/" ||
    fail "$partial kills left a partial file outside tmp/"
[ "$unbacked_n" = 0 ] && pass "no record written before its files were committed" ||
    fail "$unbacked_n kills left records naming missing files"
"$MP" -d "$K" --quiet "$T/big.mbox" > "$T/final" 2>/dev/null
[ "$(wc -l < "$T/final")" = 3000 ] && [ -z "$(unbacked "$K" "$T/final")" ] &&
    [ "$(find "$K/msg" -type f | wc -l)" = 3000 ] && [ "$(find "$K/vault" -type f | wc -l)" = 3000 ] &&
    pass "a run after the kills completes the spool: 3000 messages, 3000 attachments, no doubles" ||
    fail "spool after kills: $(find "$K/msg" -type f | wc -l) msg files"
echo "1..$n"
