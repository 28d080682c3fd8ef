#!/bin/bash
# codematch reads and parses its input on one thread and links on
# another.  Under ThreadSanitizer (make tsan), records arriving in a
# trickle and in a flood, bad lines among them, must give no report, and
# every record its line in order.
cd "$(dirname "$0")/.." || exit 1
CM=build/tsan/bin/codematch
[ -x "$CM" ] || { echo "1..0 # SKIP $CM not built (make tsan)"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MAILCASE_CONFIG=/dev/null
python3 - "$T/in" <<'PY'
import hashlib, json, sys
with open(sys.argv[1], "w") as out:
    for i in range(600):
        if i % 97 == 5:
            out.write("not json %d\n" % i)
            continue
        s = "t%d" % i
        out.write(json.dumps({"v": 1, "kind": "message",
            "id": hashlib.sha256(s.encode()).hexdigest(),
            "message_id": s + "@x.example",
            "subject": "Report %d" % (i // 3),
            "in_reply_to": "t%d@x.example" % (i - i % 3) if i % 3 else None,
            "from": [{"name": "", "addr": "u%d@x.example" % (i // 3)}],
            "to": [], "text": "x", "html": None, "attachments": []}) + "\n")
PY
# A trickle: a line at a time through a pipe, each read by itself.
while IFS= read -r l; do printf '%s\n' "$l"; done < "$T/in" |
    $CM -d "$T/a" > "$T/out.a" 2> "$T/err.a"
# A flood: the whole file at once.
$CM -d "$T/b" < "$T/in" > "$T/out.b" 2> "$T/err.b"
n=0
for w in a b; do
	n=$((n+1))
	if ! grep -q ThreadSanitizer "$T/err.$w"; then echo "ok $n - $w: no ThreadSanitizer report"
	else echo "not ok $n - $w: ThreadSanitizer reports"; grep -m5 -A5 WARNING "$T/err.$w" | sed 's/^/# /'; fi
	n=$((n+1))
	got=$(jq -r '.id // .input' "$T/out.$w" | tr '\n' ' ')
	want=$(jq -Rr 'fromjson? // . | if type == "object" then .id else . end' "$T/in" | tr '\n' ' ')
	[ "$got" = "$want" ] && echo "ok $n - $w: every line has its record, in order" ||
	    echo "not ok $n - $w: records out of order or lost"
done
echo "1..$n"
