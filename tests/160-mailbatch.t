#!/bin/bash
# scripts/mailbatch with two local jobs gives the records one mailparse
# process gives, source offsets aside (they count from each block).
cd "$(dirname "$0")/.." || exit 1
[ -x bin/mailparse ] || { echo "1..0 # SKIP bin/mailparse not built"; exit 0; }
command -v parallel >/dev/null || { echo "1..0 # SKIP GNU parallel not installed"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "1..3"
# An archive with enough messages to make many blocks, an unescaped
# "From the desk" body line among them.
for i in 1 2 3 4 5 6 7 8; do
	cat share/demo/mailbox.mbox tests/fixtures/mbox-from-quoting.mbox
done > "$T/archive.mbox"
# Codes are random: of the case, compare what happened.
strip='del(.source) | del(.messages[]?.source) | if .case then .case |= {action, link} else . end'
# One process, with the stages mailbatch runs per block.
one="bin/mailparse --no-store --quiet $T/archive.mbox"
[ -x bin/artifactx ] && one="$one | bin/artifactx"
[ -x bin/codematch ] && one="$one | MAILCASE_CONFIG=/dev/null bin/codematch -d $T/onespool"
sh -c "$one" | jq -c "$strip" > "$T/one"
HOME=$T MAILCASE_CONFIG=/dev/null scripts/mailbatch -j 2 -b 4k "$T/archive.mbox" > "$T/batch.raw" 2> "$T/err"
jq -c "$strip" "$T/batch.raw" > "$T/batch"
[ "$(wc -l < "$T/one")" = 64 ] && echo "ok 1 - one process: 64 records" || echo "not ok 1 - one process gave $(wc -l < "$T/one")"
if cmp -s "$T/one" "$T/batch"; then
	echo "ok 2 - mailbatch -j 2 in 4 KiB blocks: the same records in the same order"
else
	echo "not ok 2 - mailbatch records differ"
	diff <(cut -c1-150 "$T/one") <(cut -c1-150 "$T/batch") | head -6 | sed 's/^/# /'
fi
blocks=$(jq -r 'select(.source.index == 0) | .source.offset' "$T/batch.raw" | wc -l)
[ "$blocks" -gt 4 ] && echo "ok 3 - the archive was cut into $blocks blocks" || echo "not ok 3 - only $blocks blocks"
