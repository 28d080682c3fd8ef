#!/usr/bin/env python3
"""oauth2-server.py ADDR PORT STATEFILE - a test OAuth2 authorization server.

One HTTP/1.1 server on ADDR:PORT (loopback only) that is both
  POST /token       the token endpoint, refresh_token grant only (RFC 6749 6),
  POST /introspect  token introspection (RFC 7662) for Dovecot's oauth2 passdb,
plus a few endpoints for the tests themselves:
  GET  /stats       the "counts" object below, as JSON
  POST /revoke      revoke every issued access token (form field token=T:
                    only that one; user=U: only that user's); answers
                    {"revoked": N}
  POST /config      change "expires_in", "rotate_refresh" or "fail_next"
                    (form fields, same names and meanings as in STATEFILE)
With PORT 0 the kernel picks a free port; the port is printed on stdout,
which is then flushed (start it with stdout to a file, not a pipe).
Every request is logged on stderr.  Python 3 standard library only.

STATEFILE is one JSON object.  The server reads it on every request and
writes it back (to a temporary file, then rename) when a request changes it,
so a test may also edit it (jq ... > tmp && mv tmp STATEFILE) or read the
counts from it.  mailtest-up writes the first version; every key but
"clients" and "refresh_tokens" is optional:

  {
    "clients":        {"mailcase-test": "s3cret"},      client_id: secret
    "refresh_tokens": {"rt-alice": "alice", "rt-bob": "bob"},  token: user
    "expires_in":     3600,      lifetime in seconds of access tokens issued
                                 from now on
    "rotate_refresh": false,     true: each grant also returns a new
                                 "refresh_token" and the old one stops working
    "fail_next":      0,         the next N /token requests answer 503
                                 {"error": "temporarily_unavailable"}
    "access_tokens":  {"at-...": {"user": "alice", "client": "mailcase-test",
                       "issued": 1700000000.1, "expires": 1700003600.1,
                       "revoked": false}},
    "counts":         {"token": 0, "token_issued": 0, "token_refused": 0,
                       "introspect": 0, "introspect_active": 0,
                       "introspect_inactive": 0, "revoke": 0}
  }
"token" counts every POST /token, "token_issued" those answered 200 (the
refreshes a client made), "token_refused" the rest (503s included);
"introspect_active"/"_inactive" count Dovecot's checks, one per XOAUTH2 or
OAUTHBEARER login (Dovecot caches nothing here).  Counts only grow: a test
compares them before and after.

/token takes the client's credentials as HTTP Basic (client_secret_basic)
or as client_id/client_secret form fields (client_secret_post) and answers
  200 {"access_token", "token_type": "Bearer", "expires_in"[, "refresh_token"]}
  400 {"error": "unsupported_grant_type"} grant_type is not refresh_token
  400 {"error": "invalid_request"}        no refresh_token
  401 {"error": "invalid_client"}         unknown client_id or wrong secret
  400 {"error": "invalid_grant"}          unknown (or rotated-away) refresh token
/introspect (form field token=, as Dovecot's introspection_mode = post sends
it) answers {"active": true, "username": USER, "exp": ..., ...} for an
issued, unexpired, unrevoked access token and {"active": false} otherwise.
"""
import base64
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = ("token", "token_issued", "token_refused", "introspect",
          "introspect_active", "introspect_inactive", "revoke")
lock = threading.Lock()


def log(fmt, *args):
    sys.stderr.write("%.3f %s\n" % (time.time(), fmt % args))
    sys.stderr.flush()


def load(path):
    with open(path) as f:
        st = json.load(f)
    st.setdefault("clients", {})
    st.setdefault("refresh_tokens", {})
    st.setdefault("expires_in", 3600)
    st.setdefault("rotate_refresh", False)
    st.setdefault("fail_next", 0)
    st.setdefault("access_tokens", {})
    counts = st.setdefault("counts", {})
    for k in COUNTS:
        counts.setdefault(k, 0)
    return st


def save(path, st):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1, sort_keys=True)
        f.write("\n")
    os.rename(tmp, path)


def token_active(st, tok):
    at = st["access_tokens"].get(tok)
    if at is None or at.get("revoked") or at.get("expires", 0) <= time.time():
        return None
    return at


def as_bool(s):
    return s.lower() in ("1", "true", "yes", "on")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mailtest-oauth2/1"

    def reply(self, status, doc, extra=()):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        log("%s %s -> %d %s", self.command, self.path, status, body.decode())

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        q = urllib.parse.urlparse(self.path).query
        f = {}
        for src in (q, raw):
            for k, v in urllib.parse.parse_qsl(src, keep_blank_values=True):
                f.setdefault(k, v)
        return f

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/stats":
            with lock:
                st = load(self.server.statefile)
            self.reply(200, st["counts"])
        elif path == "/introspect":
            self.introspect(self.form())
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        path = urllib.parse.urlparse(self.path).path
        f = self.form()
        if path == "/token":
            self.token(f)
        elif path == "/introspect":
            self.introspect(f)
        elif path == "/revoke":
            self.revoke(f)
        elif path == "/config":
            self.config(f)
        else:
            self.reply(404, {"error": "not_found"})

    def client_credentials(self, f):
        auth = self.headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                cid, _, sec = base64.b64decode(auth[6:].strip()).decode().partition(":")
                return (urllib.parse.unquote_plus(cid),
                        urllib.parse.unquote_plus(sec), True)
            except ValueError:
                return None, None, True
        return f.get("client_id"), f.get("client_secret"), False

    def token(self, f):
        with lock:
            st = load(self.server.statefile)
            st["counts"]["token"] += 1
            status, doc, extra = self.grant(st, f)
            if status == 200:
                st["counts"]["token_issued"] += 1
            else:
                st["counts"]["token_refused"] += 1
            save(self.server.statefile, st)
        self.reply(status, doc, extra)

    def grant(self, st, f):
        if st["fail_next"] > 0:
            st["fail_next"] -= 1
            return 503, {"error": "temporarily_unavailable"}, ()
        cid, sec, basic = self.client_credentials(f)
        if cid is None or st["clients"].get(cid) != sec:
            extra = (("WWW-Authenticate", 'Basic realm="mailtest"'),)
            return 401, {"error": "invalid_client"}, extra
        if f.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}, ()
        rt = f.get("refresh_token")
        if not rt:
            return 400, {"error": "invalid_request",
                         "error_description": "no refresh_token"}, ()
        user = st["refresh_tokens"].get(rt)
        if user is None:
            return 400, {"error": "invalid_grant"}, ()
        now = time.time()
        life = int(st["expires_in"])
        tok = "at-" + secrets.token_urlsafe(24)
        st["access_tokens"][tok] = {"user": user, "client": cid,
                                    "issued": now, "expires": now + life,
                                    "revoked": False}
        doc = {"access_token": tok, "token_type": "Bearer",
               "expires_in": life, "scope": "mail"}
        if st["rotate_refresh"]:
            new = "rt-" + secrets.token_urlsafe(16)
            del st["refresh_tokens"][rt]
            st["refresh_tokens"][new] = user
            doc["refresh_token"] = new
        return 200, doc, ()

    def introspect(self, f):
        tok = f.get("token")
        if not tok:
            auth = self.headers.get("Authorization", "")
            if auth[:7].lower() == "bearer ":
                tok = auth[7:].strip()
        with lock:
            st = load(self.server.statefile)
            st["counts"]["introspect"] += 1
            at = token_active(st, tok) if tok else None
            st["counts"]["introspect_active" if at else "introspect_inactive"] += 1
            save(self.server.statefile, st)
        if at:
            self.reply(200, {"active": True, "username": at["user"],
                             "client_id": at["client"], "scope": "mail",
                             "token_type": "Bearer", "exp": int(at["expires"]),
                             "iat": int(at["issued"])})
        else:
            self.reply(200, {"active": False})

    def revoke(self, f):
        n = 0
        with lock:
            st = load(self.server.statefile)
            st["counts"]["revoke"] += 1
            for tok, at in st["access_tokens"].items():
                if at.get("revoked"):
                    continue
                if "token" in f and tok != f["token"]:
                    continue
                if "user" in f and at.get("user") != f["user"]:
                    continue
                at["revoked"] = True
                n += 1
            save(self.server.statefile, st)
        self.reply(200, {"revoked": n})

    def config(self, f):
        with lock:
            st = load(self.server.statefile)
            try:
                if "expires_in" in f:
                    st["expires_in"] = int(f["expires_in"])
                if "fail_next" in f:
                    st["fail_next"] = int(f["fail_next"])
            except ValueError:
                self.reply(400, {"error": "invalid_request"})
                return
            if "rotate_refresh" in f:
                st["rotate_refresh"] = as_bool(f["rotate_refresh"])
            save(self.server.statefile, st)
            doc = {k: st[k] for k in ("expires_in", "rotate_refresh", "fail_next")}
        self.reply(200, doc)

    def log_message(self, *a):
        pass


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: oauth2-server.py ADDR PORT STATEFILE\n")
        sys.exit(64)
    addr, port, statefile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    load(statefile)		# refuse to start on a missing or broken file
    srv = ThreadingHTTPServer((addr, port), Handler)
    srv.daemon_threads = True
    srv.statefile = statefile
    if port == 0:
        print(srv.server_address[1], flush=True)
    log("listening on %s:%d, state %s", addr, srv.server_address[1], statefile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
