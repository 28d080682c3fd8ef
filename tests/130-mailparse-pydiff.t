#!/usr/bin/env bash
# Differential test: mailparse against an independent parser, Python's
# email package (policy.default), on the single-message files of
# ../shared/corpus.  Message-ID, decoded Subject, first From address,
# attachment count and attachment SHA-256s must agree on >= 99% of the
# messages each, and every disagreement must be explained, with the reason,
# in tests/pydiff-explained.txt.  The work is in tests/pydiff.py.  TAP output;
# run from anywhere:
#   prove tests/130-mailparse-pydiff.t
# MAILPARSE=... overrides the binary.  PYDIFF_SHOW=1 prints every
# disagreement with both values (for writing the explained file).
cd "$(dirname "$0")/.." || exit 1

CORPUS=../shared/corpus
if [ ! -d "$CORPUS" ]; then
    echo "1..0 # SKIP ../shared/corpus not found"
    exit 0
fi
if [ -z "${MAILPARSE:-}" ]; then
    if [ ! -x bin/mailparse ]; then
        echo "1..0 # SKIP bin/mailparse not built"
        exit 0
    fi
    MAILPARSE=bin/mailparse
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "1..0 # SKIP python3 not installed"
    exit 0
fi

LIST=$(mktemp) || exit 1
trap 'rm -f "$LIST"' EXIT
find "$CORPUS" -type f -not -path '*/LICENSES/*' -not -path '*/mbox/*' \
    -not -name MANIFEST.md -not -name '.*' -print0 >"$LIST"
if [ ! -s "$LIST" ]; then
    echo "1..0 # SKIP no message files in $CORPUS"
    exit 0
fi

python3 tests/pydiff.py --mailparse "$MAILPARSE" \
    --explained tests/pydiff-explained.txt --files-from "$LIST" \
    ${PYDIFF_SHOW:+--show}
