#!/usr/bin/env bash
# artifactx against the indicator truth set tests/ioc-truth.jsonl: one
# message record per case, all through one artifactx run; per type (ip,
# url, domain, hash, email) precision and recall >= 0.95, overall
# (micro-averaged) >= 0.98; every false positive and false negative as a
# "#" comment with its case id.  The work is in tests/ioc_truth.py.
# TAP output; run from anywhere:
#   prove -v tests/210-artifactx-truth.t
# ARTIFACTX=... overrides the binary; for one group of cases:
#   python3 tests/ioc_truth.py --only url- bin/artifactx
cd "$(dirname "$0")/.." || exit 1

if [ -z "${ARTIFACTX:-}" ]; then
    if [ ! -x bin/artifactx ]; then
        echo "1..0 # SKIP bin/artifactx not built"
        exit 0
    fi
    ARTIFACTX=bin/artifactx
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "1..0 # SKIP python3 not installed"
    exit 0
fi
ARTIFACTX=$ARTIFACTX exec python3 tests/ioc_truth.py --tap
