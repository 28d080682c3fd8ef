#!/bin/bash
# Real fetchmail against a real Dovecot (tests/lib/mailtest-up), IMAPS with
# the certificate checked, delivering each message through the mda line
# of mailcase(7) into mailparse | artifactx | codematch: records and cases
# come out, a failing MDA leaves the message unseen on the server for the
# next run, and fetching everything again gives duplicates.
cd "$(dirname "$0")/.." || exit 1
. tests/lib/servers.sh
need_root "Dovecot switches users"
need_cmds dovecot fetchmail
need_cmds mandoc	# the mda line comes from mailcase.7
need_bins bin/mailparse bin/artifactx bin/codematch
L=tests/lib
servers_up MT_NO_OAUTH=1

# The mda line as the page prints it; the tools use the default spool.
mda=$(mandoc -Tascii share/man/man7/mailcase.7 | sed "s/.\x08//g" |
    awk '/^ *mda "/ { on = 1 } on { sub(/^ +/, ""); print } on && /'"'"'"$/ { exit }')
[ "$(wc -l <<< "$mda")" = 2 ] || { echo "Bail out! no fetchmail mda line found in mailcase.7"; exit 1; }
echo "1..15"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
is() { [ "$1" = "$2" ]; ok $? "$3"; [ "$1" = "$2" ] || echo "# got '$1', want '$2'"; }
save() { doveadm -c "$MT_DOVECOT_CONF" save -u alice -m INBOX < "tests/fixtures/$1.eml"; }
seen() { doveadm -c "$MT_DOVECOT_CONF" search -u alice mailbox INBOX SEEN | wc -l; }

export HOME=$W/home MAILCASE_CONFIG=/dev/null FETCHMAILHOME=$W/home PATH=$PWD/bin:$PATH
S=$HOME/.local/share/mailcase OUT=$S/log/fetchmail.jsonl
mkdir -p "$S/log" "$W/fail"
# rcfile NAME [MDA]: a private fetchmailrc for alice over IMAPS.
rcfile() {
	cat > "$W/$1.rc" <<EOF
set no syslog
poll localhost proto imap port $MT_IMAPS_PORT
    user "alice" password "alicepw" is "$(id -un)" here
    ssl sslcertfile "$MT_CACERT" sslcertck
    keep
    ${2:-$mda}
EOF
	chmod 600 "$W/$1.rc"
}
fm() { local rc=$1; shift; (cd "$W" && fetchmail -f "$W/$rc.rc" --pidfile "$W/fm.pid" "$@") > "$W/log" 2>&1; }
records() { [ -f "$OUT" ] && wc -l < "$OUT" || echo 0; }
ncases() { bin/codematch -d "$S" --list --json | wc -l; }
for f in nested-forward threading-headers html-only; do save $f; done

rcfile good
chmod 644 "$W/good.rc"
fm good; st=$?
is "$st/$(records)" 6/0 "a fetchmailrc others can read is refused (exit 6)"
chmod 600 "$W/good.rc"

fm good; st=$?
is "$st/$(records)" 0/3 "fetchmail with the mda of mailcase(7): exit 0, 3 records"
is "$(jq -r '"\(.kind) \(.case.action)"' "$OUT" | sort -u)" "message created" "message records, each with a new case"
is "$(jq -r .subject "$OUT" | tr '\n' '|')" "Fwd: quarterly numbers|Re: <12345678> Suspicious login page|HTML only|" \
    "the three messages, in order"
is "$(ncases)" 3 "codematch --list: 3 cases"
id=$(head -n1 "$OUT" | jq -r .id)
raw=$S/msg/${id:0:2}/$id
is "$(sha256sum < "$raw" | cut -d' ' -f1)" "$id" "the raw message kept under its id"
head -n1 "$raw" | grep -q '^Received: from localhost .*' && sed -n 2p "$raw" | grep -q 'fetchmail'
ok $? "it begins with the Received line fetchmail adds"
is "$(seen)" 3 "delivered: all 3 marked seen on the server"

fm good; st=$?
is "$st/$(records)" 1/3 "nothing new: exit 1, no record"

# The pipeline fails with 75 (a mailparse that cannot commit).
printf '#!/bin/sh\ncat > /dev/null\necho "mailparse: spool: commit: No space left on device (test stand-in)" >&2\nexit 75\n' > "$W/fail/mailparse"
chmod +x "$W/fail/mailparse"
rcfile fail "$(sed "s|mailparse --quiet|$W/fail/mailparse --quiet|" <<< "$mda")"
save utf8-8bit-euro
fm fail; st=$?
is "$st/$(records)/$(seen)" 0/3/3 "MDA exits 75: fetchmail exits 0, no record, the message left unseen"
grep -q 'MDA returned nonzero status 75' "$W/log"; ok $? "fetchmail says: $(grep -m1 'MDA returned' "$W/log")"
fm good; st=$?
is "$st/$(tail -n1 "$OUT" | jq -r '"\(.subject) \(.case.action)"')/$(seen)" "0/Preis: 10 € bei bücher.example created/4" \
    "the next run delivers it, and marks it seen"

# Everything again (-a), a second later: the Received line differs (its
# time has seconds), the Message-ID not.
sleep 1
fm good -a; st=$?
is "$st/$(records)" 0/8 "fetchmail -a: all 4 again"
is "$(tail -n 4 "$OUT" | jq -r .case.action | sort -u)/$(ncases)" duplicate/4 "each a duplicate of its case: still 4 cases"
is "$(jq -r .id "$OUT" | sort -u | wc -l)" 8 "with 8 different ids (fetchmail's Received line has the time)"
