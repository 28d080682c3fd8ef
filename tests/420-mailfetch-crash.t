#!/bin/bash
# mailfetch's exactly-once, as the acceptance line puts it: 2,000 messages
# fetched from a real Dovecot through mailfetch | mailparse | codematch,
# mailfetch killed with SIGKILL at random moments and run again until a
# run ends with nothing owed; then every message is in the store exactly
# once.  The moments are random, the checks are not: they look at the
# state left at the end, never at the time.  Also a stream cut at every
# byte of a message's first lines, as a kill can cut it.
cd "$(dirname "$0")/.." || exit 1
. tests/lib/servers.sh
need_root "Dovecot switches users"
need_cmds dovecot
need_cmds jq python3 sha256sum
need_bins bin/mailfetch bin/mailparse bin/codematch
[ -r /proc/self/io ] || { echo "1..0 # SKIP no /proc/PID/io to time the kills by"; exit 0; }
L=tests/lib
CORPUS=${CORPUS:-../shared/corpus}	# without it, generated messages
N=2000		# messages
BATCH=600	# --max: several runs, each longer than the cursor's save interval
MAXRUNS=200
servers_up MT_NO_OAUTH=1
export MAILCASE_CONFIG=$W/config
cat > "$MAILCASE_CONFIG" <<EOF
account soc
imap_url imap://localhost:$MT_IMAP_PORT
user alice
password alicepw
tls_ca_file $MT_CACERT
EOF
chmod 600 "$MAILCASE_CONFIG"

# The messages.  From the corpus: each file whose Message-ID (or, without
# one, its bytes) no earlier file has, for codematch takes a second
# message with the same Message-ID for the same message, a duplicate with
# no thread entry of its own; a dry run of mailparse | codematch on the
# bytes Dovecot will serve picks them.  Generated ones make up the rest.
mkdir -p "$W/cand" "$W/src" "$W/served"
if [ -d "$CORPUS" ]; then
	find "$CORPUS" -type f -not -path '*/LICENSES/*' -not -path '*/mbox/*' \
	    -not -name MANIFEST.md -not -name '.*' -size +0 | sort > "$W/corpus.list"
fi
: >> "$W/corpus.list"
# cand/i: the bytes Dovecot will serve for corpus file i (checked below)
python3 - "$W/corpus.list" "$W/cand" <<'EOF'
import re, sys
for i, path in enumerate(open(sys.argv[1]).read().splitlines(), 1):
    data = open(path, "rb").read()
    served = re.sub(rb"(?<!\r)\n", b"\r\n", data).replace(b"\0", b"\x80")
    open("%s/%05d" % (sys.argv[2], i), "wb").write(served)
EOF
if [ -s "$W/corpus.list" ]; then
	ls "$W/cand" | sed "s|^|$W/cand/|" | xargs bin/mailparse --no-store --quiet > "$W/dry.jsonl" 2> /dev/null
	bin/codematch -d "$W/dry" < "$W/dry.jsonl" 2> /dev/null |
	    jq -r 'select(.kind == "message" and (.case.action == "created" or .case.action == "linked")) |
		.source.path | split("/") | last' | head -n $N > "$W/chosen"
fi
: >> "$W/chosen"
python3 - "$W/corpus.list" "$W/chosen" "$W/src" $N <<'EOF'
import sys
paths = open(sys.argv[1]).read().splitlines()
chosen = open(sys.argv[2]).read().splitlines()
out, n = sys.argv[3], int(sys.argv[4])
i = 0
for c in chosen:
    i += 1
    with open(paths[int(c) - 1], "rb") as f:
        open("%s/%05d" % (out, i), "wb").write(f.read())
# The rest generated: LF line ends as a Maildir keeps them, some lines
# mboxrd has to quote, a body of 4-40 KB so that kills cut messages.
while i < n:
    i += 1
    body = "".join("line %d of generated message %d, some text to make it longer\n" % (k, i)
                   for k in range(60 + (i * 37) % 540))
    body += "From the start of a line\n>From quoted once\n"
    open("%s/%05d" % (out, i), "w").write(
        "From: Gen Sender <gen%d@example.test>\nTo: soc@example.test\n"
        "Subject: generated message %d\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
        "Message-ID: <gen-%d.420@example.test>\n\n%s" % (i % 50, i, i, body))
print("# %d messages from the corpus, %d generated" % (len(chosen), n - len(chosen)))
EOF
$L/maildir-fill -u alice "$MT_MAILDIR_ROOT/alice/Maildir" $N "$W/src" ||
    { echo "Bail out! maildir-fill failed"; exit 1; }

# What the server serves, fetched once with imaplib: the expected ids.
python3 - "$MT_IMAP_PORT" $N "$W/served" <<'EOF'
import imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice", "alicepw")
m.select("INBOX", readonly=True)
typ, data = m.uid("FETCH", "1:%s" % sys.argv[2], "(UID BODY.PEEK[])")
for d in data:
    if isinstance(d, tuple):
        uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
        open("%s/%d" % (sys.argv[3], uid), "wb").write(d[1])
m.logout()
EOF
for i in $(seq $N); do echo "$i $(sha256sum < "$W/served/$i" | cut -c1-64)"; done > "$W/expected"
cut -d' ' -f2 "$W/expected" | sort > "$W/expected.ids"
echo "1..16"
ok "Dovecot serves $N messages, UID i the i-th file, with distinct ids" bash -c '
	[ "$(ls "$1" | wc -l)" = "$2" ] && [ "$(uniq "$3" | wc -l)" = "$2" ]' _ "$W/served" $N "$W/expected.ids"
ok "... each as its file with bare LF made CRLF and NUL made 0x80, byte for byte" python3 - "$W/src" "$W/served" $N <<'EOF'
import re, sys
bad = []
for i in range(1, int(sys.argv[3]) + 1):
    data = open("%s/%05d" % (sys.argv[1], i), "rb").read()
    want = re.sub(rb"(?<!\r)\n", b"\r\n", data).replace(b"\0", b"\x80")
    if open("%s/%d" % (sys.argv[2], i), "rb").read() != want:
        bad.append(i)
print("differ:", bad[:10], len(bad))
sys.exit(1 if bad else 0)
EOF

# The runs.  mailfetch's pid and status come from the subshell that
# starts it: that pid is the one killed, nothing else.
S=$W/spool
CUR=$S/fetch/soc/$(printf %s INBOX | md5sum | cut -c1-32)
# owed: the cursor's pending and held lines, empty when nothing; next: its next
owed() { sed -n 's/^\(pending\|held\) //p' "$CUR" 2>/dev/null | tr '\n' ' '; }
next() { sed -n 's/^next //p' "$CUR" 2>/dev/null; }
# The moment of each kill: when mailfetch has written a random number of
# bytes (its wchar in /proc/PID/io), from 0 to what a whole batch holds.
batch=$(( $(cat "$W"/served/* | wc -c) / N * BATCH ))
wchar() { local k v w=; while read -r k v; do [ "$k" = wchar: ] && w=$v; done < "/proc/$1/io"; echo "$w"; }
runs=0 kills=0 mid=0 finished=0
: > "$W/runs"
while [ $runs -lt $MAXRUNS ]; do
	runs=$((runs + 1))
	r=$W/run.$runs
	( bin/mailfetch -d "$S" -a soc --first-run-max $BATCH --max $BATCH 2> "$r.err" &
	  echo $! > "$r.pid"; wait $!; echo $? > "$r.st" ) 2> /dev/null |
	  { bin/mailparse -d "$S" --quiet 2> "$r.mperr"; echo $? > "$r.mpst"; } |
	  bin/codematch -d "$S" > "$r.jsonl" 2> "$r.cmerr" &
	pl=$!
	# The first 30 runs are killed, unless they end first.
	at=-
	if [ $runs -le 30 ]; then
		at=$(( (RANDOM << 15 | RANDOM) % batch ))
		until [ -s "$r.pid" ]; do sleep 0.001; done
		pid=$(cat "$r.pid")
		while [ ! -e "$r.st" ] && w=$(wchar $pid 2> /dev/null) && [ "${w:-0}" -lt $at ]; do
			sleep 0.001
		done
		[ -e "$r.st" ] || kill -KILL $pid 2> /dev/null
	fi
	wait $pl
	cmst=$?
	st=$(cat "$r.st") mpst=$(cat "$r.mpst")
	recs=$(wc -l < "$r.jsonl")
	if [ "$st" = 137 ]; then
		kills=$((kills + 1))
		[ "$recs" -gt 0 ] && [ "$recs" -lt $BATCH ] && mid=$((mid + 1))
	fi
	echo "$runs $st $mpst $cmst $recs at=$at next=$(next) owed=$(owed)" >> "$W/runs"
	nx=$(next)
	if [ "$st" = 0 ] && [ -z "$(owed)" ] && [ "${nx:-0}" -gt $N ]; then
		finished=1
		break
	fi
	# A run that is not killed ends 0; anything else is a failure to show.
	[ "$st" = 0 ] || [ "$st" = 137 ] ||
	    echo "# run $runs: mailfetch exit $st: $(head -n 3 "$r.err")"
done
cat "$W"/run.*.jsonl > "$W/all.jsonl"
trunc=$(jq -r 'select(.kind == "error" and .error.code == "truncated") | 1' "$W/all.jsonl" | wc -l)
msgs=$(jq -r 'select(.kind == "message") | 1' "$W/all.jsonl" | wc -l)
echo "# $runs runs, $kills kills ($mid in the middle of the output), $((msgs - N)) messages sent again, $trunc truncated records"

ok "the loop ended: run $runs exited 0 with nothing owed and next past $N" test $finished = 1
ok "at least 3 kills came in the middle of the output ($mid of $kills)" test $mid -ge 3
ok "every run not killed: exit 0; mailparse 0, 65 with an error record; codematch 0" bash -c '
	while read -r k st mpst cmst rest; do
		err=$(jq -r "select(.error != null) | 1" "$1/run.$k.jsonl" | wc -l)
		{ [ $st = 0 ] || [ $st = 137 ]; } && [ $cmst = 0 ] &&
		    { [ $mpst = 0 ] || { [ $mpst = 65 ] && [ $err -gt 0 ]; }; } ||
		    { echo "run $k: $st $mpst $cmst $rest"; exit 1; }
	done < "$1/runs"' _ "$W"
ok "every message is in msg/ exactly as the server's bytes" python3 - "$S" "$W/expected" "$W/served" <<'EOF'
import sys
bad = 0
for line in open(sys.argv[2]):
    uid, id = line.split()
    try:
        same = open("%s/msg/%s/%s" % (sys.argv[1], id[:2], id), "rb").read() == \
            open("%s/%s" % (sys.argv[3], uid), "rb").read()
    except FileNotFoundError:
        same = False
    if not same:
        bad += 1
        if bad < 5:
            print("UID %s: msg/%s/%s missing or different" % (uid, id[:2], id))
sys.exit(1 if bad else 0)
EOF
cat "$S"/cases/*/thread | jq -r 'select(.kind == "entry") | .id' | sort > "$W/entries"
ok "each message has exactly one thread entry over all cases: none doubled, none missing, none else" bash -c '
	echo "doubled: $(uniq -d "$1" | wc -l), missing: $(comm -23 "$2" "$1" | wc -l), others: $(sort -u "$1" | comm -13 "$2" - | wc -l)"
	cmp -s "$1" "$2"' _ "$W/entries" "$W/expected.ids"
ok "codematch --fsck: consistent, nothing half-done" bash -c '
	bin/codematch -d "$1" --fsck | tee /dev/stderr |
	    grep -q "; 0 codes taken without a case, 0 index entries without their thread entry, 0 torn last lines.*; 0 problems: consistent$"' _ "$S"
ok "codematch --list --json: the cases hold $N messages" bash -c '
	[ "$(bin/codematch -d "$1" --list --json | jq -s "map(.messages) | add")" = "$2" ]' _ "$S" $N
ok "the records: only messages and truncated error records" bash -c '
	jq -c "select(.kind != \"message\" and (.kind != \"error\" or .error.code != \"truncated\")) | {kind, error, source}" "$1" | head -3 | grep . && exit 1
	exit 0' _ "$W/all.jsonl"
ok "each message record is verified: source imap, its UID, the id of that UID's bytes" bash -c '
	jq -r "select(.kind == \"message\") | \"\(.source.kind) \(.source.uidvalidity) \(.source.uid) \(.id)\"" "$1" |
	    awk -v uv="$(sed -n "s/^uidvalidity //p" "$3")" "
		NR == FNR { want[\$1] = \$2; next }
		\$1 != \"imap\" || \$2 != uv || want[\$3] != \$4 { print; bad = 1 }
		END { exit bad }" "$2" -' _ "$W/all.jsonl" "$W/expected" "$CUR"
ok "each message came out whole at least once, and once only as a case; again only as a duplicate" bash -c '
	jq -r "select(.kind == \"message\") | \"\(.id) \(.case.action)\"" "$1" | sort | awk "
		NR == FNR { want[\$1] = 1; next }
		{ seen[\$1]++ } \$2 != \"duplicate\" { first[\$1]++ }
		\$2 != \"duplicate\" && \$2 != \"created\" && \$2 != \"linked\" { print \"action\", \$0; bad = 1 }
		END { for (i in want) if (first[i] != 1) { print i, seen[i] + 0, first[i] + 0; bad = 1 }
		      exit bad }" "$2" -' _ "$W/all.jsonl" "$W/expected.ids"
# What mailfetch(1) promises: sent again at most what was written since
# the cursor was last replaced ("every 64 messages"), only after a kill.
every=$(sed -n 's/.*(every \([0-9]*\) messages.*/\1/p' share/man/man1/mailfetch.1)
ok "a run sends again at most ${every:=64} messages (mailfetch(1)), and only after a killed run" bash -c '
	prev=137 bad=0
	declare -A seen
	for k in $(seq "$2"); do
		f=$1/run.$k.jsonl again=0
		for id in $(jq -r "select(.kind == \"message\") | .id" "$f"); do
			[ -n "${seen[$id]}" ] && again=$((again + 1))
			seen[$id]=1
		done
		if [ $again -gt $3 ] || { [ $again -gt 0 ] && [ "$prev" != 137 ]; }; then
			echo "run $k: $again sent again, the run before exited $prev"; bad=1
		fi
		prev=$(cat "$1/run.$k.st")
	done
	exit $bad' _ "$W" $runs $every
ok "the cursor: Dovecot's UIDVALIDITY, next $((N + 1)), nothing pending or held" bash -c '
	uv=$(doveadm -c "$MT_DOVECOT_CONF" -f flow mailbox status -u alice uidvalidity INBOX | sed "s/.*=//")
	grep -v "^#" "$1"; [ "$(grep -v "^#" "$1")" = "uidvalidity $uv
next $(($2 + 1))" ]' _ "$CUR" $N
bin/mailfetch -d "$S" -a soc --max $BATCH > "$W/last.mbox" 2> "$W/last.err"
ok "one more run: exit 0, nothing to send" bash -c '[ "$1" = 0 ] && [ ! -s "$2" ] && [ ! -s "$3" ]' \
    _ $? "$W/last.mbox" "$W/last.err"

# A kill stops mailfetch inside a write(2) of any size, where the pipe
# was full: the reader then has the stream up to any byte.  Cut there,
# the messages before are whole and verified and the one cut is at most
# an error record: never a message of its own, never glued to the last.
bin/mailfetch -d "$S" -a soc --poll-now --max 3 > "$W/three.mbox" 2> /dev/null
ok "a stream cut at any byte of a message's From_ and X-Mailcase-Source lines: no other message" \
    python3 - "$W/three.mbox" "$S" "$(sed -n 1p "$W/expected" | cut -d' ' -f2)" <<'EOF'
import re, subprocess, sys, json
data = open(sys.argv[1], "rb").read()
starts = [m.start() for m in re.finditer(rb"^From mailfetch@", data, re.M)]
first_id = sys.argv[3]
if len(starts) != 3:
    sys.exit("not three messages")
s = starts[1]
e = data.index(b"\n", data.index(b"\n", s) + 1) + 1	# after the header line
bad = {}
for cut in list(range(s - 2, e + 3)) + list(range(e + 3, starts[2], 997)):
    p = subprocess.run(["bin/mailparse", "-d", sys.argv[2], "--no-store", "--quiet"],
                       input=data[:cut], capture_output=True)
    recs = [json.loads(l) for l in p.stdout.splitlines()]
    got = ["first" if r["kind"] == "message" and r["id"] == first_id else
           "message(%s source, %s)" % (r["source"]["kind"],
               ",".join(d["code"] for d in r["defects"]) or "no defect")
           if r["kind"] == "message" else r["kind"] + ":" + r["error"]["code"]
           for r in recs]
    # before s, the first one is cut (or only its separator: then whole)
    if cut < s:
        good = got in (["error:truncated"], ["first"])
    else:
        good = got in (["first", "error:truncated"], ["first"])
    if not good:
        bad.setdefault(" + ".join(got), []).append(cut - s)
for what, cuts in bad.items():
    print("cut %d..%d bytes into the second message (%d cuts): %s" % (cuts[0], cuts[-1], len(cuts), what))
sys.exit(1 if bad else 0)
EOF
