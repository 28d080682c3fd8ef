#!/bin/bash
# codematch --thread --html in a real browser: hostile mail is rendered by
# headless Chromium with the network off (a namespace holding only
# loopback, where a listener counts every request the page makes).  From
# the DOM Chromium dumps: no script ran, no handler, nothing remote; from
# the listener: no request left the page.  The same hostile HTML opened
# raw is the control: there the script runs and requests arrive, so the
# test can see what it claims to see.  The screenshot is kept in
# tests/out/320-codematch-html/.
cd "$(dirname "$0")/.." || exit 1
CM=${CODEMATCH:-bin/codematch}
MP=${MAILPARSE:-bin/mailparse}
[ -x "$CM" ] && [ -x "$MP" ] || { echo "1..0 # SKIP tools not built"; exit 0; }
CHROME=$(command -v chromium || command -v chromium-browser)
[ -n "$CHROME" ] || { echo "1..0 # SKIP chromium not installed (scripts/deps installs it)"; exit 0; }
unshare -n true 2>/dev/null || { echo "1..0 # SKIP cannot make a network namespace (needs root)"; exit 0; }
OUT=tests/out/320-codematch-html
rm -rf "$OUT"; mkdir -p "$OUT"
# shellcheck source=tests/lib/codematch-env.sh
. tests/lib/codematch-env.sh
S=$T/spool
PORT=8765

# A report whose HTML tries every way to run code or call home, with an
# inline image by content id, and a reply.
python3 - "$T" $PORT <<'PY'
import base64, sys, struct, zlib
t, port = sys.argv[1], sys.argv[2]
def png():
    raw = b"\x00\xff\x00\x00" * 1
    def chunk(k, d):
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
u = "http://127.0.0.1:%s" % port
hostile = f"""<html><head><base href="{u}/base/">
<meta http-equiv="refresh" content="0;url={u}/refresh">
<link rel="stylesheet" href="{u}/link.css">
<style>body {{ background: url({u}/style-bg) }}</style>
<script>document.documentElement.setAttribute('data-pwned','script'); fetch('{u}/fetch');</script>
</head><body onload="document.documentElement.setAttribute('data-pwned','onload')">
<p>Please look at this <b>phish</b>.</p>
<img src="{u}/beacon.png" width="1" height="1">
<img src="x" onerror="document.documentElement.setAttribute('data-pwned','onerror')">
<div style="background-image: url({u}/inline-style)">styled</div>
<iframe src="{u}/frame"></iframe>
<object data="{u}/object"></object>
<svg><image href="{u}/svg"/><script>document.documentElement.setAttribute('data-pwned','svg')</script></svg>
<a href="javascript:document.documentElement.setAttribute('data-pwned','js')">click</a>
<a href="https://phish.example/login">the link</a>
<form action="{u}/form"><input name="q" value="x"></form>
<p>The logo: <img src="cid:logo@corp.example" alt="logo"></p>
</body></html>"""
# The control page leaves out the refresh, which would navigate away.
open(t + "/hostile.html", "w").write(hostile.replace(
    '<meta http-equiv="refresh" content="0;url=%s/refresh">' % u, ''))
b64 = base64.encodebytes(png()).decode()
open(t + "/report.eml", "w").write(f"""From: Tom & Jerry <tom@corp.example>
To: soc@corp.example
Subject: <b>Tom & Jerry</b> report
Message-ID: <report@corp.example>
Date: Mon, 23 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/related; boundary="b"

--b
Content-Type: text/html; charset=utf-8

{hostile}
--b
Content-Type: image/png
Content-ID: <logo@corp.example>
Content-Transfer-Encoding: base64

{b64}--b--
""")
PY
$MP -d "$S" "$T/report.eml" | $CM -d "$S" > "$T/rec"
code=$(jq -r .case.code "$T/rec")
$CM -d "$S" --thread "$code" --html > "$T/thread.html"
ok "--html writes a page" '[ -s "$T/thread.html" ] && grep -q "Content-Security-Policy" "$T/thread.html"'
ok "headers are escaped in the page" 'grep -q "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; report" "$T/thread.html"'
ok "the cid: image is inlined as data:" 'grep -q "src=\"data:image/png;base64," "$T/thread.html"'

# render FILE NAME: Chromium in a namespace with only loopback, a listener
# on it logging every request into NAME.log, the DOM into NAME.dom.
render() {
	unshare -n bash -c '
		ip link set lo up 2>/dev/null || ifconfig lo up
		python3 -c "
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        open(sys.argv[2], \"a\").write(self.path + \"\\n\")
        self.send_response(200); self.send_header(\"Content-Length\", \"0\"); self.end_headers()
    do_POST = do_GET
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((\"127.0.0.1\", int(sys.argv[1])), H).serve_forever()
" '"$PORT"' "$3" &
		srv=$!
		for i in $(seq 50); do python3 -c "import socket; socket.create_connection((\"127.0.0.1\", '"$PORT"'))" 2>/dev/null && break; sleep 0.1; done
		timeout 120 '"$CHROME"' --headless --no-sandbox --disable-gpu --no-first-run \
		    --user-data-dir="'"$T"'/profile.$$" \
		    --dump-dom "file://$1" > "$2" 2>/dev/null
		timeout 120 '"$CHROME"' --headless --no-sandbox --disable-gpu --no-first-run \
		    --user-data-dir="'"$T"'/profile.$$" \
		    --window-size=1000,1400 --screenshot="$4" "file://$1" >/dev/null 2>&1
		kill $srv
	' render "$1" "$2" "$3" "$4"
}
: > "$T/raw.log"; : > "$T/page.log"
render "$T/hostile.html" "$T/raw.dom" "$T/raw.log" "$T/raw.png"
render "$T/thread.html" "$T/page.dom" "$T/page.log" "$OUT/thread.png"

ok "control: opened raw, the hostile HTML runs its script" 'grep -q "data-pwned" "$T/raw.dom"'
ok "control: and requests reach the listener" '[ -s "$T/raw.log" ]'
ok "the thread page: Chromium rendered it" 'grep -q "Please look at this" "$T/page.dom"'
ok "no script ran (no mark on the DOM)" '! grep -q "data-pwned" "$T/page.dom"'
ok "no script element, no event handler in the DOM" \
    '! grep -Eqi "<script|<iframe|<object|<embed|<form|<base|<link|http-equiv=\"refresh| on[a-z]+=" "$T/page.dom"'
ok "no javascript: link, the https link kept" \
    '! grep -qi "javascript:" "$T/page.dom" && grep -q "href=\"https://phish.example/login\"" "$T/page.dom"'
ok "no request left the page" '[ ! -s "$T/page.log" ]'
ok "nothing in the DOM points at the listener" '! grep -q "127.0.0.1:$PORT" "$T/page.dom"'
ok "the inlined image survives in the DOM" 'grep -q "src=\"data:image/png;base64," "$T/page.dom"'
ok "a screenshot is in $OUT" '[ "$(head -c 4 "$OUT/thread.png" | od -An -c | tr -d " ")" = "211PNG" ]'
cp "$T/thread.html" "$OUT/"
echo "1..$n"
