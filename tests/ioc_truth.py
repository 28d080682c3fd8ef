#!/usr/bin/env python3
"""Score bin/artifactx against the indicator truth set tests/ioc-truth.jsonl.

Every line of the truth set is one case:
  {"id", "subject"?, "text"?, "html"?, "from"?, "to"?, "expect": [[type, value], ...], "note"}
"expect" is the complete set of (type, value) pairs artifactx must give for
that case, for the five scored types ip, url, domain, hash, email (other
types, such as file, are not scored).

One message record is built per case (id = case id; subject, text, html,
from, to as given, null or [] when absent; attachments [], messages []);
all of them go through one artifactx run on stdin.  The output must hold
one JSON "message" record per input, in order, with the same id, every
input field passed through unchanged and an "artifacts" array of
{"type", "value", ...} objects.  Each record's set of scored (type, value)
pairs is compared with "expect": a pair in both is a true positive, a pair
only in the output a false positive, a pair only in "expect" a false
negative; a pair given twice in one record is one more false positive
("each (type, value) once per message").

Prints a per-type table of TP/FP/FN/precision/recall with the overall
micro-averaged figures, then every FP and FN with its case id.  Exit 0 when
the output is well-formed and overall precision and recall are both >= 0.98,
1 otherwise, 2 on a usage or truth-set error.

With --tap the same results are TAP: the truth set, the artifactx run and
the record structure; precision and recall >= 0.95 per type; overall
precision and recall >= 0.98; the FP/FN list as "#" comments.

usage: ioc_truth.py [--truth FILE] [--tap] [--only PREFIX] [ARTIFACTX [ARG...]]
ARTIFACTX defaults to $ARTIFACTX, then bin/artifactx of this checkout
(a $ARTIFACTX value is split like a shell word list).
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys

TYPES = ("ip", "url", "domain", "hash", "email")
KNOWN_TYPES = TYPES + ("file",)
MIN_TYPE = 0.95
MIN_OVERALL = 0.98
MIN_CASES = 120
MISSING = object()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TruthError(Exception):
    pass


def load_truth(path):
    cases = []
    ids = set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = "%s:%d" % (path, n)
            try:
                c = json.loads(line)
            except ValueError as e:
                raise TruthError("%s: not JSON: %s" % (where, e))
            if not isinstance(c, dict):
                raise TruthError("%s: not an object" % where)
            cid = c.get("id")
            if not isinstance(cid, str) or not cid:
                raise TruthError("%s: no id" % where)
            if cid in ids:
                raise TruthError("%s: duplicate id %s" % (where, cid))
            ids.add(cid)
            for k in ("subject", "text", "html", "note"):
                if c.get(k) is not None and not isinstance(c[k], str):
                    raise TruthError("%s: %s is not a string" % (where, k))
            for k in ("from", "to"):
                v = c.get(k, [])
                if not isinstance(v, list) or not all(
                        isinstance(a, dict) and isinstance(a.get("addr"), str) for a in v):
                    raise TruthError("%s: %s is not a list of {name, addr}" % (where, k))
            exp = c.get("expect")
            if not isinstance(exp, list):
                raise TruthError("%s: no expect list" % where)
            pairs = set()
            for e in exp:
                if (not isinstance(e, list) or len(e) != 2 or e[0] not in TYPES
                        or not isinstance(e[1], str) or not e[1]):
                    raise TruthError("%s: bad expect entry %r" % (where, e))
                if tuple(e) in pairs:
                    raise TruthError("%s: expect lists %r twice" % (where, e))
                pairs.add(tuple(e))
            c["_expect"] = pairs
            cases.append(c)
    return cases


def record(c):
    subject = c.get("subject")
    return {
        "v": 1, "kind": "message", "id": c["id"],
        "source": {"kind": "stdin"}, "source_id": None,
        "name": subject if subject is not None else "(no subject)",
        "message_id": None, "in_reply_to": None, "references": [], "date": None,
        "subject": subject,
        "from": c.get("from", []), "sender": [], "reply_to": [],
        "to": c.get("to", []), "cc": [], "bcc": [], "delivered_to": [],
        "headers": [],
        "text": c.get("text"), "html": c.get("html"),
        "attachments": [], "messages": [], "defects": [], "error": None,
    }


def show(v):
    return json.dumps(v, ensure_ascii=False)


def run(cmd, records):
    """Run artifactx; returns (exit status or None, stdout bytes, problem text)."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    try:
        p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
    except OSError as e:
        return None, b"", "cannot run %s: %s" % (show(cmd), e)
    except subprocess.TimeoutExpired:
        return None, b"", "%s did not finish in 300 s" % show(cmd)
    err = p.stderr.decode("utf-8", "replace").strip()
    if p.returncode != 0:
        return p.returncode, p.stdout, "exit status %d%s" % (
            p.returncode, (": " + err.splitlines()[-1]) if err else "")
    return 0, p.stdout, None


def check_output(records, out):
    """Parse and check the output.  Returns ({id: artifact list}, problems).

    The structure is checked line by line against the input (same count,
    same order); the artifacts are matched to cases by id, so that one lost
    or extra record does not shift every later case."""
    problems = []
    lines = out.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        problems.append("output does not end with a newline")
    if len(lines) != len(records):
        problems.append("%d records in, %d lines out" % (len(records), len(lines)))
    got = {}
    for i, line in enumerate(lines):
        rec = records[i] if i < len(records) else None
        where = "line %d (case %s)" % (i + 1, rec["id"] if rec else "-")
        try:
            o = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            problems.append("%s: not UTF-8 JSON: %s" % (where, e))
            continue
        if not isinstance(o, dict):
            problems.append("%s: not an object" % where)
            continue
        if o.get("kind") != "message" or o.get("v") != 1:
            problems.append('%s: not a v1 "message" record' % where)
        if rec is not None:
            if o.get("id") != rec["id"]:
                problems.append("%s: id is %s (out of order?)" % (where, show(o.get("id"))))
            else:
                changed = [k for k in rec if o.get(k, MISSING) != rec[k]]
                if changed:
                    problems.append("%s: fields not passed through unchanged: %s"
                                    % (where, ", ".join(changed)))
        arts = o.get("artifacts")
        if not isinstance(arts, list):
            problems.append("%s: no artifacts array" % where)
            continue
        good = []
        for a in arts:
            if (not isinstance(a, dict) or not isinstance(a.get("type"), str)
                    or not isinstance(a.get("value"), str)):
                problems.append("%s: artifact without string type and value: %s" % (where, show(a)[:200]))
                continue
            if a["type"] not in KNOWN_TYPES:
                problems.append("%s: unknown artifact type %s" % (where, show(a["type"])))
            good.append(a)
        if isinstance(o.get("id"), str) and o["id"] not in got:
            got[o["id"]] = good
    return got, problems


def score(cases, got):
    """Returns (per-type counts {type: [tp, fp, fn]}, list of (kind, case, type, value, why))."""
    counts = {t: [0, 0, 0] for t in TYPES}
    misses = []
    for c in cases:
        arts = got.get(c["id"])
        exp = c["_expect"]
        seen = set()
        for a in arts or []:
            p = (a["type"], a["value"])
            if p[0] not in TYPES:
                continue
            if p in seen:
                counts[p[0]][1] += 1
                misses.append(("FP", c, p[0], p[1], "given twice"))
                continue
            seen.add(p)
            if p in exp:
                counts[p[0]][0] += 1
            else:
                counts[p[0]][1] += 1
                misses.append(("FP", c, p[0], p[1], None))
        for p in sorted(exp - seen):
            counts[p[0]][2] += 1
            misses.append(("FN", c, p[0], p[1], None))
    return counts, misses


def ratios(tp, fp, fn):
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    return prec, rec


def table(counts):
    rows = ["%-8s %5s %5s %5s %10s %8s" % ("type", "TP", "FP", "FN", "precision", "recall")]
    tot = [0, 0, 0]
    for t in TYPES:
        tp, fp, fn = counts[t]
        tot = [tot[0] + tp, tot[1] + fp, tot[2] + fn]
        p, r = ratios(tp, fp, fn)
        rows.append("%-8s %5d %5d %5d %10.3f %8.3f" % (t, tp, fp, fn, p, r))
    p, r = ratios(*tot)
    rows.append("%-8s %5d %5d %5d %10.3f %8.3f" % ("overall", tot[0], tot[1], tot[2], p, r))
    return rows, (p, r)


def miss_lines(misses):
    out = []
    for kind, c, t, v, why in misses:
        note = c.get("note") or ""
        out.append("%s %-6s %s  [%s%s]%s" % (kind, t, show(v), c["id"],
                                             (": " + note) if note else "",
                                             (" (" + why + ")") if why else ""))
    return out


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--truth", default=os.path.join(ROOT, "tests", "ioc-truth.jsonl"))
    ap.add_argument("--tap", action="store_true", help="TAP output")
    ap.add_argument("--only", metavar="PREFIX", help="only the cases whose id starts with PREFIX")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="artifactx command")
    a = ap.parse_args()
    if a.cmd:
        cmd = a.cmd
    elif os.environ.get("ARTIFACTX"):
        cmd = shlex.split(os.environ["ARTIFACTX"])
    else:
        cmd = [os.path.join(ROOT, "bin", "artifactx")]

    tap = []  # (ok, description, diagnostics)

    def emit():
        print("1..%d" % len(tap))
        for n, (ok, desc, diag) in enumerate(tap, 1):
            print("%s %d - %s" % ("ok" if ok else "not ok", n, desc))
            for d in diag:
                print("# " + d)

    try:
        cases = load_truth(a.truth)
    except (OSError, TruthError) as e:
        if a.tap:
            print("1..1\nnot ok 1 - truth set %s\n# %s" % (a.truth, e))
            return 0
        print("ioc_truth: %s" % e, file=sys.stderr)
        return 2
    if a.only:
        cases = [c for c in cases if c["id"].startswith(a.only)]
        if not cases:
            print("ioc_truth: no case id starts with %s" % a.only, file=sys.stderr)
            return 2
    n_pairs = sum(len(c["_expect"]) for c in cases)
    n_empty = sum(1 for c in cases if not c["_expect"])
    truth_ok = a.only is not None or len(cases) >= MIN_CASES
    tap.append((truth_ok, "truth set: %d cases, %d expected artifacts, %d cases without any"
                % (len(cases), n_pairs, n_empty), [] if truth_ok else ["fewer than %d cases" % MIN_CASES]))

    records = [record(c) for c in cases]
    status, out, problem = run(cmd, records)
    tap.append((problem is None, "%s ran on %d records" % (" ".join(cmd), len(records)),
                [problem] if problem else []))
    got, problems = check_output(records, out) if status is not None else ({}, ["no output"])
    problems = problems[:20] + (["... %d more" % (len(problems) - 20)] if len(problems) > 20 else [])
    tap.append((not problems, "one message record per input, in order, fields passed through, artifacts array",
                problems))

    counts, misses = score(cases, got)
    rows, (p_all, r_all) = table(counts)
    for t in TYPES:
        p, r = ratios(*counts[t])
        tp, fp, fn = counts[t]
        tap.append((p >= MIN_TYPE, "%s precision %.3f >= %.2f" % (t, p, MIN_TYPE),
                    ["%s: TP %d FP %d FN %d" % (t, tp, fp, fn)]))
        tap.append((r >= MIN_TYPE, "%s recall %.3f >= %.2f" % (t, r, MIN_TYPE), []))
    tap.append((p_all >= MIN_OVERALL, "overall precision %.3f >= %.2f" % (p_all, MIN_OVERALL), []))
    tap.append((r_all >= MIN_OVERALL, "overall recall %.3f >= %.2f" % (r_all, MIN_OVERALL), []))

    lines = miss_lines(misses)
    if a.tap:
        emit()
        for row in rows:
            print("# " + row)
        if lines:
            print("# %d false positives, %d false negatives:" % (
                sum(1 for m in misses if m[0] == "FP"), sum(1 for m in misses if m[0] == "FN")))
            for l in lines:
                print("# " + l)
        return 0

    for d in (problem and [problem] or []) + problems:
        print("PROBLEM " + d)
    for row in rows:
        print(row)
    for l in lines:
        print(l)
    ok = status == 0 and not problems and p_all >= MIN_OVERALL and r_all >= MIN_OVERALL
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
