#!/usr/bin/env python3
"""peer-email.py - the Python stdlib peer for bench/run.

usage: peer-email.py [--record] MBOX

Splits MBOX the way bench/gmimewalk does (a record runs from a line
beginning "From " up to the next; the From_ line is dropped; no mboxrd
unescaping; bytes before the first From_ line are a record too), parses
each message with email.parser.BytesParser(policy=policy.default), walks
it (nested message/rfc822 included) and calls get_content() on every
leaf, throwing the result away.  The file is read in 8 MiB chunks so the
process holds one message at a time, as the C tools do.

With --record it does the job mailparse does, so that the two can be
compared as tools rather than as parsers: every header read through the
policy (decoded and parsed: policy.default parses a header only when it
is read), the address headers as name/address pairs, the date in UTC,
Message-ID, In-Reply-To and References; every leaf decoded, the first
text/plain and text/html leaf kept as the bodies, each attachment with
its name, type, content id, size and MD5, SHA-1 and SHA-256 digests; the
SHA-256 of the message's bytes; the whole written as one JSON line to
/dev/null.  Without it: parse and get_content() only, which is the
parser's floor (headers are never parsed).

Prints one line: "N messages B bytes P parts E errors F failed": errors
counts leaves whose get_content() raised, failed messages whose parse or
walk raised (both are counted and skipped, never fatal).
"""
import hashlib
import json
import sys
from email import policy
from email.parser import BytesParser

CHUNK = 8 * 1024 * 1024
bad_headers = 0
SEP = b"\nFrom "


def records(f):
    """Yield each record (bytes), From_ line still on."""
    buf = b""
    scan = 0
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            break
        buf += chunk
        pos = 0
        while True:
            i = buf.find(SEP, scan)
            if i < 0:
                break
            yield buf[pos:i + 1]
            pos = scan = i + 1
        buf = buf[pos:]
        scan = max(0, len(buf) - 5)
    if buf:
        yield buf


ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc",
                  "delivered-to")


def header(fn, default=None):
    """fn(), or default when the header does not parse (it is counted)."""
    global bad_headers
    try:
        return fn()
    except Exception:
        bad_headers += 1
        return default


def addresses(msg, field):
    out = []
    for value in header(lambda: msg.get_all(field, []), []):
        for a in header(lambda: value.addresses, ()):
            out.append({"name": a.display_name, "addr": a.addr_spec})
    return out


def record(msg, raw):
    """The fields of a mailparse message record, as Python finds them."""
    rec = {"v": 1, "kind": "message", "id": hashlib.sha256(raw).hexdigest()}
    # What msg.items() does, a header at a time so that one bad header
    # does not hide the others.
    rec["headers"] = [{"name": k, "value": header(lambda: str(
        msg.policy.header_fetch_parse(k, v)))} for k, v in msg.raw_items()]
    rec["subject"] = header(lambda: msg.get("subject"))
    rec["message_id"] = header(lambda: msg.get("message-id"))
    rec["in_reply_to"] = header(lambda: msg.get("in-reply-to"))
    rec["references"] = header(lambda: str(msg.get("references", "")).split(), [])
    dt = header(lambda: msg.get("date").datetime)
    rec["date"] = dt.isoformat() if dt is not None else None
    for field in ADDRESS_FIELDS:
        rec[field] = addresses(msg, field)
    rec["text"] = rec["html"] = None
    atts = []
    parts = errors = 0
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts += 1
        try:
            content = part.get_content()
        except Exception:
            errors += 1
            continue
        ctype = part.get_content_type()
        if (part.get_content_disposition() != "attachment" and
                isinstance(content, str) and ctype in ("text/plain", "text/html")):
            key = "text" if ctype == "text/plain" else "html"
            if rec[key] is None:
                rec[key] = content
                continue
        if isinstance(content, str):
            data = content.encode("utf-8", "surrogateescape")
        elif isinstance(content, bytes):
            data = content
        else:
            data = part.get_payload(decode=True) or b""
        atts.append({"name": part.get_filename(), "type": ctype,
                     "content_id": part.get("content-id"),
                     "disposition": part.get_content_disposition(),
                     "size": len(data),
                     "md5": hashlib.md5(data).hexdigest(),
                     "sha1": hashlib.sha1(data).hexdigest(),
                     "sha256": hashlib.sha256(data).hexdigest()})
    rec["attachments"] = atts
    return rec, parts, errors


def main(argv):
    full = len(argv) == 3 and argv[1] == "--record"
    if full:
        argv = argv[:1] + argv[2:]
    if len(argv) != 2:
        sys.stderr.write("usage: peer-email.py [--record] MBOX\n")
        return 64
    parser = BytesParser(policy=policy.default)
    messages = parts = errors = failed = total = 0
    sink = open("/dev/null", "w") if full else None
    with open(argv[1], "rb") as f:
        for rec in records(f):
            total += len(rec)
            if rec.startswith(b"From "):
                nl = rec.find(b"\n")
                rec = b"" if nl < 0 else rec[nl + 1:]
            messages += 1
            try:
                msg = parser.parsebytes(rec)
                if full:
                    out, p, e = record(msg, rec)
                    sink.write(json.dumps(out, default=str) + "\n")
                    parts += p
                    errors += e
                    continue
                for part in msg.walk():
                    if part.is_multipart():
                        continue
                    parts += 1
                    try:
                        part.get_content()
                    except Exception:
                        errors += 1
            except Exception:
                failed += 1
    print("%d messages %d bytes %d parts %d errors %d failed%s"
          % (messages, total, parts, errors, failed,
             " %d bad headers" % bad_headers if full else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
