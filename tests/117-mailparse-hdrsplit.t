#!/bin/sh
# mailparse's split of a top header block (C, TAP), built by make.
cd "$(dirname "$0")/.." || exit 1
exec build/tests/hdrsplit
