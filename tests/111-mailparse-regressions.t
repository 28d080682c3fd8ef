#!/bin/bash
# Where GMime alone gets real mail wrong, and mailparse must not.
cd "$(dirname "$0")/.." || exit 1
MP=bin/mailparse
[ -x "$MP" ] || { echo "1..0 # SKIP $MP not built"; exit 0; }
F=tests/fixtures
n=0
check() {	# check DESC FIXTURE JQ-FILTER
	n=$((n+1))
	if "$MP" --no-store --quiet "$F/$2" 2>/dev/null | jq -e "$3" > /dev/null 2>&1; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		"$MP" --no-store --quiet "$F/$2" 2>/dev/null | head -c 400 | sed 's/^/# /'; echo
	fi
}
# GMime joins the base64 of adjacent encoded-words and stops at the first '='.
check "padded base64 encoded-words in a run: every word decoded" rfc2047-padded-words.eml \
    '.subject == "abccafé€" and .name == .subject'
check "the Subject header value reads the same" rfc2047-padded-words.eml \
    '.headers[] | select(.[0] == "Subject") | .[1] == "abccafé€"'
check "display name in padded words" rfc2047-padded-words.eml \
    '.from[0] == {"name": "José Müller", "addr": "jm@example.org"}'
check "file name in padded words" rfc2047-padded-words.eml '.attachments[0].name == "report.pdf"'
# Servers strip trailing spaces, and a space is a zero in uuencode.
check "uuencoded lines that lost their trailing spaces decode whole" uuencode-stripped-spaces.eml \
    '.attachments[0] | .name == "zeros.bin" and .size == 46 and
     .sha256 == "87ecff64026dd6136eb71f68b3d091947c33ecfe1b097126b0031d7123349599"'
# RFC 2045 5.2: a Content-Type that is not type/subtype means text/plain.
check "Content-Type \"text plain\" is a text body" bad-content-type.eml '.text == "plain words"'
check "an unreadable type that names a file is a file, name kept" bad-content-type.eml \
    '.attachments == [.attachments[0]] and .attachments[0].name == "tool.bin"'
# A message/rfc822 part in base64 is a message, not a file too.
check "base64 message/rfc822: a nested message, not an attachment" rfc822-base64-no-final-newline.eml \
    '(.attachments | length) == 0 and .messages[0].subject == "inner"
     and .messages[0].part == "2"'
# GMime leaves a CR in the last part when the close delimiter ends the file.
check "no stray CR when the file ends right after the close delimiter" rfc822-base64-no-final-newline.eml \
    '.messages[0].text == "inner body\n"'
check "CRLF bodies read with LF line ends" crlf-lines.eml '(.text | index("\r")) == null'
# The message is read as a MIME part, where any field repeated conflicts.
check "repeated Received fields are no defect" repeated-fields.eml \
    '[.defects[] | select(.text | startswith("Received"))] == []'
check "repeated Date, Message-ID and Content-Type fields conflict" repeated-fields.eml \
    '[.defects[] | select(.code == "conflicting-header") | .text | split(" ")[0]] ==
     ["Date", "Message-ID", "Content-Type"]'
check "the last Message-ID and Date count, as GMime's message would" repeated-fields.eml \
    '.message_id == "last@example.org" and .date == "2026-11-03T11:00:00Z"'
check "a bad address list: said once, at its field's offset, not twice" repeated-fields.eml \
    '[.defects[] | select(.code == "invalid-address-list") | .text] ==
     ["Bad <a@b@example.org> at byte 290", "@example.org> at byte 290"]'
check "every field listed once, in order" repeated-fields.eml \
    '[.headers[][0]] == ["Received", "Received", "Date", "Date", "Message-ID",
     "Message-ID", "Subject", "From", "To", "Content-Type", "Content-Type"]'
check "a bad-date defect quotes the Date field that was read, the last" \
    repeated-date-bad.eml \
    '.date == null and [.defects[] | select(.code == "bad-date") | .text] ==
     ["not a date at all"]'
# After lines of spaces, GMime is given the header block alone.
check "after skipped blank lines, repeated Received fields are no defect" \
    leading-blank-lines-repeats.eml \
    '.subject == "one" and [.defects[] | select(.text | startswith("Received"))] == []'
check "after skipped blank lines, a conflict's offset counts from the file's start" \
    leading-blank-lines-repeats.eml \
    '[.defects[] | select(.code == "conflicting-header") | .text] ==
     ["Subject at byte 164"]'
# An attached message is read from the bytes the sender attached, once:
# GMime is not asked to parse it inside its parent and write it out again.
inner=$(python3 -c '
import hashlib, sys
d = open(sys.argv[1], "rb").read()
head = b"Content-Type: message/rfc822\n\n"
part = d[d.index(head) + len(head):d.index(b"\n--b1--")]
print(hashlib.sha256(part[part.index(b"\n") + 1:]).hexdigest())
' "$F/rfc822-mbox-from-line.eml")
check "an attached message's id is the hash of its attached bytes" \
    rfc822-mbox-from-line.eml ".messages[0].id == \"$inner\""
check "an attached message saved from an mbox: its From_ line skipped, as GMime did" \
    rfc822-mbox-from-line.eml \
    '.messages[0].subject == "invoice overdue" and
     .messages[0].message_id == "mboxfwd.inner@example.net" and
     .messages[0].text == "Pay at http://pay.example.net/x" and
     .defects == [] and .messages[0].defects == []'
echo "1..$n"
