#!/bin/bash
# Real procmail delivering into the pipeline with the recipes of
# mailcase(7): ":0 wc:" pipes a copy into mailparse | artifactx | codematch
# and the message goes on into a Maildir; ":0 w:" alone, with EXITCODE=75
# after it, hands a failure back to the MTA.  procmail -m takes the rcfile
# from the command line and skips the checks it makes as root.
cd "$(dirname "$0")/.." || exit 1
for t in mailparse artifactx codematch; do
	[ -x bin/$t ] || { echo "1..0 # SKIP bin/$t not built"; exit 0; }
done
command -v procmail >/dev/null || { echo "1..0 # SKIP procmail not installed"; exit 0; }
command -v mandoc >/dev/null || { echo "1..0 # SKIP mandoc not installed (the recipe comes from mailcase.7)"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export HOME=$T/home MAILCASE_CONFIG=/dev/null
mkdir -p "$HOME" "$T/mail" "$T/fail"
S=$T/spool MSG=tests/fixtures/nested-forward.eml
echo "1..16"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
is() { [ "$1" = "$2" ]; ok $? "$3${4:+ }${4:-}"; [ "$1" = "$2" ] || echo "# got '$1', want '$2'"; }

# A stand-in for a mailparse that cannot commit (disk full): it reads the
# message and exits 75, as mailparse(1) does then.
cat > "$T/fail/mailparse" <<'EOF'
#!/bin/sh
cat > /dev/null
echo "mailparse: spool: commit: No space left on device (test stand-in)" >&2
exit 75
EOF
chmod +x "$T/fail/mailparse"

# The recipes as mailcase(7) prints them.
page=$(mandoc -Tascii share/man/man7/mailcase.7 | sed "s/.\x08//g")
recipe=$(awk '/^ *:0 wc: mailcase/ { on = 1 } on { sub(/^ +/, ""); print }
    on && /codematch -d/ { exit }' <<< "$page")
tempfail=$(grep -E '^ *(EXITCODE=75|HOST=)' <<< "$page" | sed 's/^ *//')
[ "$(wc -l <<< "$recipe")" = 3 ] && [ "$(wc -l <<< "$tempfail")" = 2 ] ||
    { echo "Bail out! no procmail recipe found in mailcase.7"; exit 1; }
OUT=$S/log/procmail.jsonl
mkdir -p "$S/log"

# rcfile NAME FLAGS [PATH-PREFIX [SHELL [LOCK]]]: the recipe with its
# flags, lockfile and shell changed; without c, ended as the page ends it.
rcfile() {
	{
		echo "SHELL=${4:-/bin/bash}"
		echo "PATH=${3:+$3:}$PWD/bin:/usr/bin:/bin"
		echo "MAILDIR=$T/mail"
		echo "DEFAULT=\$MAILDIR/Maildir/"
		echo "LOGFILE=$T/procmail.log"
		echo "SPOOL=$S"
		echo
		if [ "$2" = wc ] && [ -z "${5+set}" ]; then
			echo "$recipe"
		else
			echo ":0 $2${5-: mailcase\$LOCKEXT}"
			tail -n +2 <<< "$recipe"
		fi
		case $2 in *c*) ;; *) echo; echo "$tempfail" ;; esac
	} > "$T/$1.rc"
}
deliver() { procmail -m "$T/$1.rc" < "${2:-$MSG}"; }
records() { [ -f "$OUT" ] && wc -l < "$OUT" || echo 0; }
inbox() { find "$T/mail/Maildir/new" -type f 2>/dev/null | wc -l; }
ncases() { bin/codematch -d "$S" --list --json | wc -l; }

rcfile copy wc
deliver copy; is $? 0 "copy recipe: procmail exits 0"
rec=$(tail -n 1 "$OUT")
is "$(jq -r .kind <<< "$rec")" message "a message record came out"
# procmail ends what it pipes with an empty line (the Maildir copy it
# trims): the id is the SHA-256 of the fixture and that line.
want=$({ cat "$MSG"; echo; } | sha256sum | cut -d' ' -f1)
is "$(jq -r .id <<< "$rec")" "$want" "its id is the sha256 of the bytes procmail piped"
code=$(jq -r .case.code <<< "$rec")
is "$(jq -r .case.action <<< "$rec")" created "a case was created"
is "$(bin/codematch -d "$S" --list --json | jq -r .code)" "$code" "codematch --list shows case $code"
copy=$(find "$T/mail/Maildir/new" -type f)
cmp -s "$copy" "$MSG"; ok $? "the message itself is in the Maildir, byte for byte"

deliver copy; st=$?
is "$st/$(records)/$(inbox)" 0/2/2 "second delivery: exit 0, a second record, a second copy"
is "$(tail -n 1 "$OUT" | jq -r '.case | "\(.action) \(.code)"')" "duplicate $code" "the second record is a duplicate of the case"

# Catching up from the Maildir (after a failure) doubles nothing: the
# copies' bytes differ by the empty line, their Message-ID does not.
actions=$(bin/mailparse -d "$S" --quiet "$T/mail/Maildir" | bin/artifactx |
    bin/codematch -d "$S" | jq -r .case.action | sort -u)
is "$actions/$(ncases)" duplicate/1 "mailparse of the Maildir copies: duplicates, still one case"

# The pipeline fails with 75: procmail logs it and delivers the message on
# to the Maildir, from where it can be fed in again.
rcfile copyfail wc "$T/fail"
deliver copyfail; st=$?
is "$st/$(records)/$(inbox)" 0/2/3 "copy recipe, pipeline exits 75: procmail exits 0, no record, the message is in the Maildir"
grep -q 'Program failure (75)' "$T/procmail.log"; ok $? "procmail's log says: Program failure (75)"

# Without c, the message goes only to the pipeline.
rcfile only w
deliver only tests/fixtures/threading-headers.eml; st=$?
is "$st/$(records)/$(inbox)" 0/3/3 "ingest-only recipe: exit 0, a record, no Maildir copy"
rcfile onlyfail w "$T/fail"
deliver onlyfail; st=$?
is "$st/$(records)/$(inbox)" 75/3/3 "ingest-only recipe, pipeline exits 75: procmail exits 75 (EX_TEMPFAIL), the MTA keeps the message"

# Why the recipe sets pipefail: without it the shell returns codematch's
# 0 after mailparse failed, and procmail counts the message delivered.
rcfile nopipefail w "$T/fail" /bin/sh
sed -i 's/| set -o pipefail; /| /' "$T/nopipefail.rc"
deliver nopipefail; st=$?
is "$st/$(records)/$(inbox)" 0/3/3 "without pipefail the failure is not seen: exit 0, no record, no copy (lost)"

# Without w procmail waits for the pipeline only for the lockfile's sake:
# with the lockfile it sees the failure (and does not log it), without
# it the status is not looked at.
rcfile nowlock '' "$T/fail" /bin/bash
deliver nowlock; st=$?
is "$st/$(records)/$(inbox)/$(grep -c 'Program failure' "$T/procmail.log")" 75/3/3/2 \
    "without w, with the lockfile: exit 75, but no Program failure in the log"
rcfile nowait '' "$T/fail" /bin/bash ''
# procmail does not wait: the pipeline says when it is done, for the count.
sed -i "/procmail.jsonl\$/s|\$|; : > $T/done|" "$T/nowait.rc"
deliver nowait; st=$?
for i in $(seq 100); do [ -e "$T/done" ] && break; sleep 0.1; done
is "$st/$(records)/$(inbox)" 0/3/3 "without w or a lockfile the failure is not seen: exit 0 (lost)"
