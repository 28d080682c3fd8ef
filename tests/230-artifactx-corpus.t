#!/bin/bash
# The corpus through mailparse | artifactx, both built with ASan and
# UBSan: no crash, no sanitizer report, one record out per record in, and
# --flat output that holds to mailrecord(5).
cd "$(dirname "$0")/.." || exit 1
CORPUS=../shared/corpus
MP=build/asan/bin/mailparse AX=build/asan/bin/artifactx
[ -d "$CORPUS" ] || { echo "1..0 # SKIP ../shared/corpus not found"; exit 0; }
[ -x "$MP" ] && [ -x "$AX" ] || { echo "1..0 # SKIP sanitizer build missing (make asan)"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export ASAN_OPTIONS=detect_leaks=0:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
find "$CORPUS" -type f -not -path '*/LICENSES/*' -not -name MANIFEST.md -not -name '.*' |
    sort > "$T/files"
xargs -d '\n' "$MP" --no-store --quiet < "$T/files" > "$T/records" 2>/dev/null
"$AX" < "$T/records" > "$T/out" 2> "$T/err"; st=$?
"$AX" --flat < "$T/records" > "$T/flat" 2>> "$T/err"; st2=$?
echo "1..5"
if grep -q -E 'AddressSanitizer|runtime error' "$T/err"; then
	echo "not ok 1 - no sanitizer report"; grep -E -A10 'AddressSanitizer|runtime error' "$T/err" | head -30 | sed 's/^/# /'
else
	echo "ok 1 - no sanitizer report ($(wc -l < "$T/records") records)"
fi
[ "$st" = 0 ] && [ "$st2" = 0 ] && echo "ok 2 - exit 0 on well-formed records" || echo "not ok 2 - exit $st / $st2"
[ "$(wc -l < "$T/out")" = "$(wc -l < "$T/records")" ] &&
    [ "$(jq -c 'select(.artifacts | type != "array")' "$T/out" | wc -l)" = 0 ] &&
    echo "ok 3 - one record out per record in, each with artifacts" || echo "not ok 3 - record count or artifacts"
bad=$(python3 tests/flat_schema.py < "$T/flat" 2>&1 | head -5)
[ -z "$bad" ] && echo "ok 4 - --flat records hold to mailrecord(5) ($(wc -l < "$T/flat") records)" ||
    { echo "not ok 4 - --flat schema"; echo "$bad" | sed 's/^/# /'; }
# Every artifact of the nested records shows in the outer list too.
miss=$(jq -c '. as $r | [.messages[]?.artifacts[]? | [.type,.value]] - [$r.artifacts[] | [.type,.value]] | select(length > 0)' "$T/out" | head -3)
[ -z "$miss" ] && echo "ok 5 - nested messages' indicators count for the outer message" || echo "not ok 5 - $miss"
