#!/bin/bash
# The whole corpus through mailparse built with AddressSanitizer and UBSan:
# every message yields exactly one top-level record, nothing crashes, no
# sanitizer speaks, and the mbox files split into the messages they hold.
cd "$(dirname "$0")/.." || exit 1
CORPUS=../shared/corpus
MP=build/asan/bin/mailparse
if [ ! -d "$CORPUS" ]; then
	echo "1..0 # SKIP ../shared/corpus not found"
	exit 0
fi
if [ ! -x "$MP" ]; then
	echo "1..0 # SKIP $MP not built (make asan)"
	exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

find "$CORPUS" -type f -not -path '*/LICENSES/*' -not -path '*/mbox/*' \
    -not -name MANIFEST.md -not -name '.*' | sort > "$out/files"
nfiles=$(wc -l < "$out/files")

# Two batches at once: the machine has two cores.
split -n l/2 "$out/files" "$out/part."
for p in "$out"/part.*; do
	xargs -d '\n' "$MP" --no-store --quiet < "$p" > "$p.jsonl" 2> "$p.err" &
done
wait
cat "$out"/part.*.jsonl > "$out/all.jsonl"
cat "$out"/part.*.err > "$out/all.err"

echo "1..6"
if grep -q -E 'AddressSanitizer|runtime error|LeakSanitizer' "$out/all.err"; then
	echo "not ok 1 - no sanitizer report"
	grep -E -A12 'AddressSanitizer|runtime error' "$out/all.err" | head -40 | sed 's/^/# /'
else
	echo "ok 1 - no sanitizer report over $nfiles files"
fi

nrec=$(wc -l < "$out/all.jsonl")
if [ "$nrec" -eq "$nfiles" ]; then
	echo "ok 2 - one record per message ($nrec records, $nfiles files)"
else
	echo "not ok 2 - $nrec records for $nfiles files"
fi

# Each file's path appears in exactly one record's source.
dups=$(jq -r '.source.path' "$out/all.jsonl" | sort | uniq -d | head -5)
missing=$(jq -r '.source.path' "$out/all.jsonl" | sort | comm -13 - "$out/files" | head -5)
if [ -z "$dups$missing" ]; then
	echo "ok 3 - every file has exactly one record"
else
	echo "not ok 3 - files with two records or none: $dups $missing"
fi

# Every record is well formed: the fields mailrecord(5) promises.
bad=$(jq -c 'select((.v != 1) or (.kind != "message") or
    (has("id") and has("source") and has("text") and has("attachments")
     and has("defects") and has("error") | not))' "$out/all.jsonl" | head -3)
if [ -z "$bad" ]; then
	echo "ok 4 - every record has v, kind, id, source, text, attachments, defects, error"
else
	echo "not ok 4 - malformed records"; echo "$bad" | cut -c1-300 | sed 's/^/# /'
fi

# The one message that cannot be read is the Outlook .msg (OLE2, not RFC 822).
errs=$(jq -r 'select(.error) | "\(.source.path) \(.error.code)"' "$out/all.jsonl")
if [ "$errs" = "$CORPUS/spamscope-mail-parser/mail_outlook_1 outlook-msg" ]; then
	echo "ok 5 - only the Outlook .msg is an error record"
else
	echo "not ok 5 - error records:"; echo "$errs" | head -10 | sed 's/^/# /'
fi

# The mbox files: counts checked by reading them.  unmunged.mbox.txt holds
# two messages whose bodies carry an unescaped "From Russia with love"
# line: three "From " lines, two messages.  content-length.mbox.txt needs
# its Content-Length headers to split right.
want="nice.mbox 3
mbox.rlug 5
content-length.mbox.txt 29
unmunged.mbox.txt 2
simple.mbox.txt 3
issue1189.mbox.txt 4"
got=$(for f in $(find "$CORPUS/mbox" -type f | sort); do
	n=$("$MP" --no-store --quiet "$f" 2>/dev/null | wc -l)
	echo "$(basename "$f") $n"
done | sort)
if [ "$got" = "$(echo "$want" | sort)" ]; then
	echo "ok 6 - corpus mbox files split into the right number of messages"
else
	echo "not ok 6 - mbox splits"; echo "$got" | sed 's/^/# /'
fi
