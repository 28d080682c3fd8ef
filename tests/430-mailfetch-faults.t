#!/bin/bash
# mailfetch against a server that misbehaves on cue, tests/lib/fakeimap.py:
# five messages, UIDs 1..5, and a fault at the FETCH of UID 3.  For each
# fault: the exit status mailfetch(1) gives it, one line on stderr naming
# the server and the step, messages 1 and 2 out whole and nothing of 3
# but an error record, and a cursor that has not passed 3, so that a run
# against a well-behaved fake (the same UIDVALIDITY, 1234, always) then
# fetches 3, 4 and 5 and not 1 and 2 again.  Also a folder that is not
# there, a server that is not listening, a refused login, and a literal
# of 5 GB announced: read past, not held in memory.
cd "$(dirname "$0")/.." || exit 1
L=tests/lib
. $L/servers.sh	# the skips and TAP checks; the fakes are started here
need_cmds python3 jq sha256sum md5sum
need_bins bin/mailfetch bin/mailparse
T=$(mktemp -d /tmp/mt.XXXXXX)	# the fakes' pids and logs: mailtest-down stops them
W=$(mktemp -d)
trap '$L/mailtest-down "$T"; rm -rf "$W"' EXIT
python3 $L/fakeimap.py --dump "$W/fake"
for i in 1 2 3 4 5; do sha256sum < "$W/fake/$i.eml" | cut -c1-64; done > "$W/ids"
export MAILCASE_CONFIG=$W/config
conf() {	# conf PORT: account f on the fake at PORT
	printf 'account f\nimap_url imap://127.0.0.1:%s\ntls off\nuser u\npassword s3cr3t-pw\n' "$1" > "$MAILCASE_CONFIG"
	chmod 600 "$MAILCASE_CONFIG"
}
CUR=fetch/f/$(printf %s INBOX | md5sum | cut -c1-32)
# fetch SPOOL [FLAG...]: a poll; status in $st, the stream, stderr, records in $W
fetch() {
	local s=$1; shift
	bin/mailfetch -d "$s" -a f "$@" > "$W/out" 2> "$W/err"
	st=$?
	bin/mailparse -d "$s" --quiet < "$W/out" > "$W/recs" 2> /dev/null
}
export W CUR
# got UID...: the records are those UIDs' messages, verified, byte for
# byte the fake's, and besides them at most error records "truncated"
got() {
	jq -r 'if .kind == "message" then "\(.source.kind) \(.source.uid) \(.id)"
	    elif .kind == "error" and .error.code == "truncated" then empty
	    else "other \(.kind) \(.error.code)" end' "$W/recs" > "$W/got"
	for u in "$@"; do echo "imap $u $(sed -n ${u}p "$W/ids")"; done | cmp -s - "$W/got" ||
	    { echo "want UIDs $*, got:"; cat "$W/got"; return 1; }
}
# owed SPOOL: the UIDs of 1..5 the cursor still owes (pending, held, from next)
owed() {
	python3 - "$1/$CUR" <<'EOF'
import sys
c = {}
for line in open(sys.argv[1]):
    if not line.startswith("#"):
        k, v = line.split()
        c[k] = v
owed = set(range(int(c["next"]), 6))
for k in ("pending", "held"):
    for part in c.get(k, "").split(","):
        if part:
            lo, _, hi = part.partition(":")
            owed.update(range(int(lo), int(hi or lo) + 1))
assert c["uidvalidity"] == "1234", c
print(" ".join(str(u) for u in sorted(owed & set(range(1, 6)))))
EOF
}
# oneline PORT STEP: stderr is one line, naming the fake and the step
oneline() {
	[ "$(wc -l < "$W/err")" = 1 ] && grep -q "^mailfetch: 127\.0\.0\.1:$1: $2: " "$W/err" ||
	    { cat "$W/err"; return 1; }
}
export -f got owed oneline

good=$($L/fakeimap-start "$T" normal) || { echo "Bail out! fakeimap-start normal failed"; exit 1; }
# again SPOOL: the run after the fault, against the good fake: 3, 4, 5
again() {
	conf "$good"
	fetch "$1"
	ok "... then a run against a good fake: exit 0, UIDs 3, 4 and 5 only, nothing owed" bash -c '
		[ "$1" = 0 ] && [ ! -s "$W/err" ] && got 3 4 5 && [ -z "$(owed "$2")" ]' _ $st "$1"
}

# The faults in the middle of a FETCH of 1:5.
for m in drop-mid-literal:75 oversized-literal:76 unknown-response:76; do
	mode=${m%:*} want=${m#*:} S=$W/spool.$mode
	p=$($L/fakeimap-start "$T" $mode) || { echo "Bail out! fakeimap-start $mode failed"; exit 1; }
	conf "$p"
	fetch "$S"
	ok "$mode: exit $want, one line naming 127.0.0.1:$p and UID FETCH" \
	    bash -c '[ "$1" = "$2" ] && oneline "$3" "UID FETCH"' _ $st $want $p
	sed 's/^/# /' "$W/err"
	ok "... UIDs 1 and 2 out whole and verified, nothing of 3 but an error record" got 1 2
	ok "... the cursor owes 3, 4 and 5, not 1 and 2" bash -c '[ "$(owed "$1")" = "3 4 5" ]' _ "$S"
	again "$S"
done
# A tagged BAD to a FETCH that holds UID 3: nothing of that FETCH is out.
# With 1 and 2 in a first run of their own, the second meets the BAD.
S=$W/spool.bad
bad=$($L/fakeimap-start "$T" bad-response)
p=$bad
conf "$p"
fetch "$S" --first-run-max 2
ok "bad-response, a first run of UIDs 1 and 2: exit 0, both out" bash -c '[ "$1" = 0 ] && got 1 2' _ $st
fetch "$S"
ok "bad-response to UID FETCH 3:5: exit 76, one line naming 127.0.0.1:$p and UID FETCH, nothing out" \
    bash -c '[ "$1" = 76 ] && oneline "$2" "UID FETCH" && grep -q "BAD" "$W/err" && [ ! -s "$W/out" ]' _ $st $p
sed 's/^/# /' "$W/err"
ok "... the cursor owes 3, 4 and 5" bash -c '[ "$(owed "$1")" = "3 4 5" ]' _ "$S"
again "$S"
S=$W/spool.bad1
conf "$bad"
fetch "$S"
ok "bad-response to UID FETCH 1:5 on a first run: exit 76, nothing out, all five owed" \
    bash -c '[ "$1" = 76 ] && [ ! -s "$W/out" ] && [ "$(owed "$2")" = "1 2 3 4 5" ]' _ $st "$S"

# Before any FETCH.
S=$W/spool.nofolder
p=$($L/fakeimap-start "$T" no-folder)
conf "$p"
fetch "$S"
ok "no-folder: exit 78, one line naming 127.0.0.1:$p and EXAMINE, with the server's NO" \
    bash -c '[ "$1" = 78 ] && oneline "$2" EXAMINE && grep -q "NONEXISTENT" "$W/err"' _ $st $p
sed 's/^/# /' "$W/err"
ok "... nothing out, no cursor, no FETCH or SEARCH sent" bash -c '
	[ ! -s "$W/out" ] && [ ! -e "$1/$CUR" ] && ! grep -E "C: [^ ]+ (UID )?(FETCH|SEARCH)" "$2"' \
    _ "$S" "$T/log/fakeimap-no-folder.log"
S=$W/spool.refused
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf "$port"
fetch "$S"
ok "nobody listening on the port: exit 75, one line naming 127.0.0.1:$port and connect" \
    bash -c '[ "$1" = 75 ] && oneline "$2" connect' _ $st $port
sed 's/^/# /' "$W/err"
ok "... nothing out, no cursor" bash -c '[ ! -s "$W/out" ] && [ ! -e "$1/$CUR" ]' _ "$S"
S=$W/spool.login
p=$($L/fakeimap-start "$T" refuse-login)
conf "$p"
fetch "$S"
ok "a refused login: exit 77, one line naming 127.0.0.1:$p and login, with the server's answer" \
    bash -c '[ "$1" = 77 ] && oneline "$2" login && grep -q AUTHENTICATIONFAILED "$W/err"' _ $st $p
ok "... not the password; nothing out, no cursor, no EXAMINE sent" bash -c '
	! grep -q s3cr3t "$W/err" && [ ! -s "$W/out" ] && [ ! -e "$1/$CUR" ] && ! grep -q EXAMINE "$2"' \
    _ "$S" "$T/log/fakeimap-refuse-login.log"
sed 's/^/# /' "$W/err"

# {5000000000} announced for UID 3, 64 MiB of it sent, then the connection
# closed: over --max-size (or the default 256 MiB) it is read past, and
# mailfetch's memory stays what it is on five small messages.
maxrss() {	# maxrss OUT ERR COMMAND...: run it, status in $st, its peak RSS in kB in $rss
	rss=$(python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    st = subprocess.call(sys.argv[3:], stdout=out, stderr=err)
print(st, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@")
	st=${rss% *} rss=${rss#* }
}
conf "$good"
maxrss /dev/null /dev/null bin/mailfetch -d "$W/spool.rss" -a f --poll-now
base=$rss
p=$($L/fakeimap-start "$T" huge-literal)
conf "$p"
for flag in --max-size=100000 ""; do
	S=$W/spool.huge$flag
	maxrss "$W/out" "$W/err" bin/mailfetch -d "$S" -a f $flag
	bin/mailparse -d "$S" --quiet < "$W/out" > "$W/recs" 2> /dev/null
	ok "huge-literal ${flag:-(no --max-size)}: exit 75, one line naming 127.0.0.1:$p and UID FETCH" \
	    bash -c '[ "$1" = 75 ] && oneline "$2" "UID FETCH"' _ $st $p
	sed 's/^/# /' "$W/err"
	ok "... peak memory ${rss} kB, within 16 MB of a run on five small messages (${base} kB)" \
	    test $rss -lt $((base + 16384))
	ok "... UIDs 1 and 2 out, 3, 4 and 5 owed" bash -c 'got 1 2 && [ "$(owed "$1")" = "3 4 5" ]' _ "$S"
done
again "$S"
echo "1..$n"
