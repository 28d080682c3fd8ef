# tests/lib/codematch-env.sh - sourced by the codematch tests: a temporary
# directory $T (removed on exit), an empty config file in it as
# MAILCASE_CONFIG, and the TAP helper "ok DESC SHELL-TEST".
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MAILCASE_CONFIG=$T/config
: > "$MAILCASE_CONFIG"
n=0
ok() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi; }
