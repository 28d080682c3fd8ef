#!/bin/bash
# codematch under procmail's conditions: 8 processes linking the same
# 2,000 messages at once, and SIGKILL at any moment followed by a re-run.
# Also each state a crash can leave, made by hand, and what a re-run and
# --fsck make of it.
cd "$(dirname "$0")/.." || exit 1
CM=${CODEMATCH:-bin/codematch}
[ -x "${CM%% *}" ] || { echo "1..0 # SKIP bin/codematch not built"; exit 0; }
# shellcheck source=tests/lib/codematch-env.sh
. tests/lib/codematch-env.sh

# 400 reports, each followed (later in the stream) by 4 replies that name
# it in In-Reply-To: 400 cases of 5 entries.
python3 - "$T/in" <<'PY'
import hashlib, json, sys
out = open(sys.argv[1], "w")
for i in range(2000):
    r, k = divmod(i, 5)
    seed = "m%d" % i
    rec = {"v": 1, "kind": "message",
           "id": hashlib.sha256(seed.encode()).hexdigest(),
           "message_id": seed + "@mail.example",
           "subject": "Report %d" % r if k == 0 else "Re: Report %d" % r,
           "from": [{"name": "", "addr": "user%d@corp.example" % r}],
           "to": [{"name": "", "addr": "soc@corp.example"}],
           "text": "message %d" % i, "html": None, "attachments": []}
    if k:
        rec["in_reply_to"] = "m%d@mail.example" % (r * 5)
    out.write(json.dumps(rec) + "\n")
PY

# shape SPOOL: "cases entries" and the entry counts per case, sorted.
shape() {
	echo "$(ls "$1/cases" | wc -l) $(cat "$1"/cases/*/thread | wc -l)"
	for f in "$1"/cases/*/thread; do wc -l < "$f"; done | sort | uniq -c | tr -s ' '
}
want="400 2000
 400 5"

S=$T/conc
for i in 1 2 3 4 5 6 7 8; do
	$CM -d "$S" < "$T/in" > "$T/out.$i" 2> "$T/err.$i" &
done
wait
ok "8 processes at once: 400 cases of 5 entries, each made once" '[ "$(shape "$S")" = "$want" ]'
ok "every message went in exactly once (one created/linked, 7 duplicates)" \
    '[ "$(cat "$T"/out.* | jq -r "select(.case.action != \"duplicate\") | .id" | sort | uniq -d | wc -l)" = 0 ] &&
     [ "$(cat "$T"/out.* | jq -r "select(.case.action != \"duplicate\") | .id" | wc -l)" = 2000 ] &&
     [ "$(cat "$T"/out.* | jq -r "select(.case.action == \"duplicate\") | .id" | wc -l)" = 14000 ]'
ok "no process failed" '[ "$(cat "$T"/out.* | jq -r "select(.case.action == \"error\")" | wc -l)" = 0 ]'
ok "--fsck: consistent" '$CM -d "$S" --fsck | grep -q "0 problems: consistent"'

# SIGKILL at many moments, a re-run of the whole input after each.
K=$T/kill
for delay in 0.005 0.02 0.05 0.1 0.15 0.2 0.3 0.4 0.6 0.8 1.0 1.3; do
	$CM -d "$K" -q < "$T/in" 2>/dev/null &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	$CM -d "$K" --fsck > "$T/fsck" 2>&1 || break
done
ok "after each kill, --fsck finds no problem" 'grep -q "0 problems" "$T/fsck"'
$CM -d "$K" < "$T/in" > "$T/rerun" 2>/dev/null
ok "a run after the kills completes the store: nothing doubled, nothing lost" \
    '[ "$(shape "$K")" = "$want" ]'
ok "and the run after it finds every message a duplicate" \
    '[ "$($CM -d "$K" < "$T/in" | jq -r .case.action | sort | uniq -c | tr -s " ")" = " 2000 duplicate" ]'
ok "--fsck: consistent, nothing half-done left" \
    '$CM -d "$K" --fsck | grep -q "0 index entries without their thread entry, 0 torn last lines.*0 problems: consistent"'

# Each state a crash leaves, made by hand.
C=$T/crash
head -4 "$T/in" | $CM -d "$C" > "$T/c1"
code=$(jq -r .case.code "$T/c1" | head -1)
# 1. The index entry of a reply is written, its thread entry is not.
sed -n 5p "$T/in" > "$T/next"
key=$(printf %s "m4@mail.example" | sha256sum | cut -c1-64)
mkdir -p "$C/index/msgid/${key:0:2}"
ln -s "$code" "$C/index/msgid/${key:0:2}/$key"
# 2. A torn last line in the thread.
printf '{"v":1,"kind":"entry","key":"0' >> "$C/cases/$code/thread"
# 3. A code taken for a case never made.
ln -s 12121212 "$C/index/code/12121212"
$CM -d "$C" --fsck > "$T/fsck"
ok "--fsck counts the half-done steps and calls them consistent" \
    'grep -q "1 codes taken without a case, 1 index entries without their thread entry, 1 torn last lines.*0 problems: consistent" "$T/fsck"'
r=$($CM -d "$C" < "$T/next" | jq -r '.case.action + " " + .case.code')
ok "the half-done message is finished in its case" '[ "$r" = "linked $code" ]'
ok "the torn line is gone, the entry is whole" \
    '[ "$(jq -c . "$C/cases/$code/thread" | wc -l)" = 5 ] && [ "$(tail -c1 "$C/cases/$code/thread" | od -An -c | tr -d " ")" = "\n" ]'
# 4. A case whose index entry is in, but whose directory is not.
sed -n 11p "$T/in" > "$T/orph"
key=$(printf %s "m10@mail.example" | sha256sum | cut -c1-64)
mkdir -p "$C/index/msgid/${key:0:2}"
ln -s 34343434 "$C/index/code/34343434"
ln -s 34343434 "$C/index/msgid/${key:0:2}/$key"
r=$($CM -d "$C" < "$T/orph" | jq -r '.case.action + " " + .case.code')
ok "a case cut off after its index entries is created under its code" '[ "$r" = "created 34343434" ]'
# 5. Problems are problems.
cp "$C/cases/$code/thread" "$T/save"
head -1 "$T/save" >> "$C/cases/$code/thread"
ok "--fsck finds a message entered twice" \
    '! $CM -d "$C" --fsck 2>&1 | grep -q "consistent$" && $CM -d "$C" --fsck 2>&1 | grep -q "entered twice"'
cp "$T/save" "$C/cases/$code/thread"
echo "1..$n"
