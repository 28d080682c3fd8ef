#!/bin/bash
# mailfetch against a real Dovecot and OAuth2 server on loopback
# (tests/lib/mailtest-up): STARTTLS, IMAPS and certificate checks, a server
# without STARTTLS (tests/lib/fakeimap.py), basic and OAuth logins and the
# token cache, first-run and later limits, oldest and latest first with the
# owed queue, UIDVALIDITY changes, --poll-now --uid --check, read-only
# fetches, --mark-seen and --move-to, byte-exact 8-bit messages through
# mailparse, messages held for their size, the folder lock, and folder
# names outside ASCII.  Every expected value is worked out here from what
# the test put on the server (doveadm, curl), not copied from mailfetch.
# Marking and moving across several UID FETCH commands goes through a small
# proxy in front of Dovecot that runs commands one at a time (see there).
# MAILFETCH=path and MAILPARSE=path test other builds.
cd "$(dirname "$0")/.." || exit 1
. tests/lib/servers.sh
need_root "Dovecot switches users"
need_cmds dovecot
need_cmds curl jq flock python3 sha256sum md5sum
MF=${MAILFETCH:-bin/mailfetch} MP=${MAILPARSE:-bin/mailparse} L=tests/lib
need_bins $MF $MP
servers_up MT_NO_POSTFIX=1
C=$MT_DOVECOT_CONF
S=$W/spool			# mailfetch's and mailparse's spool
CF=$W/config			# the accounts, mode 0600
DLOG=$MT_LOG_DIR/dovecot.log
MD=$MT_MAILDIR_ROOT/alice/Maildir
export MAILCASE_CONFIG=$CF


# run ACCOUNT ARGS...: mailfetch to $W/out and $W/err, exit status in $rc
run() { timeout 30 $MF -d "$S" -a "$@" > "$W/out" 2> "$W/err"; rc=$?; }
# UIDs of the messages in an mboxrd stream, in stream order, one a line
uids() { awk '/^X-Mailcase-Source: / && prev ~ /^From mailfetch@/ {
	if (match($0, /; uid=[0-9]+;/)) print substr($0, RSTART + 6, RLENGTH - 7) }
	{ prev = $0 }' "${1:-$W/out}"; }
nmsg() { uids "$@" | wc -l; }
cursor() { echo "$S/fetch/$1/$(printf %s "$2" | md5sum | cut -c1-32)"; }
# the UIDs of a cursor line ("pending 1:3,7"), one a line
cursor_set() { sed -n "s/^$2 //p" "$1" | tr , '\n' | awk -F: 'NF { hi = NF > 1 ? $2 : $1; for (i = $1; i <= hi; i++) print i }'; }
dstat() { doveadm -c "$C" -f flow mailbox status -u "${3:-alice}" "$2" "$1" | sed "s/.*$2=//"; }
dsearch() { doveadm -c "$C" search -u "${3:-alice}" mailbox "$1" "$2" | awk '{ print $2 }' | sort -n; }
msgids() { doveadm -c "$C" -f flow fetch -u "${2:-alice}" hdr.message-id mailbox "$1" ALL | sed 's/^hdr.message-id=//' | sort; }
stream_msgids() { grep -a -i '^Message-ID: ' "${1:-$W/out}" | tr -d '\r' | sed 's/^[^:]*: //' | sort; }
ostats() { curl -sS "$MT_OAUTH_BASE/stats" > "$W/$1"; }
odiff() { echo $(( $(jq ".$2" "$W/$1.stats") - $(jq ".$2" "$W/$1.before") )); }
lines() { echo $(( $(wc -l < "$1") )); }
# dovecot's log after byte $1: wait (bounded) until a line matches $2
logwait() { local i; for i in $(seq 100); do tail -c +$(($1 + 1)) "$DLOG" | grep -q -- "$2" && return 0; sleep 0.02; done
	say "no '$2' in dovecot.log"; tail -c +$(($1 + 1)) "$DLOG" | tail -n 3; return 1; }
logsize() { stat -c %s "$DLOG"; }
sha() { sha256sum < "$1" | cut -c1-64; }
fill() { $L/maildir-fill -u "${U:-alice}" ${FOLDER:+-m "$FOLDER"} ${SEED:+--seed "$SEED"} "$@" > /dev/null; }
append() { curl -sS -T "$2" "imap://127.0.0.1:$MT_IMAP_PORT/$1" -u alice:alicepw; }

# A fake without STARTTLS, one for the refusal (its log is that run's alone), one for tls off.
fake1=$($L/fakeimap-start "$T" normal fake-starttls)
fake2=$($L/fakeimap-start "$T" normal fake-clear)
IMAP=imap://localhost:$MT_IMAP_PORT IMAPS=imaps://localhost:$MT_IMAPS_PORT
{
	for a in plain:"$IMAP" imaps:"$IMAPS"; do
		printf 'account %s\nimap_url %s\ntls_ca_file %s\nuser alice\npassword alicepw\ntimeout 10\n\n' \
			"${a%%:*}" "${a#*:}" "$MT_CACERT"
	done
	printf 'account noca\nimap_url %s\nuser alice\npassword alicepw\ntimeout 10\n\n' "$IMAP"
	printf 'account noverify\nimap_url %s\ntls_verify off\nuser alice\npassword alicepw\ntimeout 10\n\n' "$IMAPS"
	printf 'account fake\nimap_url imap://127.0.0.1:%s\nuser alice\npassword fakepw\ntimeout 10\n\n' "$fake1"
	printf 'account fakeoff\nimap_url imap://127.0.0.1:%s\ntls off\nuser alice\npassword fakepw\ntimeout 10\n\n' "$fake2"
	printf 'account wrong\nimap_url %s\ntls_ca_file %s\nuser alice\npassword Wr0ngPassw0rd\ntimeout 10\n\n' "$IMAP" "$MT_CACERT"
	printf 'account bob\nimap_url %s\ntls_ca_file %s\nuser bob\npassword bobpw\ntimeout 10\n\n' "$IMAP" "$MT_CACERT"
	printf 'account utf\nimap_url %s\ntls_ca_file %s\nuser alice\npassword alicepw\nfolder Tëst\ntimeout 10\n\n' "$IMAP" "$MT_CACERT"
	for a in oa:oauth ox:xoauth2 obad:oauth ocross:oauth; do
		sec=$MT_OAUTH_CLIENT_SECRET rt=rt-alice
		[ "${a%%:*}" = obad ] && sec=N0tTheSecret
		[ "${a%%:*}" = ocross ] && rt=rt-bob	# bob's tokens, alice's login
		printf 'account %s\nimap_url %s\ntls_ca_file %s\nuser alice\nauth %s\ntoken_url %s\nclient_id %s\nclient_secret %s\nrefresh_token %s\ntimeout 10\n\n' \
			"${a%%:*}" "$IMAP" "$MT_CACERT" "${a#*:}" "$MT_OAUTH_URL" "$MT_OAUTH_CLIENT_ID" "$sec" "$rt"
	done
} > "$CF"
chmod 600 "$CF"
fill "$MD" 5			# alice's INBOX: UIDs 1..5
NIN=$(dstat INBOX messages)

# --- connection and TLS ---------------------------------------------------
m=$(logsize); run plain
ok "imap:// with STARTTLS and tls_ca_file: the whole INBOX ($NIN messages), exit 0" \
	sh_ '[ $rc = 0 ] && [ "$(nmsg)" = "$NIN" ] && [ ! -s "$W/err" ] || { say "exit $rc, $(nmsg) messages"; cat "$W/err"; false; }'
ok "... logged in over TLS (STARTTLS), as Dovecot's log says" logwait "$m" 'Login: user=<alice>, method=PLAIN, .*, TLS'
run imaps
ok "imaps:// with tls_ca_file: the whole INBOX" sh_ '[ $rc = 0 ] && [ "$(nmsg)" = "$NIN" ] || { say "exit $rc"; cat "$W/err"; false; }'
run noca
ok "tls_verify on, no tls_ca_file, a private CA: exit 78, one stderr line naming the server" \
	sh_ '[ $rc = 78 ] && [ "$(lines "$W/err")" = 1 ] && grep -q "localhost:$MT_IMAP_PORT" "$W/err" &&
	    grep -qi "certificate" "$W/err" && [ ! -s "$W/out" ] || { say "exit $rc"; cat "$W/err"; false; }'
run noverify
ok "tls_verify off: works without the CA" sh_ '[ $rc = 0 ] && [ "$(nmsg)" = "$NIN" ] || { say "exit $rc"; cat "$W/err"; false; }'
run fake
for i in $(seq 100); do grep -q 'connection closed' "$MT_LOG_DIR/fake-starttls.log" && break; sleep 0.02; done
ok "imap:// to a server without STARTTLS: refused, exit 78, the server named" \
	sh_ '[ $rc = 78 ] && [ "$(lines "$W/err")" = 1 ] && grep -q "127.0.0.1:$fake1" "$W/err" &&
	    grep -q STARTTLS "$W/err" && [ ! -s "$W/out" ] || { say "exit $rc"; cat "$W/err"; false; }'
ok "... and no LOGIN or AUTHENTICATE was sent in clear" \
	sh_ 'grep -q "C: " "$MT_LOG_DIR/fake-starttls.log" && ! grep -Eiq "C: [^ ]+ (LOGIN|AUTHENTICATE)" "$MT_LOG_DIR/fake-starttls.log" ||
	    { cat "$MT_LOG_DIR/fake-starttls.log"; false; }'
python3 $L/fakeimap.py --dump "$W/fakemsgs"
run fakeoff
ok "tls off: the fake's five messages, each byte for byte" sh_ '
	[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "1 2 3 4 5 " ] || { say "exit $rc: $(uids | tr "\n" " ")"; cat "$W/err"; exit 1; }
	$MP -d "$S" --quiet < "$W/out" > "$W/fake.rec" || exit 1
	for i in 1 2 3 4 5; do
		[ "$(jq -r -s ".[$((i-1))].id" "$W/fake.rec")" = "$(sha "$W/fakemsgs/$i.eml")" ] || { say "message $i differs"; exit 1; }
	done'

# --- basic logins and credentials -------------------------------------------
run wrong
ok "wrong password: exit 77, one stderr line naming the server and the login step, no password" \
	sh_ '[ $rc = 77 ] && [ "$(lines "$W/err")" = 1 ] && grep -q "localhost:$MT_IMAP_PORT: login" "$W/err" &&
	    ! grep -q Wr0ngPassw0rd "$W/err" "$W/out" || { say "exit $rc"; cat "$W/err"; false; }'
printf 'account leaky\nimap_url %s\ntls_ca_file %s\nuser alice\npassword alicepw\n' "$IMAP" "$MT_CACERT" > "$W/conf644"
chmod 644 "$W/conf644"
MAILCASE_CONFIG=$W/conf644 run leaky
ok "a config file with a password and mode 0644: refused, exit 78, saying so" \
	sh_ '[ $rc = 78 ] && grep -q "conf644" "$W/err" && grep -q "0644" "$W/err" && [ ! -s "$W/out" ] &&
	    ! grep -q alicepw "$W/err" || { say "exit $rc"; cat "$W/err"; false; }'
printf 'account ev\nimap_url %s\ntls_ca_file %s\nuser alice\npasswordeval "printf %%s\\\\n alicepw second-line"\n' \
	"$IMAP" "$MT_CACERT" > "$W/confeval"
chmod 644 "$W/confeval"		# no secret in it: may be readable
MAILCASE_CONFIG=$W/confeval run ev
ok "passwordeval (its first line) logs in, from a 0644 file that holds no secret" \
	sh_ '[ $rc = 0 ] && [ "$(nmsg)" = "$NIN" ] || { say "exit $rc"; cat "$W/err"; false; }'
ok "no flag takes a secret: --password, --pass, -p, --token, --client-secret are bad flags (64)" sh_ '
	for f in --password=x --pass=x -px --token=x --client-secret=x --refresh-token=x; do
		$MF -d "$S" -a plain $f --check > /dev/null 2>&1; r=$?
		[ $r = 64 ] || { say "$f: exit $r"; exit 1; }
	done
	$MF --no-such-flag 2>&1 | grep -Ei "pass|secret|token" && exit 1 || true'

# --- OAuth 2.0 ---------------------------------------------------------------
ostats o1.before; m=$(logsize); run oa; ostats o1.stats
ok "OAuth (auth oauth): one refresh, logged in with OAUTHBEARER, the INBOX fetched" sh_ '
	[ $rc = 0 ] && [ "$(nmsg)" = "$NIN" ] && [ "$(odiff o1 token_issued)" = 1 ] &&
	    [ "$(odiff o1 introspect_active)" = 1 ] || { say "exit $rc"; cat "$W/err" "$W/o1.stats"; exit 1; }
	logwait "$1" "Login: user=<alice>, method=OAUTHBEARER"' "$m"
ostats o2.before; run oa; ostats o2.stats
ok "... the second run reuses the cached token (token_issued unchanged) and logs in" \
	sh_ '[ $rc = 0 ] && [ "$(odiff o2 token)" = 0 ] && [ "$(odiff o2 introspect_active)" = 1 ] || { say "exit $rc"; cat "$W/err" "$W/o2.stats"; false; }'
at=$(jq -r '.access_tokens | to_entries | max_by(.value.issued) | .key' "$MT_OAUTH_STATE")
ok "... the cache oauth/oa: mode 0600, holding neither the access token ($at) nor the refresh token in clear" sh_ '
	f=$S/oauth/oa
	[ -f "$f" ] && [ "$(stat -c %a "$f")" = 600 ] && [ "${1#at-}" != "$1" ] || { say "$(ls -l "$f") token $1"; exit 1; }
	! grep -aqF -e "$1" -e rt-alice -e "$MT_OAUTH_CLIENT_SECRET" "$f"' "$at"
ostats o3.before; m=$(logsize); run ox; ostats o3.stats
ok "auth xoauth2: logs in with XOAUTH2, its own token" sh_ '
	[ $rc = 0 ] && [ "$(nmsg)" = "$NIN" ] && [ "$(odiff o3 token_issued)" = 1 ] || { say "exit $rc"; cat "$W/err"; exit 1; }
	logwait "$1" "Login: user=<alice>, method=XOAUTH2"' "$m"
curl -sS -X POST "$MT_OAUTH_BASE/revoke" > /dev/null
ostats o4.before; run oa; ostats o4.stats
ok "after /revoke: the refused token is refreshed once (token +1), login works, nothing said" sh_ '
	[ $rc = 0 ] && [ "$(nmsg)" = 0 ] && [ ! -s "$W/err" ] && [ "$(odiff o4 token)" = 1 ] &&
	[ "$(odiff o4 token_issued)" = 1 ] && [ "$(odiff o4 introspect_inactive)" = 1 ] &&
	[ "$(odiff o4 introspect_active)" = 1 ] || { say "exit $rc"; cat "$W/err" "$W/o4.stats"; false; }'
# the token endpoint refuses: a client secret it does not know (no cache)
ostats o5.before; run obad; ostats o5.stats
ok "wrong client secret: exit 77 after exactly one refresh attempt, no login, the secret not shown" sh_ '
	[ $rc = 77 ] && [ "$(odiff o5 token)" = 1 ] && [ "$(odiff o5 token_issued)" = 0 ] &&
	[ "$(odiff o5 introspect)" = 0 ] && [ "$(lines "$W/err")" = 1 ] && grep -q invalid_client "$W/err" &&
	! grep -q N0tTheSecret "$W/err" || { say "exit $rc"; cat "$W/err" "$W/o5.stats"; false; }'
# a token the server refuses even fresh: refreshed once, tried once more
ostats o5b.before; run ocross; ostats o5b.stats
ok "a login refused with a fresh token: one more refresh and try, then exit 77 (2 refreshes, 2 logins)" sh_ '
	[ $rc = 77 ] && [ "$(odiff o5b token)" = 2 ] && [ "$(odiff o5b token_issued)" = 2 ] &&
	[ "$(odiff o5b introspect)" = 2 ] && [ "$(lines "$W/err")" = 1 ] && grep -q "localhost:$MT_IMAP_PORT: login" "$W/err" ||
	{ say "exit $rc"; cat "$W/err" "$W/o5b.stats"; false; }'
# the refresh token stops working while the cached token is revoked
curl -sS -X POST "$MT_OAUTH_BASE/revoke" > /dev/null
jq '.refresh_tokens |= del(.["rt-alice"])' "$MT_OAUTH_STATE" > "$W/st" && mv "$W/st" "$MT_OAUTH_STATE"
ostats o6.before; run oa; ostats o6.stats
jq '.refresh_tokens["rt-alice"] = "alice"' "$MT_OAUTH_STATE" > "$W/st" && mv "$W/st" "$MT_OAUTH_STATE"
ok "refresh token refused (invalid_grant) after a refused login: exit 77, one refresh, one login try" sh_ '
	[ $rc = 77 ] && [ "$(odiff o6 token)" = 1 ] && [ "$(odiff o6 token_issued)" = 0 ] &&
	[ "$(odiff o6 introspect)" = 1 ] && [ "$(lines "$W/err")" = 1 ] && grep -q invalid_grant "$W/err" ||
	{ say "exit $rc"; cat "$W/err" "$W/o6.stats"; false; }'
curl -sS "$MT_OAUTH_BASE/config" -d fail_next=1 > /dev/null
ostats o7.before; run oa; ostats o7.stats
ok "token endpoint 503 (fail_next): exit 75, one request, no retry loop" sh_ '
	[ $rc = 75 ] && [ "$(odiff o7 token)" = 1 ] && [ "$(odiff o7 token_refused)" = 1 ] &&
	grep -q 503 "$W/err" || { say "exit $rc"; cat "$W/err" "$W/o7.stats"; false; }'
run oa
ok "... and the next run refreshes and logs in" sh_ '[ $rc = 0 ] || { say "exit $rc"; cat "$W/err"; false; }'
# A token for 2 s: mailfetch refreshes it half way, after 1 s, while the
# server would still take it.  Wait until a whole second has passed on
# mailfetch's clock (it counts whole seconds) since it got the token.
curl -sS "$MT_OAUTH_BASE/config" -d expires_in=2 > /dev/null
curl -sS -X POST "$MT_OAUTH_BASE/revoke" > /dev/null
run oa; got=$(date +%s); r1=$rc
curl -sS "$MT_OAUTH_BASE/config" -d expires_in=3600 > /dev/null
short=$(jq -r '.access_tokens | to_entries | max_by(.value.issued) | .value | "\(.expires - .issued | round) \(.expires)"' "$MT_OAUTH_STATE")
for i in $(seq 300); do [ "$(date +%s)" -gt "$got" ] && break; sleep 0.01; done
ostats o8.before; t8=$EPOCHREALTIME; run oa; ostats o8.stats
ok "a 2 s token is refreshed half way, before the login: no refused login" sh_ '
	[ $1 = 0 ] && [ $rc = 0 ] && [ "${2%% *}" = 2 ] || { say "exits $1 $rc, token $2"; cat "$W/err"; exit 1; }
	awk -v a="$3" -v b="${2#* }" "BEGIN { exit !(a < b) }" || { say "(the old token had expired already: too slow to tell)"; exit 1; }
	[ "$(odiff o8 token_issued)" = 1 ] && [ "$(odiff o8 introspect_inactive)" = 0 ] &&
	[ "$(odiff o8 introspect_active)" = 1 ] || { cat "$W/o8.before" "$W/o8.stats"; exit 1; }' "$r1" "$short" "$t8"

# The server rotates the refresh token: the new one is kept in the cache.
curl -sS "$MT_OAUTH_BASE/config" -d rotate_refresh=true > /dev/null
curl -sS -X POST "$MT_OAUTH_BASE/revoke" > /dev/null
ostats o9.before; run oa; ostats o9.stats
curl -sS "$MT_OAUTH_BASE/config" -d rotate_refresh=false > /dev/null
rot=$(jq -r '.refresh_tokens | to_entries[] | select(.value == "alice") | .key' "$MT_OAUTH_STATE")
curl -sS -X POST "$MT_OAUTH_BASE/revoke" > /dev/null
ostats o10.before; run oa; ostats o10.stats
ok "a rotated refresh token is kept (sealed) in the cache and used for the next refresh" sh_ '
	[ "$1" != rt-alice ] && [ -n "$1" ] || { say "no rotation: $1"; exit 1; }
	[ $rc = 0 ] && [ "$(odiff o9 token_issued)" = 1 ] && [ "$(odiff o10 token_issued)" = 1 ] &&
	[ "$(odiff o10 token_refused)" = 0 ] || { say "exit $rc"; cat "$W/err" "$W/o10.stats"; exit 1; }
	! grep -aqF "$1" "$S/oauth/oa" || { say "the refresh token in clear in the cache"; exit 1; }' "$rot"

# --- limits and order --------------------------------------------------------
FOLDER=Old fill "$MD/.Old" 25
run plain --folder Old --first-run-max 10
ok "oldest first, --first-run-max 10 of 25: the 10 lowest UIDs, ascending" \
	sh_ '[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "$(dsearch Old ALL | head -n 10 | tr "\n" " ")" ] || { say "exit $rc: $(uids | tr "\n" " ")"; false; }'
ok "... cursor: the folder's UIDVALIDITY, next 11, nothing owed" sh_ '
	f=$(cursor plain Old); grep -qx "uidvalidity $(dstat Old uidvalidity)" "$f" && grep -qx "next 11" "$f" &&
	! grep -q "^pending" "$f" || { cat "$f"; false; }'
run plain --folder Old --max 7
ok "later run, --max 7: the next 7 (UIDs 11..17), ascending" \
	sh_ '[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "$(dsearch Old ALL | sed -n 11,17p | tr "\n" " ")" ] || { say "$(uids | tr "\n" " ")"; false; }'
FOLDER=Old SEED=more fill "$MD/.Old" 3
run plain --folder Old
ok "then the rest and the 3 new ones (18..28), none twice" \
	sh_ '[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "$(dsearch Old ALL | sed -n "18,\$p" | tr "\n" " ")" ] || { say "$(uids | tr "\n" " ")"; false; }'

# Latest first: each run takes the newest of what is owed (the model here:
# every UID in the folder not fetched yet), the rest is owed in the cursor.
FOLDER=Lat fill "$MD/.Lat" 30
: > "$W/lat.all"
latest_run() {	# latest_run N ARGS...: one run, the newest N owed expected
	local want owed
	owed=$(comm -23 <(dsearch Lat ALL | sort) <(sort "$W/lat.all") | sort -n)
	want=$(echo "$owed" | tail -n "$1" | tr '\n' ' ')
	shift
	run plain --folder Lat --latest "$@"
	uids >> "$W/lat.all"
	owed=$(comm -23 <(dsearch Lat ALL | sort) <(sort "$W/lat.all") | sort -n | tr '\n' ' ')
	[ $rc = 0 ] || { say "exit $rc"; cat "$W/err"; return 1; }
	[ "$(uids | sort -n | tr '\n' ' ')" = "$want" ] || { say "fetched $(uids | tr '\n' ' '), want $want"; return 1; }
	[ "$(cursor_set "$(cursor plain Lat)" pending | tr '\n' ' ')" = "$owed" ] || { say "owed $owed"; cat "$(cursor plain Lat)"; return 1; }
	grep -qx "next $(dstat Lat uidnext)" "$(cursor plain Lat)" || { cat "$(cursor plain Lat)"; return 1; }
}
ok "latest first, 30 messages, --first-run-max 10: the newest 10, the other 20 owed (cursor pending)" latest_run 10 --first-run-max 10
FOLDER=Lat SEED=more fill "$MD/.Lat" 5
ok "5 new ones, --max 8: the newest 8 of owed and new, the rest still owed" latest_run 8 --max 8
k=0
while [ $k -lt 10 ] && grep -q '^pending' "$(cursor plain Lat)"; do
	k=$((k+1)); ok "... run $((k+2)), --max 8: the newest 8 owed" latest_run 8 --max 8
done
ok "every message fetched exactly once over $((k+2)) runs, all $(dstat Lat messages) of them" sh_ '
	[ -z "$(sort -n "$W/lat.all" | uniq -d)" ] && [ "$(sort -n "$W/lat.all" | tr "\n" " ")" = "$(dsearch Lat ALL | tr "\n" " ")" ] ||
	{ say "duplicates: $(sort -n "$W/lat.all" | uniq -d | tr "\n" " ")"; say "got $(sort -n "$W/lat.all" | tr "\n" " ")"; false; }'
run plain --folder Lat --latest
ok "... and a run after that: nothing, exit 0" sh_ '[ $rc = 0 ] && [ ! -s "$W/out" ] && [ ! -s "$W/err" ]'

# --- UIDVALIDITY ---------------------------------------------------------------
FOLDER=Re SEED=old fill "$MD/.Re" 4
run plain --folder Re
ok "a folder Re of 4 messages fetched" sh_ '[ $rc = 0 ] && [ "$(nmsg)" = 4 ] || { say "exit $rc"; cat "$W/err"; false; }'
uv1=$(dstat Re uidvalidity)
doveadm -c "$C" mailbox delete -u alice Re && doveadm -c "$C" mailbox create -u alice Re
FOLDER=Re SEED=anew fill "$MD/.Re" 6
uv2=$(dstat Re uidvalidity)
run plain --folder Re
ok "folder made anew (UIDVALIDITY $uv1 -> $uv2): said on stderr, all 6 new messages fetched" sh_ '
	[ $rc = 0 ] && [ "$uv1" != "$uv2" ] && grep -q UIDVALIDITY "$W/err" && grep -q "Re" "$W/err" &&
	[ "$(uids | tr "\n" " ")" = "$(dsearch Re ALL | tr "\n" " ")" ] && [ "$(stream_msgids)" = "$(msgids Re)" ] &&
	[ "$(grep -ac "anew@example.test" "$W/out")" = 6 ] || { say "exit $rc: $(uids | tr "\n" " ")"; cat "$W/err"; false; }'
ok "... the cursor has the new UIDVALIDITY" grep -qx "uidvalidity $uv2" "$(cursor plain Re)"

# --- --poll-now, --uid, --check ----------------------------------------------
cp "$(cursor plain INBOX)" "$W/cur.before"; ino=$(stat -c %i "$(cursor plain INBOX)")
run plain --poll-now --max 2
ok "--poll-now --max 2: the 2 oldest of the whole folder, though all were fetched" \
	sh_ '[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "$(dsearch INBOX ALL | head -n 2 | tr "\n" " ")" ] || { say "exit $rc"; cat "$W/err"; false; }'
run plain --poll-now --latest --max 2
ok "--poll-now --latest --max 2: the 2 newest" \
	sh_ '[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "$(dsearch INBOX ALL | tail -n 2 | tr "\n" " ")" ] || { say "exit $rc"; false; }'
ok "... the cursor untouched: the same bytes, the same file" \
	sh_ 'cmp "$W/cur.before" "$(cursor plain INBOX)" && [ "$(stat -c %i "$(cursor plain INBOX)")" = "$ino" ]'
curl -sS "imap://127.0.0.1:$MT_IMAP_PORT/INBOX;UID=3" -u alice:alicepw > "$W/uid3.eml"
run plain --uid 3
ok "--uid 3: that message alone, byte for byte (as curl fetches it)" sh_ '
	[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "3 " ] || { say "exit $rc: $(uids | tr "\n" " ")"; exit 1; }
	$MP -d "$S" --quiet < "$W/out" > "$W/uid3.rec" && id=$(jq -r .id "$W/uid3.rec") &&
	[ "$id" = "$(sha "$W/uid3.eml")" ] && cmp "$S/msg/${id:0:2}/$id" "$W/uid3.eml"'
run plain --uid 999
ok "--uid of a UID not there: exit 66, nothing written, said why" \
	sh_ '[ $rc = 66 ] && [ ! -s "$W/out" ] && grep -q 999 "$W/err" || { say "exit $rc"; cat "$W/err"; false; }'
run plain --check
ok "--check: count, UIDVALIDITY and UIDNEXT as doveadm mailbox status says; nothing fetched" sh_ '
	[ $rc = 0 ] && [ "$(lines "$W/out")" = 1 ] && ! grep -q "^From " "$W/out" &&
	grep -qx "plain: INBOX: $(dstat INBOX messages) messages, UIDVALIDITY $(dstat INBOX uidvalidity), UIDNEXT $(dstat INBOX uidnext)" "$W/out" &&
	cmp -s "$W/cur.before" "$(cursor plain INBOX)" || { say "exit $rc"; cat "$W/out" "$W/err"; false; }'

# --- read-only; --mark-seen; --move-to -------------------------------------
FOLDER=Sn fill "$MD/.Sn" 8
run plain --folder Sn --first-run-max 3
ok "a fetch is read-only: no message \\Seen afterwards" \
	sh_ '[ $rc = 0 ] && [ "$(nmsg)" = 3 ] && [ -z "$(dsearch Sn SEEN)" ] || { say "seen: $(dsearch Sn SEEN | tr "\n" " ")"; false; }'
run plain --folder Sn --max 2 --mark-seen
ok "--mark-seen: exactly the 2 fetched (UIDs 4 5) are \\Seen" \
	sh_ '[ $rc = 0 ] && [ "$(uids | tr "\n" " ")" = "4 5 " ] && [ "$(dsearch Sn SEEN | tr "\n" " ")" = "4 5 " ] ||
	    { say "exit $rc, fetched $(uids | tr "\n" " "), seen $(dsearch Sn SEEN | tr "\n" " ")"; false; }'
U=bob fill "$MT_MAILDIR_ROOT/bob/Maildir" 12
doveadm -c "$C" mailbox create -u bob Done
msgids INBOX bob > "$W/bob.all"
run bob --first-run-max 5 --move-to Done
ok "--move-to Done: the 5 fetched are in Done, gone from INBOX; the 7 others stay" sh_ '
	[ $rc = 0 ] && [ "$(nmsg)" = 5 ] || { say "exit $rc"; cat "$W/err"; exit 1; }
	[ "$(msgids Done bob)" = "$(stream_msgids)" ] || { say "Done: $(msgids Done bob | tr "\n" " ")"; exit 1; }
	[ "$(msgids INBOX bob)" = "$(comm -23 "$W/bob.all" <(stream_msgids))" ] || { say "INBOX: $(msgids INBOX bob | tr "\n" " ")"; exit 1; }'

# More than one UID FETCH (256 UIDs each) of messages marked or moved.
# Dovecot runs pipelined commands in parallel where it can, so where the
# second FETCH's answers fall among the others varies from run to run; in
# front of it a proxy that passes each of mailfetch's commands only once
# the one before is answered (a server that runs them one at a time, as
# RFC 3501 5.5 allows) makes the order the same every time.  Plain TCP:
# mailfetch talks to it with tls off.
cat > "$W/serial.py" <<'EOF'
import re, select, socket, sys
up = int(sys.argv[1])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(4)
print(ls.getsockname()[1], flush=True)
def log(*a):
    sys.stderr.write(" ".join(map(str, a)) + "\n"); sys.stderr.flush()
while True:
    c, _ = ls.accept(); s = socket.create_connection(("127.0.0.1", up))
    cin = sin = b""; held = []; lit = 0; tags = set(); live = True
    def send(line):
        tags.add(line.split(b" ", 1)[0]); s.sendall(line)
    while live:
        for r in select.select([c, s], [], [])[0]:
            d = r.recv(65536)
            if not d:
                live = False; break
            if r is c:
                cin += d
                while b"\n" in cin:
                    line, cin = cin.split(b"\n", 1); line += b"\n"
                    if not re.match(rb"m\d+ ", line):
                        s.sendall(line)		# curl's login, continuations
                    elif tags or held:
                        held.append(line); log("held", line[:40])
                    else:
                        send(line)
            else:
                c.sendall(d); sin += d
                while sin:
                    if lit:
                        k = min(lit, len(sin)); lit -= k; sin = sin[k:]; continue
                    if b"\n" not in sin: break
                    line, sin = sin.split(b"\n", 1)
                    m = re.match(rb"(\S+) (OK|NO|BAD)", line)
                    if m: tags.discard(m.group(1))
                    m = re.search(rb"\{(\d+)\}\r?$", line)
                    if m: lit = int(m.group(1))
                    while held and not tags:
                        log("passed", held[0][:40]); send(held.pop(0))
    c.close(); s.close()
EOF
python3 "$W/serial.py" "$MT_IMAP_PORT" > "$W/serial.port" 2> "$MT_LOG_DIR/serial.log" &
echo $! > "$T/serial.pid"
for i in $(seq 300); do [ -s "$W/serial.port" ] && break; sleep 0.01; done
printf 'account serial\nimap_url imap://127.0.0.1:%s\ntls off\nuser alice\npassword alicepw\ntimeout 10\n' "$(cat "$W/serial.port")" >> "$CF"
FOLDER=Big1 fill "$MD/.Big1" 300
run serial --folder Big1 --first-run-max 290 --mark-seen
ok "--mark-seen across two UID FETCH commands (290 of 300, serial server): exactly the 290 fetched are \\Seen" sh_ '
	[ $rc = 0 ] && [ "$(nmsg)" = 290 ] || { say "exit $rc, $(nmsg) fetched"; cat "$W/err"; exit 1; }
	[ "$(dsearch Big1 SEEN | tr "\n" " ")" = "$(uids | sort -n | tr "\n" " ")" ] ||
	    { say "$(dsearch Big1 SEEN | wc -l) seen, the last $(dsearch Big1 SEEN | tail -n1); not seen: $(dsearch Big1 UNSEEN | head -n 40 | tr "\n" " ")"; exit 1; }'
FOLDER=Big2 fill "$MD/.Big2" 300
doveadm -c "$C" mailbox create -u alice Big2done
msgids Big2 > "$W/big2.all"
run serial --folder Big2 --first-run-max 290 --move-to Big2done
ok "--move-to across two UID FETCH commands (290 of 300, serial server): the 290 in Big2done, 10 left" sh_ '
	[ $rc = 0 ] && [ "$(nmsg)" = 290 ] || { say "exit $rc, $(nmsg) fetched"; cat "$W/err"; exit 1; }
	[ "$(msgids Big2done)" = "$(stream_msgids)" ] && [ "$(msgids Big2)" = "$(comm -23 "$W/big2.all" <(stream_msgids))" ] ||
	    { say "$(dstat Big2done messages) moved, $(dstat Big2 messages) left; left UIDs: $(dsearch Big2 ALL | head -n 40 | tr "\n" " ")"; exit 1; }'

# --- 8-bit, CRLF, From lines: byte for byte through mailparse -----------------
# Only what Dovecot serves back unchanged (see tests/lib/mailtest-up): CRLF
# line ends, 8-bit bytes, a bare CR inside a line, no final newline.
mkdir -p "$W/8bit"
printf 'From: a@example.test\r\nSubject: Latin-1 caf\xe9\r\nX-Bad: \xc3\x28 \xa0\xa1 \x80\xff\r\n\r\ncaf\xe9 na\xefve\r\nFrom the start of a line\r\n>From quoted once\r\n>>From quoted twice\r\n\x7f\x1b[0m\r\n.\r\nend\r\n' > "$W/8bit/1.eml"
printf 'From: b@example.test\r\nSubject: no final newline\r\n\r\nFrom here\r\nthe last line without newline \xe9' > "$W/8bit/2.eml"
printf 'From: c@example.test\r\nSubject: bare CR, invalid UTF-8\r\n\r\na bare\rCR inside, \xf0\x28\x8c\xbc \xed\xa0\x80 \xc0\xaf\r\nFrom \r\n>From\r\n' > "$W/8bit/3.eml"
printf 'From d@example.test Mon Jan  1 00:00:00 2024\r\nFrom: d@example.test\r\nSubject: starts with a From_ line\r\n\r\nbody\r\n\r\nFrom x\r\n' > "$W/8bit/4.eml"
doveadm -c "$C" mailbox create -u alice Bytes
for i in 1 2 3 4; do append Bytes "$W/8bit/$i.eml"; done
timeout 30 $MF -d "$S" -a plain --folder Bytes 2> "$W/err" | $MP -d "$S" --quiet > "$W/8bit.rec"
st=("${PIPESTATUS[@]}")
ok "8-bit and non-UTF-8 messages: mailfetch | mailparse, 4 records, source imap" \
	sh_ '[ "${st[0]} ${st[1]}" = "0 0" ] && jq -e -s "length == 4 and all(.source.kind == \"imap\" and .source.folder == \"Bytes\")" "$W/8bit.rec" > /dev/null ||
	    { say "exits ${st[*]}"; cat "$W/err"; jq -c "{id,source,kind}" "$W/8bit.rec"; false; }'
for i in 1 2 3 4; do
	ok "... UID $i: id is sha256sum of the appended file, msg/ holds its exact bytes" sh_ '
		id=$(jq -r -s ".[] | select(.source.uid == $1) | .id" "$W/8bit.rec")
		[ "$id" = "$(sha "$W/8bit/$1.eml")" ] && cmp "$S/msg/${id:0:2}/$id" "$W/8bit/$1.eml" || { say "id $id"; false; }' $i
done

# --- held for its size -----------------------------------------------------------
mkdir -p "$W/big"
mkbig() { { printf 'From: s@example.test\r\nSubject: size %s\r\n\r\n' "$1"
	for i in $(seq "$2"); do printf 'line %05d of message %s, padding padding padding\r\n' "$i" "$1"; done; } > "$W/big/$1.eml"; }
mkbig 1 2; mkbig 2 3; mkbig 3 60; mkbig 4 1; mkbig 5 400; mkbig 6 2
doveadm -c "$C" mailbox create -u alice Size
for i in 1 2 3 4 5 6; do append Size "$W/big/$i.eml"; done
s3=$(stat -c %s "$W/big/3.eml") s5=$(stat -c %s "$W/big/5.eml")
lim=$(( (s3 + 200) / 2 ))	# below both 3 and 5, above the rest
small=$(for i in 1 2 4 6; do [ "$(stat -c %s "$W/big/$i.eml")" -le $lim ] && echo $i; done | tr '\n' ' ')
held_ok() {	# held_ok WANT-UIDS HELD-UIDS EXIT
	[ $rc = "$3" ] || { say "exit $rc"; cat "$W/err"; return 1; }
	[ "$(uids | tr '\n' ' ')" = "$1" ] || { say "fetched $(uids | tr '\n' ' ')"; return 1; }
	[ "$(cursor_set "$(cursor plain Size)" held | tr '\n' ' ')" = "$2" ] || { cat "$(cursor plain Size)"; return 1; }
	local u; for u in $2; do grep -q "UID $u: .*held" "$W/err" || { say "UID $u not reported"; cat "$W/err"; return 1; }; done
	[ "$(lines "$W/err")" = "$(echo $2 | wc -w)" ] || { cat "$W/err"; return 1; }
}
run plain --folder Size --max-size $lim
ok "--max-size $lim: UIDs 3 ($s3 B) and 5 ($s5 B) held, reported, exit 65; 4 and 6 after them still come" held_ok "$small" "3 5 " 65
run plain --folder Size --max-size $lim
ok "... the next run reports them again, exit 65, fetches nothing else" held_ok "" "3 5 " 65
run plain --folder Size --max-size $(( s3 + 1 ))
ok "--max-size $((s3 + 1)): UID 3 fetched, 5 still held (65)" held_ok "3 " "5 " 65
ok "... UID 3 byte for byte" sh_ '$MP -d "$S" --quiet < "$W/out" | jq -r .id | grep -qx "$(sha "$W/big/3.eml")"'
run plain --folder Size --skip-uid 5
ok "--skip-uid 5: dropped, exit 0, no held line" held_ok "" "" 0
run plain --folder Size
ok "... for good: a later run without a size limit does not fetch it" held_ok "" "" 0

# --- the folder lock -------------------------------------------------------------
lock=$(cursor plain INBOX).lock
cp "$(cursor plain INBOX)" "$W/cur.before"
rc=none
exec 8> "$lock"
flock -n 8 && { run plain 8>&-; }
exec 8>&-
ok "a second poll of a folder being polled (the lock held): exit 75, 'lock' said, nothing written" sh_ '
	[ $rc = 75 ] && grep -qi lock "$W/err" && [ ! -s "$W/out" ] && cmp -s "$W/cur.before" "$(cursor plain INBOX)" ||
	{ say "exit $rc"; cat "$W/err"; false; }'
FOLDER=INBOX SEED=late fill "$MD" 1
run plain
ok "... once it is free: the poll runs (the one new message)" sh_ '[ $rc = 0 ] && [ "$(nmsg)" = 1 ] || { say "exit $rc"; cat "$W/err"; false; }'

# --- folder names outside ASCII -----------------------------------------------------
for f in "Tëst" "Mail 📬 & Co"; do
	doveadm -c "$C" mailbox create -u alice "$f"
	for i in 1 2; do
		printf 'From: u@example.test\r\nSubject: %s %d\r\nMessage-ID: <%d.%s@example.test>\r\n\r\nhello\r\n' \
			"$f" $i $i "$(printf %s "$f" | md5sum | cut -c1-8)" | doveadm -c "$C" save -u alice -m "$f"
	done
done
run utf
ok "folder Tëst from the config (UTF-8; modified UTF-7 on the wire): its 2 messages" sh_ '
	[ $rc = 0 ] && [ "$(stream_msgids)" = "$(msgids "Tëst")" ] && [ "$(nmsg)" = 2 ] || { say "exit $rc"; cat "$W/err"; false; }'
ok "... mailparse names the folder Tëst" sh_ '$MP -d "$S" --quiet < "$W/out" | jq -e -s "map(.source.folder) == [\"Tëst\", \"Tëst\"]" > /dev/null'
run plain --folder "Mail 📬 & Co"
ok "--folder 'Mail 📬 & Co' (a surrogate pair, an &): its 2 messages" sh_ '
	[ $rc = 0 ] && [ "$(stream_msgids)" = "$(msgids "Mail 📬 & Co")" ] && [ "$(nmsg)" = 2 ] || { say "exit $rc"; cat "$W/err"; false; }'

echo "1..$n"
