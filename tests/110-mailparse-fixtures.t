#!/usr/bin/env bash
# mailparse on the hand-written fixtures in tests/fixtures/ and the demo
# mailbox in share/demo/.  Every expected value below was worked out by hand
# from the fixture bytes (no golden dumps).  TAP output; run from anywhere:
#   prove tests/110-mailparse-fixtures.t
# MAILPARSE=... overrides the binary (e.g. "valgrind -q --error-exitcode=99 bin/mailparse").
# jq filters are single-quoted on purpose; $vars in them are jq --arg variables.
# shellcheck disable=SC2016,SC1112
cd "$(dirname "$0")/.." || exit 1

if [ -z "${MAILPARSE:-}" ]; then
    if [ ! -x bin/mailparse ]; then
        echo "1..0 # SKIP bin/mailparse not built"
        exit 0
    fi
    MAILPARSE=bin/mailparse
fi
if ! command -v jq >/dev/null 2>&1; then
    echo "1..0 # SKIP jq not installed"
    exit 0
fi

FIX=tests/fixtures
DEMO=share/demo/mailbox.mbox
OUT=$(mktemp -d) || exit 1
trap 'rm -rf "$OUT"' EXIT
n=0

# --- helpers ---------------------------------------------------------------

sha256() { sha256sum | cut -d' ' -f1; }
sha1()   { sha1sum   | cut -d' ' -f1; }
md5()    { md5sum    | cut -d' ' -f1; }

path_of() {   # a fixture name, or a path
    case $1 in */*) echo "$1" ;; *) echo "$FIX/$1" ;; esac
}

# parse FILE once: $OUT/KEY.jsonl (stdout), KEY.err, KEY.rc
parse() {
    local p key
    p=$(path_of "$1"); key=$(basename "$p")
    if [ ! -f "$OUT/$key.rc" ]; then
        # shellcheck disable=SC2086  # MAILPARSE may hold a wrapper command
        $MAILPARSE --no-store "$p" >"$OUT/$key.jsonl" 2>"$OUT/$key.err"
        echo $? >"$OUT/$key.rc"
    fi
    echo "$OUT/$key"
}

report() {   # report STATUS DESC [BASE FILTER]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        if [ -n "$3" ]; then
            echo "#   filter: $4"
            echo "#   exit:   $(cat "$3.rc")"
            head -c 400 "$3.err" | sed 's/^/#   stderr: /'
            head -c 600 "$3.jsonl" | sed 's/^/#   stdout: /'
            echo
        fi
    fi
}

# check DESC JQFILTER FILE [jq options...]
# JQFILTER runs on the first record FILE yields.
check() {
    local desc=$1 filter=$2 base
    base=$(parse "$3"); shift 3
    jq -e -s "$@" ".[0] | ($filter)" "$base.jsonl" >/dev/null 2>&1
    report $? "$desc" "$base" "$filter"
}

# checkall DESC JQFILTER FILE [jq options...]
# JQFILTER runs on the array of all records FILE yields (mailboxes).
checkall() {
    local desc=$1 filter=$2 base
    base=$(parse "$3"); shift 3
    jq -e -s "$@" "$filter" "$base.jsonl" >/dev/null 2>&1
    report $? "$desc" "$base" "$filter"
}

# exit status: 0 with no "error", or 65 with one
check_rc() {
    local base rc
    base=$(parse "$1"); rc=$(cat "$base.rc")
    case $rc in
        0)  jq -e -s 'all(.[]; .error == null)' "$base.jsonl" >/dev/null 2>&1 ;;
        65) jq -e -s 'any(.[]; .error != null)' "$base.jsonl" >/dev/null 2>&1 ;;
        *)  false ;;
    esac
    report $? "$1: exit $rc agrees with the error field" "$base" "exit status"
}

# --- every single-message fixture --------------------------------------------

# Messages that are well-formed enough that they must not be an `error`
# (damage is reported in `defects`, exit 0).
CLEAN="rfc2047-names.eml rfc2231-filename.eml utf8-8bit-euro.eml latin1-body.eml
windows1252-body.eml charset-lies.eml charset-lies-ascii.eml charset-lies-utf8.eml
charset-unknown.eml qp-soft-breaks.eml base64-garbage.eml nested-forward.eml
eml-as-octet.eml tnef-winmail.eml html-only.eml no-disposition-pdf.eml
inline-image-cid.eml crlf-lines.eml missing-final-boundary.eml truncated-base64.eml
group-addresses.eml broken-address-list.eml no-subject.eml duplicate-received.eml
date-timezones.eml date-garbage.eml threading-headers.eml"

for f in $CLEAN nul-bytes.eml; do
    p=$FIX/$f
    [ -f "$p" ] || { report 1 "$f: fixture exists"; continue; }
    id=$(sha256 <"$p")
    checkall "$f: exactly one message record, v 1" \
        'length == 1 and .[0].v == 1 and .[0].kind == "message"' "$f"
    check "$f: id is the sha256 of the file" '.id == $id' "$f" --arg id "$id"
    check "$f: source is the file" \
        '.source.kind == "file" and (.source.path | endswith($f))' "$f" --arg f "$f"
done
for f in $CLEAN; do
    check "$f: exit 0, no error" '.error == null' "$f"
    base=$(parse "$f"); [ "$(cat "$base.rc")" = 0 ]
    report $? "$f: exit status 0" "$base" "exit status"
done
check_rc nul-bytes.eml

# --- rfc2047-names.eml --------------------------------------------------------
f="rfc2047-names.eml"
check "$f: Q-encoded UTF-8 From name" \
    '.from == [{"name": "José Martínez", "addr": "jose@example.org"}]' $f
check "$f: B-encoded UTF-8 To name" \
    '.to[0].name == "Иван Петров" and .to[0].addr == "ivan@example.com"' $f
check "$f: Q-encoded ISO-8859-1 To name" \
    '.to[1].name == "François Müller" and .to[1].addr == "francois@example.com"' $f
check "$f: Cc quoted name and lower-case b-encoded name" \
    '[.cc[].name] == ["Plain Name", "山田太郎"] and [.cc[].addr] == ["plain@example.com", "yamada@example.com"]' $f
check "$f: subject joined from two encoded-words" \
    '.subject == "Café réunion – budget 5 €" and .name == .subject' $f
check "$f: decoded Subject in headers" \
    '[.headers[] | select(.[0] | ascii_downcase == "subject") | .[1]] == ["Café réunion – budget 5 €"]' $f
check "$f: message_id without brackets, no threading" \
    '.message_id == "rfc2047.names@example.org" and .in_reply_to == null and .references == []' $f
check "$f: date in UTC" '.date == "2024-03-05T09:30:00Z"' $f
check "$f: plain body, no html, no parts, no defects" \
    '(.text | contains("RFC 2047 encoded-words")) and .html == null and .attachments == [] and .messages == [] and .defects == []' $f

# --- rfc2231-filename.eml -----------------------------------------------------
f="rfc2231-filename.eml"
resume() { printf '%s\n' '%PDF-1.4' '% fake resume for mailcase tests' '%%EOF'; }
cafe() { printf 'caf\xc3\xa9 menu\n'; }
check "$f: two attachments" '.attachments | length == 2' $f
check "$f: RFC 2231 continued UTF-8 filename" \
    '.attachments[0] | .part == "2" and .name == "Résumé José Martínez.pdf" and .type == "application/pdf" and .disposition == "attachment"' $f
check "$f: PDF size and hashes" \
    '.attachments[0] | .size == 48 and .sha256 == $s and .sha1 == $s1 and .md5 == $m and .content_id == null and .vault == null' $f \
    --arg s "$(resume | sha256)" --arg s1 "$(resume | sha1)" --arg m "$(resume | md5)"
check "$f: RFC 2231 ISO-8859-1 filename with language" \
    '.attachments[1] | .part == "3" and .name == "café menu.txt" and .type == "text/plain" and .size == 11 and .sha256 == $s' $f \
    --arg s "$(cafe | sha256)"
check "$f: text/plain attachment is not in the body" \
    '(.text | contains("Please find the CV attached.")) and (.text | contains("café menu") | not) and (.text | contains("%PDF") | not)' $f

# --- utf8-8bit-euro.eml -------------------------------------------------------
f="utf8-8bit-euro.eml"
check "$f: raw 8-bit UTF-8 subject" '.subject == "Preis: 10 € bei bücher.example"' $f
check "$f: raw 8-bit UTF-8 From name" \
    '.from[0].name == "Jürgen Groß" and .from[0].addr == "juergen@example.org"' $f
check "$f: euro sign in the 8bit body" '.text | contains("Der Preis beträgt 10 € inkl. MwSt.")' $f
check "$f: IDN URL kept as written" '.text | contains("http://bücher.example/katalog?id=42")' $f
check "$f: honest charset, no charset-mismatch" '[.defects[] | select(.code == "charset-mismatch")] == []' $f

# --- latin1-body.eml ----------------------------------------------------------
f="latin1-body.eml"
check "$f: QP ISO-8859-1 accents decoded" \
    '.text | contains("Café crème, crème brûlée et gâteau.")' $f
check "$f: QP ISO-8859-1 guillemets and diaeresis" \
    '.text | contains("Le garçon naïf dit: « bon appétit ».")' $f
check "$f: honest charset, no charset-mismatch" '[.defects[] | select(.code == "charset-mismatch")] == []' $f

# --- windows1252-body.eml -----------------------------------------------------
f="windows1252-body.eml"
check "$f: 0x80 is the euro sign" '.text | contains("Total: € 250")' $f
check "$f: 0x93/0x94 smart quotes, 0x96 dash, 0x92 apostrophe" \
    '.text | contains("He said “pay today” – it’s urgent.")' $f
check "$f: honest charset, no charset-mismatch" '[.defects[] | select(.code == "charset-mismatch")] == []' $f

# --- charset lies -------------------------------------------------------------
for f in charset-lies.eml charset-lies-ascii.eml; do
    check "$f: UTF-8 bytes decoded as UTF-8 despite the declaration" \
        '(.text | contains("Menu: café €")) and (.text | contains("Ã") | not)' $f
    check "$f: charset-mismatch defect" 'any(.defects[]; .code == "charset-mismatch")' $f
done
f="charset-lies-utf8.eml"
check "$f: invalid UTF-8 decoded as windows-1252" \
    '(.text | contains("Menu: café crème")) and (.text | contains("\ufffd") | not)' $f
check "$f: charset-mismatch defect" 'any(.defects[]; .code == "charset-mismatch")' $f
f="charset-unknown.eml"
check "$f: unknown-charset defect" 'any(.defects[]; .code == "unknown-charset")' $f
check "$f: ASCII body still decoded" '.text | contains("Hello, this body is plain ASCII.")' $f

# --- qp-soft-breaks.eml -------------------------------------------------------
f="qp-soft-breaks.eml"
check "$f: soft break inside a word joined" \
    '.text | contains("This line was wrapped by the quoted-printable encoder in the middle of a word.")' $f
check "$f: =3D decoded" '.text | contains("Equation: 2 + 2 = 4, and a=b.")' $f
check "$f: UTF-8 sequence split by a soft break" '.text | contains("Résumé.")' $f
check "$f: space before a soft break kept" '.text | contains("one two.")' $f
check "$f: no QP residue" \
    '(.text | test("=\n|=3D|=C3|=A9") | not)' $f

# --- base64-garbage.eml -------------------------------------------------------
f="base64-garbage.eml"
fox() { printf 'The quick brown fox jumps over the lazy dog\n'; }
check "$f: one attachment noise.bin" \
    '.attachments | length == 1 and .[0].name == "noise.bin" and .[0].type == "application/octet-stream"' $f
check "$f: junk skipped, unpadded tail decoded (44 bytes)" \
    '.attachments[0] | .size == 44 and .sha256 == $s' $f --arg s "$(fox | sha256)"
check "$f: body text" '.text | contains("See attachment.")' $f

# --- mbox-from-quoting.mbox ---------------------------------------------------
f="mbox-from-quoting.mbox"
check_rc $f
checkall "$f: three records (a From line without a date is no separator)" 'length == 3' $f
checkall "$f: source kind, path, index" \
    'all(.[]; .source.kind == "mbox" and (.source.path | endswith("mbox-from-quoting.mbox"))) and [.[].source.index] == [0, 1, 2]' $f
# grep -b '^From [^ ]*@' tests/fixtures/mbox-from-quoting.mbox
checkall "$f: offsets of the From_ lines" '[.[].source.offset] == [0, 341, 581]' $f
checkall "$f: subjects in order" '[.[].subject] == ["first", "second", "third"]' $f
checkall "$f: dates in UTC" \
    '[.[].date] == ["2024-01-01T00:00:00Z", "2024-01-02T10:15:00Z", "2024-01-03T23:59:59Z"]' $f
# ids: From_ line dropped, one ">" removed, the blank line before the next
# From_ line (and the trailing one at EOF) dropped, e.g. for message 0:
#   sed -n '2,13p' FILE | sed -E 's/^>(>*From )/\1/' | sha256sum
checkall "$f: ids hash the unescaped message bytes" \
    '[.[].id] == ["1c90954cef7a47dd701dd54dbc52a5679e2e222a4b694f218ed3fabe840003ba", "bc146cee42b24abd60f0e93e0d49409f4d6d1a845434f60a7aaa052a53a1ead2", "19086795735813bd901691071bb4d2d68c9d50f05861bf3f2800f90ae3f78064"]' $f
checkall "$f: >From unescaped once" \
    '.[0].text | contains("\nFrom here on, things change.") and (contains(">From here") | not)' $f
checkall "$f: >>From becomes >From" \
    '.[0].text | contains("\n>From the archive: quoted twice.") and (contains(">>From") | not)' $f
checkall "$f: dateless From line stays in the body" \
    '.[0].text | contains("From the desk of Alice: this line has no date") and contains("Bye")' $f
checkall "$f: body starting with >From unescaped" \
    '(.[1].text | contains("From Bob with love.")) and (.[1].text | contains(">From Bob") | not)' $f
checkall "$f: In-Reply-To of the second message" '.[1].in_reply_to == "mbox.1@example.org"' $f

# --- nested-forward.eml -------------------------------------------------------
f="nested-forward.eml"
csv() { printf 'host,ip\nmx,192.0.2.10\n'; }
check "$f: one attached message, part 2" '.messages | length == 1 and .[0].part == "2"' $f
check "$f: outer text only, not the inner one" \
    '(.text | contains("See the forwarded message below.")) and (.text | contains("Original text") | not)' $f
check "$f: inner headers" \
    '.messages[0] | .subject == "quarterly numbers" and .from[0].addr == "author@example.com" and .message_id == "nested.inner@example.com"' $f
check "$f: inner date in UTC" '.messages[0].date == "2024-03-11T15:00:00Z"' $f
check "$f: inner text" '.messages[0].text | contains("Original text of the inner message.")' $f
check "$f: attachment of the attached message" \
    '.messages[0].attachments | length == 1 and (.[0] | .name == "hosts.csv" and .type == "text/csv" and .size == 22 and .sha256 == $s and (.part | endswith("2")))' $f \
    --arg s "$(csv | sha256)"

# --- eml-as-octet.eml ---------------------------------------------------------
f="eml-as-octet.eml"
# the base64 part decodes to 286 bytes:
#   sed -n '/^Content-Transfer-Encoding: base64/,/^--octet-b--/p' FILE | sed '1,2d;$d' | base64 -d | sha256sum
inner=d742c600d664d331e265a240809cee416150a2d1b6f3ade44d31c477fcfb1186
check "$f: fwd.eml kept as an attachment" \
    'any(.attachments[]; .part == "2" and .name == "fwd.eml" and .type == "application/octet-stream" and .size == 286 and .sha256 == $s)' $f \
    --arg s $inner
check "$f: fwd.eml also parsed as a message" \
    '.messages | length == 1 and (.[0] | .part == "2" and .subject == "Your invoice is ready" and .id == $s)' $f \
    --arg s $inner
check "$f: inner message body and sender" \
    '.messages[0] | (.text | contains("Pay here: http://198.51.100.7/pay")) and .from[0].addr == "billing@login-micros0ft.example"' $f

# --- tnef-winmail.eml ---------------------------------------------------------
f="tnef-winmail.eml"
# python3 tests/fixtures/mktnef.py | sha256sum
tnef=65c7d08a49cd373e8794d4f668c67e32a34b14461fce55c4414ae693bcaf83a6
check "$f: winmail.dat plus the file inside it" '.attachments | length == 2' $f
check "$f: winmail.dat itself" \
    '.attachments[0] | .part == "2" and .name == "winmail.dat" and .type == "application/ms-tnef" and .size == 143 and .sha256 == $s' $f \
    --arg s $tnef
check "$f: hello.txt unpacked as part 2/1" \
    'any(.attachments[]; .part == "2/1" and .name == "hello.txt" and .size == 11 and .sha256 == $s)' $f \
    --arg s "$(printf 'hello tnef\n' | sha256)"
check "$f: body text" '.text | contains("The file is inside winmail.dat.")' $f

# --- html-only.eml ------------------------------------------------------------
f="html-only.eml"
check "$f: html kept" '.html | contains("<p>Dear customer,</p>")' $f
check "$f: text rendered from html" '.text | contains("Dear customer,") and contains("Log in")' $f
check "$f: entities decoded" \
    '.text | contains("Fish & chips at the café.") and contains("<tag>") and contains("€5") and contains("€6")' $f
check "$f: <br> is a line break" '.text | test("café\\.[ \\t]*\\n[ \\t]*Second line")' $f
check "$f: no tags in text" '.text | (contains("<p>") or contains("<br") or contains("<a ") or contains("</")) | not' $f
check "$f: no script content in text" \
    '.text | (contains("evil-script-content") or contains("do-not-show-script") or contains("alert(")) | not' $f
check "$f: no style content in text" '.text | contains("color: red") | not' $f
check "$f: no attachments" '.attachments == []' $f

# --- no-disposition-pdf.eml ---------------------------------------------------
f="no-disposition-pdf.eml"
pdf1() { printf '%s\n' '%PDF-1.4' '1 0 obj << /Type /Catalog >> endobj' '%%EOF'; }
pdf2() { printf '%s\n' '%PDF-1.4' '% second, nameless' '%%EOF'; }
check "$f: both PDFs are attachments" \
    '[.attachments[].type] == ["application/pdf", "application/pdf"] and [.attachments[].part] == ["2", "3"]' $f
check "$f: named PDF without Content-Disposition" \
    '.attachments[0] | .name == "invoice.pdf" and .disposition == null and .size == 51 and .sha256 == $s' $f \
    --arg s "$(pdf1 | sha256)"
check "$f: nameless PDF" \
    '.attachments[1] | .name == null and .disposition == null and .size == 34 and .sha256 == $s' $f \
    --arg s "$(pdf2 | sha256)"
check "$f: body is only the text part" \
    '(.text | contains("Invoice attached.")) and (.text | contains("%PDF") | not) and .html == null' $f

# --- inline-image-cid.eml -----------------------------------------------------
f="inline-image-cid.eml"
# 1x1 PNG: sed -n '/^Content-Transfer-Encoding: base64/,/^--rel-b--/p' FILE | sed '1,2d;$d' | base64 -d | sha256sum
png=b1ff9c8ea3a780bad09b346c423d2d0e46815926879b18e841d928376a946640
check "$f: cid image is an inline attachment" \
    '.attachments | length == 1 and (.[0] | .part == "2" and .type == "image/png" and .disposition == "inline" and .name == null)' $f
check "$f: content_id without brackets" '.attachments[0].content_id == "logo123@example.com"' $f
check "$f: image bytes" '.attachments[0] | .size == 69 and .sha256 == $s' $f --arg s $png
check "$f: html references the cid" '.html | contains("cid:logo123@example.com")' $f
check "$f: text rendered from the html" '.text | contains("Welcome aboard") and (contains("<h1>") | not)' $f

# --- crlf-lines.eml -----------------------------------------------------------
f="crlf-lines.eml"
check "$f: headers parsed, no CR left in them" \
    '.subject == "CRLF line endings" and .from[0].addr == "win@example.org" and all(.headers[]; .[1] | contains("\r") | not)' $f
check "$f: date in UTC" '.date == "2024-03-17T18:00:00Z"' $f
check "$f: body text" '.text | contains("Line one.") and contains("Line two.")' $f
check "$f: base64 attachment across CRLF lines" \
    '.attachments | length == 1 and .[0].name == "crlf.bin" and .[0].size == 16 and .[0].sha256 == $s' $f \
    --arg s "$(printf 'crlf attachment\n' | sha256)"

# --- missing-final-boundary.eml / truncated-base64.eml -------------------------
f="missing-final-boundary.eml"
check "$f: a defect is reported" '.defects | length > 0' $f
check "$f: body text kept" '.text | contains("Body before the attachment.")' $f
check "$f: last part still complete" \
    '.attachments | length == 1 and .[0].name == "data.bin" and .[0].size == 41 and .[0].sha256 == $s' $f \
    --arg s "$(printf 'complete attachment, no closing boundary\n' | sha256)"
f="truncated-base64.eml"
check "$f: a defect is reported" '.defects | length > 0' $f
check "$f: body text kept" '.text | contains("The attachment below was cut off in transit.")' $f
# 1024 bytes were encoded; 694 base64 characters survive (173 quanta + 2 chars)
check "$f: truncated attachment kept with what survived" \
    '.attachments | length == 1 and .[0].name == "big.bin" and .[0].size >= 519 and .[0].size <= 520' $f

# --- addresses ----------------------------------------------------------------
f="group-addresses.eml"
check "$f: empty group adds nothing" '.to == []' $f
check "$f: group members flattened, then the plain address" \
    '[.cc[].addr] == ["a@x.example", "b@y.example", "carol@example.com"]' $f
check "$f: members carry the group name" \
    '.cc[0].group == "Team" and .cc[1].group == "Team" and .cc[2].group == null' $f
check "$f: member names" '.cc[0].name == null and .cc[1].name == "Bee Example"' $f
f="broken-address-list.eml"
check "$f: stray commas dropped, address without a domain kept" \
    '[.to[].addr] == ["alice@example.org", "bob@example.org", "carol@example.com", "nodomain"]' $f
check "$f: unquoted display name with a dot" '.to[1].name == "Bob B. Smith"' $f
check "$f: other names" '.to[0].name == null and .to[2].name == "Carol" and .to[3].name == null' $f
f="threading-headers.eml"
check "$f: sender, reply_to, delivered_to" \
    '.sender == [{"name": "Mail Robot", "addr": "robot@example.com"}] and .reply_to == [{"name": "Dana Private", "addr": "dana.private@example.com"}] and .delivered_to == [{"name": null, "addr": "soc@example.org"}]' $f
check "$f: to, cc, bcc" \
    '.to == [{"name": "Security Team", "addr": "soc@example.org"}] and .cc == [{"name": "Boss", "addr": "boss@example.com"}] and .bcc == [{"name": null, "addr": "audit@example.org"}]' $f
check "$f: in_reply_to and folded references without brackets" \
    '.in_reply_to == "case-12345678.1@example.org" and .references == ["report.1@example.com", "case-12345678.1@example.org"]' $f
check "$f: subject with a case code untouched" \
    '.subject == "Re: <12345678> Suspicious login page" and .message_id == "reply.2@example.com"' $f
check "$f: -0700 crosses midnight in UTC" '.date == "2024-03-23T00:05:00Z"' $f
check "$f: clean message has no defects" '.defects == []' $f

# --- headers, subject, dates --------------------------------------------------
f="no-subject.eml"
check "$f: subject null, name (no subject)" '.subject == null and .name == "(no subject)"' $f
check "$f: no Subject header invented" \
    '[.headers[] | select(.[0] | ascii_downcase == "subject")] == []' $f
f="duplicate-received.eml"
check "$f: header names in file order, duplicates kept" \
    '[.headers[][0]] == ["Received", "Received", "Received", "From", "To", "Subject", "Date", "Message-ID"]' $f
check "$f: Received headers in order (newest first)" \
    '[.headers[] | select(.[0] == "Received") | .[1] | capture("by (?<h>mx[0-9])").h] == ["mx3", "mx2", "mx1"]' $f
check "$f: folded Received value complete" \
    '.headers[2][1] | contains("198.51.100.77") and contains("id A1; Thu, 21 Mar 2024 10:00:01 +0000")' $f
f="date-timezones.eml"
check "$f: +0530 converted to UTC (previous day, leap day)" '.date == "2024-02-29T20:45:00Z"' $f
check "$f: raw Date header kept" \
    'any(.headers[]; .[0] == "Date" and .[1] == "Fri, 01 Mar 2024 02:15:00 +0530")' $f
f="date-garbage.eml"
check "$f: unparsable date is null" '.date == null and .subject == "Unparsable date"' $f

# --- nul-bytes.eml ------------------------------------------------------------
f="nul-bytes.eml"
check "$f: headers around the NUL parsed" \
    '.from[0].addr == "nul@example.org" and (.subject | startswith("before")) and .message_id == "nul.bytes@example.org"' $f
check "$f: body before the NUL" '.text | contains("Body with a NUL here: [")' $f
check "$f: body after the NUL not lost" '.text | index("and text after it.") != null' $f

# --- share/demo/mailbox.mbox --------------------------------------------------
f=$DEMO
check_rc $f
checkall "demo: one record per message (5)" 'length == 5' $f
checkall "demo: source indexes and From_ offsets" \
    '[.[].source.index] == [0, 1, 2, 3, 4] and [.[].source.offset] == [0, 2261, 3015, 4112, 4540] and all(.[]; .source.kind == "mbox")' $f
checkall "demo: ids hash the unescaped message bytes" \
    '[.[].id] == ["ce8b6e007334da7386b086294fc288c514866d1cba221bbe2049843914a39546", "f142267acdd0286a6826ecb0b9b500d218fdd4e559495531200ac0dd4aecb6d0", "0ba3b761ba332566025b8fc69ce977daea53dfae254355fa110ded581c57ef03", "cc8fd8b3234ca9d4e00d89b3d2075ca545814c8052fce05b64d50dfa07f23b29", "6af3c8f00cde78a10056b077116eec68cc6f339e24dc2238937702bd491ab2a8"]' $f
checkall "demo: report text has the defanged and the plain URL" \
    '.[0].text | contains("hxxps://login-micros0ft[.]example/verify") and contains("http://198.51.100.23/payload") and contains("192.0.2.45")' $f
checkall "demo: reported mail attached as a message" \
    '.[0].messages | length == 1 and .[0].from[0].addr == "no-reply@login-micros0ft.example" and .[0].subject == "Action required: verify your Microsoft 365 account"' $f
checkall "demo: saved page is an attachment, not the html body" \
    '.[0].html == null and any(.[0].attachments[]; .name == "Secure_Document.html" and .type == "text/html" and .size == 272 and .sha256 == "9efd1e661c9504ac009237e533fbfb78cdbb463286699f4556a5aa91fcab82b7")' $f
checkall "demo: reply with a case code and In-Reply-To" \
    '.[1] | .subject == "Re: <12345678> Suspicious login page" and .in_reply_to == "case-12345678.1@security.example.org" and .references == ["report.1@example.com", "case-12345678.1@security.example.org"]' $f
checkall "demo: reply QP body decoded" '.[1].text | contains("A colleague (José) got the same mail")' $f
checkall "demo: HTML-only phish rendered to text" \
    '.[2] | .subject == "Your password expires today – keep it now" and (.html | contains("href=\"http://login-micros0ft.example/keep?id=8841\"")) and (.text | contains("Keep my password")) and (.text | contains("click below & sign in"))' $f
checkall "demo: HTML phish Reply-To" '.[2].reply_to[0].addr == "harvest@198.51.100.88"' $f
checkall "demo: broken multipart has defects" '.[3].subject == "broken multipart" and (.[3].defects | length > 0)' $f
checkall "demo: >From in a body unescaped once" \
    '.[4].text | contains("\nFrom the office of the CEO") and (contains(">From the office") | not)' $f

echo "1..$n"
