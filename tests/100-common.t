#!/bin/sh
# Unit tests of common/ (C, TAP), built by make.
cd "$(dirname "$0")/.." || exit 1
exec build/tests/common
