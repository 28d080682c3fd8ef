#!/usr/bin/env python3
"""peer-email.py - the Python stdlib peer for bench/run.

usage: peer-email.py MBOX

Splits MBOX the way bench/gmimewalk does (a record runs from a line
beginning "From " up to the next; the From_ line is dropped; no mboxrd
unescaping; bytes before the first From_ line are a record too), parses
each message with email.parser.BytesParser(policy=policy.default), walks
it (nested message/rfc822 included) and calls get_content() on every
leaf, throwing the result away.  The file is read in 8 MiB chunks so the
process holds one message at a time, as the C tools do.

Prints one line: "N messages B bytes P parts E errors F failed": errors
counts leaves whose get_content() raised, failed messages whose parse or
walk raised (both are counted and skipped, never fatal).
"""
import sys
from email import policy
from email.parser import BytesParser

CHUNK = 8 * 1024 * 1024
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


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: peer-email.py MBOX\n")
        return 64
    parser = BytesParser(policy=policy.default)
    messages = parts = errors = failed = total = 0
    with open(argv[1], "rb") as f:
        for rec in records(f):
            total += len(rec)
            if rec.startswith(b"From "):
                nl = rec.find(b"\n")
                rec = b"" if nl < 0 else rec[nl + 1:]
            messages += 1
            try:
                msg = parser.parsebytes(rec)
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
    print("%d messages %d bytes %d parts %d errors %d failed"
          % (messages, total, parts, errors, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
