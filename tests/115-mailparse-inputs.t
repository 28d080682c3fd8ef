#!/bin/bash
# Where mail comes from: files, an mbox, a Maildir, a tree of files,
# stdin; the spool's default place; the flags.
cd "$(dirname "$0")/.." || exit 1
MP=$PWD/bin/mailparse
[ -x "$MP" ] || { echo "1..0 # SKIP bin/mailparse not built"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
ok() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi; }
F=$PWD/tests/fixtures

# A Maildir: new/ before cur/, tmp/ never, dot files never.
mkdir -p "$T/Maildir/new" "$T/Maildir/cur" "$T/Maildir/tmp"
cp "$F/no-subject.eml" "$T/Maildir/cur/1700000000.1.host:2,S"
cp "$F/rfc2047-names.eml" "$T/Maildir/new/1700000001.2.host"
cp "$F/latin1-body.eml" "$T/Maildir/tmp/1700000002.3.host"
cp "$F/latin1-body.eml" "$T/Maildir/cur/.hidden"
"$MP" --no-store --quiet "$T/Maildir" > "$T/out"
ok "Maildir: new/ then cur/, not tmp/ or dot files" \
    '[ "$(jq -r .source.path "$T/out" | sed "s|$T/||" | tr "\n" " ")" = "Maildir/new/1700000001.2.host Maildir/cur/1700000000.1.host:2,S " ]'
ok "Maildir source kind" '[ "$(jq -r .source.kind "$T/out" | sort -u)" = maildir ]'

# A tree of files, sorted, symlinked files read, symlinked directories not.
mkdir -p "$T/tree/b" "$T/tree/a"
cp "$F/no-subject.eml" "$T/tree/b/m1"
cp "$F/crlf-lines.eml" "$T/tree/a/m2"
ln -s "$F/qp-soft-breaks.eml" "$T/tree/a/link.eml"
ln -s "$T/tree" "$T/tree/a/loop"
"$MP" --no-store --quiet "$T/tree" > "$T/out"
ok "directory tree: sorted walk, file links followed, directory links not" \
    '[ "$(jq -r .source.path "$T/out" | sed "s|$T/tree/||" | tr "\n" " ")" = "a/link.eml a/m2 b/m1 " ]'
ok "plain files are source kind file" '[ "$(jq -r .source.kind "$T/out" | sort -u)" = file ]'

# stdin: one message, or an mbox.
"$MP" --no-store --quiet < "$F/rfc2047-names.eml" > "$T/out"
ok "a message on stdin: source kind stdin" '[ "$(jq -c .source "$T/out")" = "{\"kind\":\"stdin\"}" ]'
"$MP" --no-store --quiet - < "$F/mbox-from-quoting.mbox" > "$T/out"
ok "an mbox on stdin (-): path \"-\", indexes 0..2" \
    '[ "$(jq -c "[.source.path,.source.index]" "$T/out" | tr "\n" " ")" = "[\"-\",0] [\"-\",1] [\"-\",2] " ]'

# The id is the SHA-256 of the message's bytes.
ok "id is the SHA-256 of a single-message file" \
    '[ "$("$MP" --no-store --quiet "$F/rfc2047-names.eml" | jq -r .id)" = "$(sha256sum < "$F/rfc2047-names.eml" | cut -c1-64)" ]'

# Where the spool is: -d, $MAILCASE_SPOOL, $XDG_DATA_HOME, ~/.local/share.
"$MP" -d "$T/s1" --quiet "$F/no-subject.eml" > /dev/null
ok "-d makes the spool there" '[ -d "$T/s1/msg" ]'
MAILCASE_SPOOL=$T/s2 "$MP" --quiet "$F/no-subject.eml" > /dev/null
ok "MAILCASE_SPOOL" '[ -d "$T/s2/msg" ]'
env -u MAILCASE_SPOOL XDG_DATA_HOME=$T/xdg "$MP" --quiet "$F/no-subject.eml" > /dev/null
ok "XDG_DATA_HOME/mailcase" '[ -d "$T/xdg/mailcase/msg" ]'
env -u MAILCASE_SPOOL -u XDG_DATA_HOME HOME=$T/home "$MP" --quiet "$F/no-subject.eml" > /dev/null
ok "~/.local/share/mailcase" '[ -d "$T/home/.local/share/mailcase/msg" ]'
env -u MAILCASE_SPOOL -u XDG_DATA_HOME -u HOME "$MP" --quiet "$F/no-subject.eml" > /dev/null 2> "$T/err"; st=$?
ok "no spool can be found: exit 78 and a reason" '[ $st = 78 ] && grep -q "no spool" "$T/err"'
"$MP" -d /proc/nonexistent/spool --quiet "$F/no-subject.eml" > /dev/null 2> "$T/err"; st=$?
ok "a spool that cannot be made: exit 73" '[ $st = 73 ] && grep -q "open spool" "$T/err"'

# Progress on stderr when asked, none when quiet; usage.
"$MP" --no-store --progress "$F/mbox-from-quoting.mbox" > /dev/null 2> "$T/err"
ok "--progress: a line with MB, messages and MB/s" 'grep -q "3 messages, .* MB/s" "$T/err"'
"$MP" --no-store --quiet "$F/mbox-from-quoting.mbox" > /dev/null 2> "$T/err"
ok "--quiet: nothing on stderr" '[ ! -s "$T/err" ]'
"$MP" --bogus > /dev/null 2> "$T/err"; st=$?
ok "an unknown flag: exit 64 and the synopsis" '[ $st = 64 ] && grep -q "^usage: mailparse \[-d spool\]" "$T/err"'
ok "the synopsis is the man page's" \
    'grep -q "mailparse \[-d spool\] \[--no-store\] \[-j jobs\] \[--progress | --quiet\] \[file | dir ...\]" "$T/err" &&
     grep -q "^\.Op Fl d Ar spool" share/man/man1/mailparse.1'
echo "1..$n"
