#!/usr/bin/env python3
# artifactx finds the same indicators wherever they sit in the text.
#
# The scanner reads the text 64 bytes at a time and lets most tokens go
# from the block's masks alone; tokens cut by a block's edge, multi-byte
# separators split across two blocks and hex runs that go on into the
# next block take other paths.  Each snippet here is put after every
# filler of 0 to 140 bytes (letters, spaces, hex digits, two- and
# three-byte UTF-8 separators) and must give what it gives alone, with
# each scan the processor runs: AVX-512 or AVX2 where there is one, and
# SSE2 (ARTIFACTX_SIMD=avx2, sse2); with the sanitizer build too, when
# there is one (make asan), which must stay silent.
import json
import os
import subprocess
import sys

AX = os.environ.get("ARTIFACTX", "bin/artifactx")
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if not os.access(AX.split()[0], os.X_OK):
    print("1..0 # SKIP bin/artifactx not built")
    sys.exit(0)

SNIPPETS = [
    "see hxxp://evil-login[.]example/x?a=1 now",
    "victim [at] example [.] com wrote",
    "font-size:12.0pt; 12:30:25 .btn end. (see www.example.org/a)",
    "fe80::1%eth0 and 2001:db8::1 and 1.2.3.4.",
    "hash d41d8cd98f00b204e9800998ecf8427e.",
    "\u2019http://a.example/p\u2019 \u00abhttps://b.example/\u00bb",
    "abcdefabcdefabcdefabcdefabcdefab",
    "http://example.com/" + "a" * 80 + " tail",
    "sha256 " + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "mail bob@mail.example.net and evil[.]net (dot) org",
    "Subject: x\nFrom: Alice <alice@example.org>\nTo: bob@example.com",
    "\u3000www.example.net\u3000[.]\u00a0",
    "\u2019bob@example.com\u2019 \u201calice@example.org\u201d \u00a0eve@example.net",
    "1  [.] net and 1921bob [.] cc and x1 [at] example [.] org",
]

# What ends the filler: a space, or a multi-byte separator (whose last
# bytes are no lead byte: a marker's look back must still stop there).
JOINTS = [" ", "\u201d", "\u00ab", "\u200b"]

FILLERS = {
    "letters": lambda k: "q" * k,
    "spaces": lambda k: " " * k,
    "hex": lambda k: "7" * k,
    "nbsp": lambda k: "\u00a0" * (k // 2) + "q" * (k % 2),
    "quote3": lambda k: "\u2019" * (k // 3) + "q" * (k % 3),
}


ASAN = "build/asan/bin/artifactx"


def run(records, env, ax=AX):
    lines = "".join(json.dumps({"v": 1, "kind": "message", "id": str(i),
                                "text": t}) + "\n"
                    for i, t in enumerate(records))
    res = subprocess.run([ax], input=lines.encode(), capture_output=True,
                         env=env, check=False)
    if res.returncode != 0 or res.stderr:
        print(f"# {ax}: exit {res.returncode}: {res.stderr.decode()[:300]}")
        return None
    out = res.stdout.decode()
    return [sorted((a["type"], a["value"], a.get("defanged", False))
                   for a in json.loads(line).get("artifacts", []))
            for line in out.splitlines()]


def main():
    cases, texts = [], []
    for si, snip in enumerate(SNIPPETS):
        texts.append(snip)
        cases.append((si, None, 0))
        for name, fill in FILLERS.items():
            for k in range(0, 141):
                # A separator ends the filler, so it makes no token with
                # the snippet; what follows is filler too.
                joint = JOINTS[k % len(JOINTS)]
                texts.append(fill(k) + joint + snip + " " + fill(70))
                cases.append((si, name, k))
    filler_alone = [fill(k) + " " + " " + fill(70)
                    for name, fill in FILLERS.items() for k in (0, 70, 140)]
    n = 0
    runs = [(simd, AX) for simd in ("default", "avx2", "sse2")]
    if os.access(ASAN, os.X_OK):
        runs += [(simd + " (sanitizers)", ASAN)
                 for simd in ("default", "avx2", "sse2")]
    for simd, ax in runs:
        env = dict(os.environ)
        if not simd.startswith("default"):
            env["ARTIFACTX_SIMD"] = simd.split()[0]
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
        got = run(texts, env, ax) or []
        alone = {}
        bad = []
        for (si, name, k), arts in zip(cases, got):
            if name is None:
                alone[si] = arts
            elif arts != alone[si]:
                bad.append((si, name, k, arts, alone[si]))
        n += 1
        found = all(alone[si] for si in alone)
        print(("ok" if found else "not ok") +
              f" {n} - {simd}: every snippet alone gives indicators")
        n += 1
        print(("ok" if not bad and len(got) == len(texts) else "not ok") +
              f" {n} - {simd}: {len(texts) - len(SNIPPETS)} placements"
              " give what the snippet gives alone")
        for si, name, k, arts, want in bad[:5]:
            print(f"# snippet {si} after {k} bytes of {name}: got {arts},"
                  f" want {want}")
        n += 1
        empty = run(filler_alone, env, ax)
        print(("ok" if empty is not None and all(a == [] for a in empty)
               else "not ok") +
              f" {n} - {simd}: the fillers alone give nothing")
    if len(alone) != len(SNIPPETS):
        print("# not every snippet was read back")
    print(f"1..{n}")


main()
