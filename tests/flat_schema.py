#!/usr/bin/env python3
"""Check artifactx --flat records on stdin against mailrecord(5).
Prints one line per violation; silent when all hold."""
import json
import sys

TYPES = {"ip": "IP Artifact", "url": "URL Artifact", "domain": "Domain Artifact",
         "hash": "Hash Artifact", "email": "Email Address Artifact", "file": "Vault Artifact"}
CEF = {"ip": {"sourceAddress"}, "url": {"requestURL"}, "domain": {"destinationDnsDomain"},
       "hash": {"fileHash"}, "email": {"fromEmail", "toEmail", "emailAddress"},
       "file": {"vaultId"}}
SCOPES = {"public", "private", "loopback", "link-local", "documentation",
          "multicast", "unspecified", "reserved"}


def check(n, r):
    def bad(why):
        print("line %d: %s: %s" % (n, why, json.dumps(r)[:200]))
    if r.get("v") != 1 or r.get("kind") != "artifact":
        return bad("v/kind")
    if not isinstance(r.get("id"), (str, type(None))) or "source_id" not in r:
        return bad("id/source_id")
    if r.get("type") == "message":
        cef = r.get("cef", {})
        if r.get("name") != "Email Artifact" or not isinstance(cef.get("emailHeaders"), dict):
            return bad("Email Artifact")
        return
    t = r.get("type")
    if t not in TYPES or r.get("name") != TYPES[t]:
        return bad("type/name")
    if not isinstance(r.get("value"), str) or not r["value"]:
        return bad("value")
    cef = r.get("cef")
    if not isinstance(cef, dict) or not (CEF[t] & set(cef)):
        return bad("cef")
    if t != "file" and r["value"] not in cef.values():
        return bad("cef holds the value")
    if not isinstance(r.get("where"), list) or not r["where"]:
        return bad("where")
    if not isinstance(r.get("count"), int) or r["count"] < 1:
        return bad("count")
    if not isinstance(r.get("defanged"), bool):
        return bad("defanged")
    if t == "ip" and (r.get("version") not in (4, 6) or r.get("scope") not in SCOPES):
        return bad("ip version/scope")
    if t == "hash" and r.get("algo") not in ("md5", "sha1", "sha256", "sha512"):
        return bad("hash algo")
    if t == "hash" and len(r["value"]) != {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}[r["algo"]]:
        return bad("hash length")
    if t == "file" and (len(r["value"]) != 64 or "fileHashSha256" not in cef):
        return bad("file")


for n, line in enumerate(sys.stdin, 1):
    try:
        check(n, json.loads(line))
    except ValueError as e:
        print("line %d: not JSON: %s" % (n, e))
