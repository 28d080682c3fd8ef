# servers.sh - sourced by the tests that need the mail servers of
# mailtest-up on loopback, from the top of the tree:
#
#	. tests/lib/servers.sh
#	need_root "Dovecot switches users"	# else 1..0 # SKIP
#	need_cmds dovecot curl jq		# the same when one is missing
#	need_bins bin/mailfetch			# the same when one is not built
#	servers_up MT_NO_POSTFIX=1		# mailtest-up's settings
#
# servers_up starts the servers in $T (short: socket paths), makes $W for
# the test's own files, exports DIR/env (MT_*), and stops and removes it
# all at exit; MT_KEEP=1 keeps both for a look.  A machine that cannot
# run the servers skips the test; a start that fails is one failing test.

skip() { echo "1..0 # SKIP $*"; exit 0; }

# TAP checks (after servers_up, which makes $W):
#   ok DESC COMMAND...	the command decides; what it prints shows only
#			when it fails
#   pass DESC, fail DESC	the same by hand ($W/why holds the reason)
#   say TEXT		inside a check: why it failed
#   sh_ 'CODE' ARGS...	CODE in a subshell (exit ends only it), ARGS as $1...
n=0
pass() { n=$((n+1)); echo "ok $n - $1"; }
fail() { n=$((n+1)); echo "not ok $n - $1"; [ -s "$W/why" ] && sed 's/^/# /' "$W/why" | head -n 16 | cut -c1-300; }
ok() { local d=$1; shift; if "$@" > "$W/why" 2>&1; then pass "$d"; else fail "$d"; fi; : > "$W/why"; }
say() { echo "$*"; }
sh_() { ( __code=$1; shift; eval "$__code" ) }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root ($1)"; }
need_cmds() { local c; for c; do command -v "$c" > /dev/null || skip "$c not installed"; done; }
need_bins() { local b; for b; do [ -x "$b" ] || skip "$b not built"; done; }

servers_up() {
	local rc
	: "${L:=tests/lib}"
	T=$(mktemp -d /tmp/mt.XXXXXX)
	W=$(mktemp -d)
	trap '$L/mailtest-down "$T"; [ "${MT_KEEP:-0}" = 1 ] && echo "# kept $T $W" || rm -rf "$W"' EXIT
	env "$@" "$L/mailtest-up" "$T" 2> "$W/up.err"
	rc=$?
	[ $rc = 77 ] && skip "$(tail -n1 "$W/up.err")"
	if [ $rc != 0 ]; then
		echo "1..1"; echo "not ok 1 - mailtest-up exit $rc"
		sed 's/^/# /' "$W/up.err"; exit 1
	fi
	set -a; . "$T/env"; set +a
}
