#!/bin/bash
# scripts/mailpoll against a real Dovecot (tests/lib/mailtest-up): one round
# takes every account's new mail into the case store, a second finds
# nothing new, a round while another holds the lock exits 75, an account
# that cannot log in is named and does not stop the other, and a stage
# that fails after mailfetch loses nothing: the next round feeds the kept
# stream again.
cd "$(dirname "$0")/.." || exit 1
. tests/lib/servers.sh
need_root "Dovecot switches users"
need_cmds dovecot
need_cmds flock
need_bins bin/mailfetch bin/mailparse bin/artifactx bin/codematch
L=tests/lib
servers_up MT_NO_OAUTH=1
echo "1..22"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
is() { [ "$1" = "$2" ]; ok $? "$3"; [ "$1" = "$2" ] || echo "# got '$1', want '$2'"; }
save() { doveadm -c "$MT_DOVECOT_CONF" save -u "$1" -m INBOX < "tests/fixtures/$2.eml"; }

# Two accounts, one over IMAPS, one over STARTTLS, in a private config.
export HOME=$W MAILCASE_CONFIG=$W/config
S=$W/spool OUT=$W/spool/log/ingested.jsonl
config() {
	cat > "$W/config" <<EOF
defaults
tls_ca_file $MT_CACERT

account alice
imap_url imaps://localhost:$MT_IMAPS_PORT
user alice
password alicepw

account bob
imap_url imap://localhost:$MT_IMAP_PORT
tls starttls
user bob
password ${1:-bobpw}
EOF
	chmod 600 "$W/config"
}
config
for f in nested-forward threading-headers html-only; do save alice $f; done
for f in qp-soft-breaks latin1-body; do save bob $f; done
records() { [ -f "$OUT" ] && wc -l < "$OUT" || echo 0; }
ncases() { bin/codematch -d "$S" --list --json | wc -l; }
# account:uid action, one a line, for the records after line $1
got() { tail -n +$(($1 + 1)) "$OUT" | jq -r '"\(.source.account):\(.source.uid) \(.case.action)"' | sort | tr '\n' ' '; }

scripts/mailpoll -d "$S" 2> "$W/err"; st=$?
is "$st/$(wc -c < "$W/err")" 0/0 "first round: exit 0, nothing on stderr"
is "$(got 0)" "alice:1 created alice:2 created alice:3 created bob:1 created bob:2 created " \
    "a record for each of the 5 messages, in $OUT"
is "$(ncases)" 5 "a case per message"
is "$(jq -r .kind "$OUT" | sort -u)/$(jq -r .source.kind "$OUT" | sort -u)" message/imap "message records from IMAP"
is "$(stat -c %a "$OUT" "$S/mailpoll.lock" | sort -u)" 600 "the records and the lock are private (umask 077)"
ok "$(ls -A "$S/poll" | wc -l)" "no stream kept in poll/ when every stage succeeded"

scripts/mailpoll -d "$S" 2> "$W/err"; st=$?
is "$st/$(records)/$(ncases)" 0/5/5 "second round: exit 0, no new record, no new case"

# A round while another holds the lock (flock(1) holds it for its command).
flock "$S/mailpoll.lock" scripts/mailpoll -d "$S" 2> "$W/err"; st=$?
is "$st/$(records)" 75/5 "a round while the lock is held: exit 75, nothing fetched"
grep -q 'mailpoll.lock: another round is running' "$W/err"; ok $? "and it says so: $(head -n1 "$W/err")"

# -a and -o -: one account, records on stdout; the spool from the
# environment, as the tools find it.
save bob date-timezones
env -u XDG_DATA_HOME MAILCASE_SPOOL="$S" scripts/mailpoll -a bob -o - > "$W/stdout" 2> "$W/err"; st=$?
is "$st/$(records)/$(jq -r '"\(.source.account):\(.source.uid)"' "$W/stdout")" 0/5/bob:3 \
    "MAILCASE_SPOOL, -a bob -o -: bob's new message on stdout, none appended to the file"

# bob cannot log in: alice's new mail still comes in, and bob is named.
config wrong
save alice rfc2047-names
save bob no-subject
scripts/mailpoll -d "$S" 2> "$W/err"; st=$?
is "$(got 5)" "alice:4 created " "wrong password for bob: alice's new message still ingested"
ok $((st == 0)) "exit status non-zero ($st)"
grep -q '^mailpoll: bob: mailfetch: exit 77' "$W/err"; ok $? "the failing stage named: $(grep '^mailpoll:' "$W/err")"
config

# A stage after mailfetch fails: a tree of mailpoll whose codematch exits
# 75 after reading its input, as the real one does when its store cannot
# be written.
mkdir -p "$W/tree/scripts" "$W/tree/bin"
cp scripts/mailpoll "$W/tree/scripts/"
for t in mailfetch mailparse artifactx; do ln -s "$PWD/bin/$t" "$W/tree/bin/$t"; done
printf '#!/bin/sh\ncat > /dev/null\necho "codematch: store: fsync: Input/output error (test stand-in)" >&2\nexit 75\n' > "$W/tree/bin/codematch"
chmod +x "$W/tree/bin/codematch"
"$W/tree/scripts/mailpoll" -d "$S" 2> "$W/err"; st=$?
is "$st/$(records)" 75/6 "codematch fails: exit 75, no record"
grep -q '^mailpoll: bob: codematch: exit 75' "$W/err"; ok $? "the failing stage named: $(grep -m1 '^mailpoll: bob: codematch' "$W/err")"
is "$(grep -c '^From ' "$S/poll/bob.mbox")" 1 "bob's fetched message is kept in poll/bob.mbox"
[ ! -e "$S/poll/alice.mbox" ]; ok $? "alice had nothing new: no poll/alice.mbox"
save bob utf8-8bit-euro
"$W/tree/scripts/mailpoll" -d "$S" -a bob 2> "$W/err"; st=$?
grep -q 'still in .*poll/bob.mbox; not fetching more' "$W/err"; ok $? "while it fails: the stream is fed again, nothing more fetched"
is "$(grep -c '^From ' "$S/poll/bob.mbox")" 1 "poll/bob.mbox unchanged"

# The real codematch again: the kept stream first, then the new message.
scripts/mailpoll -d "$S" 2> "$W/err"; st=$?
is "$st/$(got 6)" "0/bob:4 created bob:5 created " \
    "the next round ingests the kept messages and the new one"
[ ! -e "$S/poll/bob.mbox" ]; ok $? "and removes poll/bob.mbox"
is "$(ncases)/$(jq -r .id "$OUT" | sort | uniq -d | wc -l)" 9/0 "9 messages, 9 cases, no record twice"
