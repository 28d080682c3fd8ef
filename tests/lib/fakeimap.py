#!/usr/bin/env python3
"""fakeimap.py ADDR PORT MODE - a scripted IMAP4rev1 server that misbehaves
on cue, for the failures a real server will not produce.
fakeimap.py --dump DIR - write the messages it serves to DIR/1.eml..5.eml.

Plain TCP, no TLS (configure the client with TLS off).  One connection at
a time, one after the other, until killed.  With PORT 0 the kernel picks a
free port; the port is printed on stdout, which is then flushed (start it
with stdout to a file, not a pipe: see tests/lib/fakeimap-start).  Every
line received is logged on stderr ("C: ..."), and what was done on cue.

Any user name and password are accepted, by LOGIN or AUTHENTICATE PLAIN
(initial response or continuation).  There is one mailbox, INBOX
(UIDVALIDITY 1234, UIDNEXT 6), with five small messages, UIDs 1..5 at
sequence numbers 1..5, CRLF line ends; message 4 has 8-bit (Latin-1)
bytes in its body.  Commands: CAPABILITY NOOP LOGOUT LOGIN AUTHENTICATE
SELECT EXAMINE STATUS LIST LSUB CLOSE UNSELECT CHECK ID ENABLE, [UID]
SEARCH (ALL, UID set, set), [UID] FETCH of UID FLAGS RFC822.SIZE
INTERNALDATE RFC822 BODY[] BODY[HEADER] BODY[TEXT] (and the BODY.PEEK
forms; a FETCH answer always says BODY[...], as real servers do).  "*" in a set is the highest UID (or
sequence number), so "UID SEARCH UID 6:*" answers 5, as real servers do.

MODE says what happens when message 3 is due in a FETCH answer:
  normal             nothing special
  drop-mid-literal   send "* 3 FETCH (UID 3 BODY[] {n}" and half of the
                     literal, then close the connection
  oversized-literal  announce {n} but send n+20 bytes before the ")"
  unknown-response   send "* GARBAGE !!!" instead of message 3's FETCH line,
                     then go on (the FETCH still ends in a tagged OK)
  bad-response       answer the whole FETCH with "TAG BAD" (nothing untagged)
  no-folder          SELECT/EXAMINE/STATUS of any mailbox answers
                     "TAG NO [NONEXISTENT] Mailbox doesn't exist: NAME"
  huge-literal       announce "* 3 FETCH (UID 3 BODY[] {5000000000}", send
                     64 MiB of it, then close the connection
and, not about message 3:
  refuse-login       LOGIN and AUTHENTICATE answer "TAG NO
                     [AUTHENTICATIONFAILED] Authentication failed." (a
                     wrong password), whatever the user and password
"""
import base64
import os
import re
import socket
import sys

MODES = ("normal", "drop-mid-literal", "oversized-literal",
         "unknown-response", "bad-response", "no-folder", "huge-literal",
         "refuse-login")
UIDVALIDITY = 1234
CUE_UID = 3
IDLE_SECONDS = 60	# a stuck client must not block the next connection forever
MAX_LITERAL = 1 << 20	# what a LOGIN literal may be
HUGE = 5000000000	# huge-literal: announced, never sent
HUGE_SENT = 64 << 20	# what is sent of it before the connection closes

CAPS = "IMAP4rev1 AUTH=PLAIN"


def message(i, subject, body):
    return ("From: Fake Sender <sender@example.test>\r\n"
            "To: alice@example.test\r\n"
            "Subject: %s\r\n"
            "Date: Mon, 1 Jan 2024 10:0%d:00 +0000\r\n"
            "Message-ID: <fake-%d@example.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=%s\r\n"
            "\r\n" % (subject, i, i, "iso-8859-1" if i == 4 else "us-ascii")
            ).encode() + body


MESSAGES = [
    message(1, "fake one", b"First message.\r\n"),
    message(2, "fake two", b"Second message,\r\ntwo lines.\r\n"),
    message(3, "fake three", b"Third message: the one the modes break.\r\n"
            + b"".join(b"line %02d of message three\r\n" % n for n in range(20))),
    message(4, "fake four", b"Fourth message, 8-bit: caf\xe9 na\xefve \xa3 5\r\n"),
    message(5, "fake five", b"Fifth and last message.\r\n"),
]
UIDS = [1, 2, 3, 4, 5]
UIDNEXT = UIDS[-1] + 1


class Closed(Exception):
    pass


def log(fmt, *args):
    sys.stderr.write("fakeimap: " + (fmt % args) + "\n")
    sys.stderr.flush()


def parse_set(s, top):
    """An IMAP sequence set as a Python set of numbers; "*" is top."""
    out = set()
    for part in s.split(","):
        lo, _, hi = part.partition(":")
        def num(x):
            if x == "*":
                return top
            if not x.isdigit() or int(x) == 0:
                raise ValueError(part)
            return int(x)
        a = num(lo)
        b = num(hi) if hi else a
        if a > b:
            a, b = b, a
        out.update(range(a, b + 1))
    return out


def tokens(s):
    """Split an IMAP argument string: atoms, "quoted", (lists kept whole)."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == " ":
            i += 1
        elif c == '"':
            j, buf = i + 1, []
            while j < len(s) and s[j] != '"':
                if s[j] == "\\" and j + 1 < len(s):
                    j += 1
                buf.append(s[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
        elif c == "(" or c == "[":
            close = ")" if c == "(" else "]"
            depth, j = 0, i
            while j < len(s):
                if s[j] == c:
                    depth += 1
                elif s[j] == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out.append(s[i:j + 1])
            i = j + 1
        else:
            j, depth = i, 0
            while j < len(s) and (s[j] != " " or depth > 0):
                if s[j] == "[":		# BODY.PEEK[HEADER.FIELDS (A B)]
                    depth += 1
                elif s[j] == "]":
                    depth -= 1
                j += 1
            out.append(s[i:j])
            i = j
    return out


class Session:
    def __init__(self, conn, mode):
        self.conn = conn
        self.mode = mode
        self.buf = b""
        self.selected = None
        self.authed = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.conn.sendall(data)

    def line(self, s):
        self.send(s + "\r\n")

    def readline(self):
        while b"\r\n" not in self.buf and b"\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise Closed()
            self.buf += chunk
        n = self.buf.find(b"\n")
        ln, self.buf = self.buf[:n + 1], self.buf[n + 1:]
        return ln.rstrip(b"\r\n").decode("utf-8", "replace")

    def readbytes(self, n):
        while len(self.buf) < n:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise Closed()
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def command(self):
        """One command line, with any synchronizing literals inlined as
        quoted strings."""
        ln = self.readline()
        while True:
            m = re.search(r"\{(\d+)\}$", ln)
            if not m or int(m.group(1)) > MAX_LITERAL:
                break
            self.line("+ go ahead")
            data = self.readbytes(int(m.group(1))).decode("utf-8", "replace")
            quoted = '"' + data.replace("\\", "\\\\").replace('"', '\\"') + '"'
            ln = ln[:m.start()] + quoted + self.readline()
        return ln

    def run(self):
        self.line("* OK [CAPABILITY %s] fake" % CAPS)
        while True:
            ln = self.command()
            log("C: %s", ln)
            tag, _, rest = ln.partition(" ")
            if not tag or not rest:
                self.line("* BAD no command")
                continue
            cmd, _, args = rest.partition(" ")
            cmd = cmd.upper()
            uid = False
            if cmd == "UID":
                uid = True
                cmd, _, args = args.partition(" ")
                cmd = cmd.upper()
                if cmd not in ("FETCH", "SEARCH"):
                    self.line("%s BAD UID %s not supported" % (tag, cmd))
                    continue
            h = getattr(self, "c_" + cmd.lower(), None)
            if h is None:
                self.line("%s BAD unknown command" % tag)
                continue
            if uid:
                h(tag, args, uid)
            else:
                h(tag, args)
            if cmd == "LOGOUT":
                return

    def c_capability(self, tag, args):
        self.line("* CAPABILITY " + CAPS)
        self.line(tag + " OK CAPABILITY completed")

    def c_noop(self, tag, args):
        if self.selected:
            self.line("* %d EXISTS" % len(UIDS))
        self.line(tag + " OK NOOP completed")

    def c_check(self, tag, args):
        self.line(tag + " OK CHECK completed")

    def c_id(self, tag, args):
        self.line('* ID ("name" "fakeimap")')
        self.line(tag + " OK ID completed")

    def c_enable(self, tag, args):
        self.line("* ENABLED")
        self.line(tag + " OK ENABLE completed")

    def c_logout(self, tag, args):
        self.line("* BYE fake logging out")
        self.line(tag + " OK LOGOUT completed")

    def c_login(self, tag, args):
        t = tokens(args)
        if len(t) != 2:
            self.line(tag + " BAD LOGIN needs a user name and a password")
            return
        if self.refused(tag):
            return
        self.authed = True
        log("login as %r", t[0])
        self.line("%s OK [CAPABILITY %s] Logged in" % (tag, CAPS))

    def c_authenticate(self, tag, args):
        t = args.split()
        if not t or t[0].upper() != "PLAIN":
            self.line(tag + " NO [CANNOT] only PLAIN")
            return
        if len(t) > 1:
            resp = t[1]
        else:
            self.line("+ ")
            resp = self.readline()
            log("C: %s", resp)
        if resp == "*":
            self.line(tag + " BAD AUTHENTICATE cancelled")
            return
        try:
            parts = base64.b64decode(resp, validate=True).split(b"\0")
        except ValueError:
            parts = []
        if len(parts) != 3:
            self.line(tag + " BAD malformed PLAIN response")
            return
        if self.refused(tag):
            return
        self.authed = True
        log("authenticate as %r", parts[1].decode("utf-8", "replace"))
        self.line("%s OK [CAPABILITY %s] Logged in" % (tag, CAPS))

    def refused(self, tag):
        if self.mode != "refuse-login":
            return False
        log("cue: login refused")
        self.line(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.")
        return True

    def need_auth(self, tag):
        if not self.authed:
            self.line(tag + " BAD not logged in")
        return self.authed

    def need_selected(self, tag):
        if not self.need_auth(tag):
            return False
        if not self.selected:
            self.line(tag + " BAD no mailbox selected")
        return bool(self.selected)

    def mailbox_arg(self, tag, args):
        t = tokens(args)
        if not t:
            self.line(tag + " BAD mailbox name missing")
            return None
        name = t[0]
        if self.mode == "no-folder" or name.upper() != "INBOX":
            log("cue: no such mailbox %r", name)
            self.line("%s NO [NONEXISTENT] Mailbox doesn't exist: %s" % (tag, name))
            return None
        return name

    def select(self, tag, args, verb, rw):
        if not self.need_auth(tag):
            return
        self.selected = None
        if self.mailbox_arg(tag, args) is None:
            return
        self.line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self.line("* OK [PERMANENTFLAGS ()] Read-only mailbox.")
        self.line("* %d EXISTS" % len(UIDS))
        self.line("* 0 RECENT")
        self.line("* OK [UIDVALIDITY %d] UIDs valid" % UIDVALIDITY)
        self.line("* OK [UIDNEXT %d] Predicted next UID" % UIDNEXT)
        self.selected = "INBOX"
        self.line("%s OK [%s] %s completed" % (tag, rw, verb))

    def c_select(self, tag, args):
        self.select(tag, args, "SELECT", "READ-WRITE")

    def c_examine(self, tag, args):
        self.select(tag, args, "EXAMINE", "READ-ONLY")

    def c_status(self, tag, args):
        if not self.need_auth(tag) or self.mailbox_arg(tag, args) is None:
            return
        self.line("* STATUS INBOX (MESSAGES %d RECENT 0 UIDNEXT %d UIDVALIDITY %d UNSEEN %d)"
                  % (len(UIDS), UIDNEXT, UIDVALIDITY, len(UIDS)))
        self.line(tag + " OK STATUS completed")

    def c_list(self, tag, args):
        if not self.need_auth(tag):
            return
        self.line('* LIST (\\HasNoChildren) "/" INBOX')
        self.line(tag + " OK LIST completed")

    def c_lsub(self, tag, args):
        if not self.need_auth(tag):
            return
        self.line('* LSUB () "/" INBOX')
        self.line(tag + " OK LSUB completed")

    def c_close(self, tag, args):
        self.selected = None
        self.line(tag + " OK CLOSE completed")

    c_unselect = c_close

    def c_search(self, tag, args, uid=False):
        if not self.need_selected(tag):
            return
        t = tokens(args)
        if t and t[0].upper() == "CHARSET":
            t = t[2:]
        hits = set(range(1, len(UIDS) + 1))	# sequence numbers
        try:
            i = 0
            while i < len(t):
                k = t[i].upper()
                if k == "ALL":
                    pass
                elif k == "UID" and i + 1 < len(t):
                    want = parse_set(t[i + 1], UIDS[-1])
                    hits &= {n for n in hits if UIDS[n - 1] in want}
                    i += 1
                elif re.fullmatch(r"[0-9:*,]+", k):
                    hits &= parse_set(k, len(UIDS))
                else:
                    raise ValueError(k)
                i += 1
        except ValueError as e:
            self.line("%s BAD SEARCH key not supported: %s" % (tag, e))
            return
        out = sorted(UIDS[n - 1] if uid else n for n in hits)
        self.line("* SEARCH" + "".join(" %d" % n for n in out))
        self.line(tag + " OK SEARCH completed")

    def c_fetch(self, tag, args, uid=False):
        if not self.need_selected(tag):
            return
        setstr, _, items = args.partition(" ")
        items = items.strip()
        if items.startswith("(") and items.endswith(")"):
            items = items[1:-1]
        want = [x.upper() for x in tokens(items)]
        if items.upper() in ("ALL", "FAST", "FULL"):
            want = ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
        try:
            if uid:
                s = parse_set(setstr, UIDS[-1])
                seqs = [n for n in range(1, len(UIDS) + 1) if UIDS[n - 1] in s]
            else:
                s = parse_set(setstr, len(UIDS))
                if max(s) > len(UIDS):
                    self.line(tag + " BAD Error in IMAP command FETCH: Invalid messageset")
                    return
                seqs = sorted(s)
        except ValueError:
            self.line(tag + " BAD Error in IMAP command FETCH: Invalid messageset")
            return
        for w in want:
            if not re.fullmatch(r"UID|FLAGS|RFC822\.SIZE|INTERNALDATE|RFC822|"
                                r"BODY(\.PEEK)?\[(HEADER|TEXT)?\]", w):
                self.line("%s BAD FETCH item not supported: %s" % (tag, w))
                return
        if self.mode == "bad-response" and CUE_UID in [UIDS[n - 1] for n in seqs]:
            log("cue: tagged BAD for the FETCH of UID %d", CUE_UID)
            self.line(tag + " BAD Internal error occurred (fake)")
            return
        for n in seqs:
            if not self.fetch_one(n, uid, want):
                raise Closed()
        self.line(tag + " OK FETCH completed")

    def fetch_one(self, n, uid, want):
        u = UIDS[n - 1]
        msg = MESSAGES[n - 1]
        cue = u == CUE_UID
        if cue and self.mode == "unknown-response":
            log("cue: garbage instead of the FETCH of UID %d", u)
            self.line("* GARBAGE !!!")
            return True
        parts = []
        lits = []	# (prefix text, literal bytes)
        if uid and "UID" not in want:
            parts.append("UID %d" % u)
        for w in want:
            if w == "UID":
                parts.append("UID %d" % u)
            elif w == "FLAGS":
                parts.append("FLAGS ()")
            elif w == "RFC822.SIZE":
                parts.append("RFC822.SIZE %d" % len(msg))
            elif w == "INTERNALDATE":
                parts.append('INTERNALDATE "01-Jan-2024 10:0%d:00 +0000"' % n)
            else:
                head, _, text = msg.partition(b"\r\n\r\n")
                if w == "RFC822":
                    name, data = "RFC822", msg
                elif w.endswith("[HEADER]"):
                    name, data = "BODY[HEADER]", head + b"\r\n\r\n"
                elif w.endswith("[TEXT]"):
                    name, data = "BODY[TEXT]", text
                else:
                    name, data = "BODY[]", msg
                lits.append((name, data))
        out = ("* %d FETCH (" % n + " ".join(parts)).encode()
        sep = b" " if parts else b""
        for name, data in lits:
            if cue and self.mode == "huge-literal":
                out += sep + ("%s {%d}\r\n" % (name, HUGE)).encode()
                self.send(out)
                chunk = b"x" * 65535 + b"\n"
                for _ in range(HUGE_SENT // len(chunk)):
                    self.send(chunk)
                log("cue: announced {%d} for UID %d, sent %d bytes of it, closing",
                    HUGE, u, HUGE_SENT)
                return False
            out += sep + ("%s {%d}\r\n" % (name, len(data))).encode()
            sep = b" "
            if cue and self.mode == "drop-mid-literal":
                self.send(out + data[:len(data) // 2])
                log("cue: dropped the connection after %d of %d literal bytes of UID %d",
                    len(data) // 2, len(data), u)
                return False
            if cue and self.mode == "oversized-literal":
                extra = b"20 BYTES TOO MANY!\r\n"
                log("cue: %d bytes more than the {%d} announced for UID %d",
                    len(extra), len(data), u)
                data += extra
            out += data
        self.send(out + b")\r\n")
        return True


def serve(addr, port, mode):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(8)
    if port == 0:
        print(srv.getsockname()[1], flush=True)
    log("listening on %s:%d, mode %s", addr, srv.getsockname()[1], mode)
    while True:
        conn, peer = srv.accept()
        conn.settimeout(IDLE_SECONDS)
        log("connection from %s:%d", *peer)
        try:
            Session(conn, mode).run()
        except Closed:
            pass
        except (OSError, socket.timeout) as e:
            log("connection error: %s", e)
        finally:
            conn.close()
            log("connection closed")


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "--dump":
        os.makedirs(a[1], exist_ok=True)
        for u, m in zip(UIDS, MESSAGES):
            with open(os.path.join(a[1], "%d.eml" % u), "wb") as f:
                f.write(m)
        return
    if len(a) != 3 or a[2] not in MODES or not a[1].isdigit():
        sys.stderr.write("usage: fakeimap.py ADDR PORT MODE\n"
                         "       fakeimap.py --dump DIR\n"
                         "MODE: %s\n" % " ".join(MODES))
        sys.exit(64)
    serve(a[0], int(a[1]), a[2])


if __name__ == "__main__":
    main()
