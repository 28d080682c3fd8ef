#!/bin/bash
# mailparse splits a well-formed top header block itself and hands GMime
# only its Content-* fields and the body (header.c, gm_split in record.c);
# MAILPARSE_SPLIT=0 hands GMime every message whole.  The records must be
# the same both ways: on every fixture, and on the whole corpus when
# ../shared is there.  One fixture checks the defects made for the fields
# GMime no longer sees, at offsets read off the file.
cd "$(dirname "$0")/.." || exit 1
MP=bin/mailparse
CORPUS=../shared/corpus
[ -x "$MP" ] || { echo "1..0 # SKIP $MP not built"; exit 0; }
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; }

# Both ways over the files listed in $1; $2 names them.
same() {
	xargs -d '\n' "$MP" --no-store --quiet < "$1" > "$out/split.jsonl" 2>/dev/null
	MAILPARSE_SPLIT=0 xargs -d '\n' "$MP" --no-store --quiet < "$1" \
	    > "$out/whole.jsonl" 2>/dev/null
	nrec=$(wc -l < "$out/split.jsonl")
	if [ "$nrec" -gt 0 ] && cmp -s "$out/split.jsonl" "$out/whole.jsonl"; then
		pass "$2: the same $nrec records split and whole"
	else
		fail "$2: records differ split and whole"
		diff <(jq -c '{p: .source.path, i: .source.index, d: .defects}' \
		    "$out/split.jsonl") <(jq -c '{p: .source.path, i: .source.index,
		    d: .defects}' "$out/whole.jsonl") | head -10 | sed 's/^/# /'
	fi
}

find tests/fixtures -name '*.eml' -o -name '*.mbox' | sort > "$out/fixtures"
same "$out/fixtures" "fixtures"

f=tests/fixtures/top-fields-defects.eml
at() { grep -a -b -m "$2" "^$1" "$f" | tail -1 | cut -d: -f1; }
want=$(jq -cn --arg s1 "$(at Subject: 1)" --arg s2 "$(at Subject: 2)" \
    --arg r "$(at Reply-To: 1)" --arg c "$(at Content-Type: 1)" '[
	{code: "unencoded-8bit-header", text: ("Subject at byte " + $s1)},
	{code: "unencoded-8bit-header", text: ("Subject at byte " + $s2)},
	{code: "duplicated-header", text: ("Subject at byte " + $s2)},
	{code: "invalid-rfc2047", text: ("=?US-ASCII?Q?Help Desk?= <help@example.org> at byte " + $r)},
	{code: "conflicting-parameter", text: ("charset at byte " + $c)}]')
got=$("$MP" --no-store --quiet "$f" | jq -c .defects)
if [ "$got" = "$want" ]; then
	pass "top fields' defects in GMime's words, offsets from the file's start"
else
	fail "top fields' defects"
	echo "#  got: $got"
	echo "# want: $want"
fi
got=$("$MP" --no-store --quiet "$f" | jq -c '[(.headers | length),
    .reply_to[0].addr, (.subject | startswith("caf\u00e9"))]')
if [ "$got" = '[9,"help@example.org",true]' ]; then
	pass "every top field is in the record, read from the split"
else
	fail "fields read from the split: $got"
fi

# Broken header blocks: the fixtures with bytes put in and taken out of
# their headers, the same mutants each run (a fixed seed).  The two ways
# may list defects in another order; the sets must be the same.
mkdir "$out/mut"
python3 - "$out/fixtures" "$out/mut" <<'PY'
import random, sys
random.seed(2026)
bits = [b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\n ", b"\xe9", b"\x00",
        b"=?", b"?=", b"=?utf-8?q?a b?=", b"From ", b"\n\n", b"Subject: again\n",
        b"Content-Type: text/plain; charset=a; charset=b\n", b"Date: x\n",
        b"To: ;\n", b"\"", b"<", b",", b"\n\t=?utf-8?q?a b?="]
n = 0
for path in open(sys.argv[1]).read().split():
    data = open(path, "rb").read()
    end = data.find(b"\n\n")
    end = end if end >= 0 else min(len(data), 2000)
    for k in range(12):
        m = bytearray(data)
        for _ in range(random.randint(1, 5)):
            at = random.randint(0, max(0, min(end, len(m) - 1)))
            if random.random() < 0.3:
                del m[at:at + random.randint(1, 3)]
            m[at:at] = random.choice(bits)
        open("%s/m%04d.eml" % (sys.argv[2], n), "wb").write(bytes(m))
        n += 1
PY
ls "$out"/mut/*.eml > "$out/mutants"
sorted='def s: if type == "object" then (with_entries(.value |= s) |
    if has("defects") then .defects |= sort_by(.code, .text) else . end)
    elif type == "array" then map(s) else . end; s'
xargs -d '\n' "$MP" --no-store --quiet < "$out/mutants" 2>/dev/null |
    jq -c "$sorted" > "$out/msplit.jsonl"
MAILPARSE_SPLIT=0 xargs -d '\n' "$MP" --no-store --quiet < "$out/mutants" \
    2>/dev/null | jq -c "$sorted" > "$out/mwhole.jsonl"
nmut=$(wc -l < "$out/mutants")
# (A mutant may read as an mbox of several messages: at least one each.)
if [ "$(wc -l < "$out/msplit.jsonl")" -ge "$nmut" ] &&
    cmp -s "$out/msplit.jsonl" "$out/mwhole.jsonl"; then
	pass "$nmut broken header blocks: the same records split and whole"
else
	fail "broken header blocks: records differ split and whole"
	diff "$out/msplit.jsonl" "$out/mwhole.jsonl" | head -4 | cut -c1-300 |
	    sed 's/^/# /'
fi

if [ -d "$CORPUS" ]; then
	find "$CORPUS" -type f -not -path '*/LICENSES/*' -not -name MANIFEST.md \
	    -not -name '.*' | sort > "$out/corpus"
	same "$out/corpus" "the corpus"
else
	n=$((n + 1))
	echo "ok $n # SKIP ../shared/corpus not found"
fi
echo "1..$n"
