#!/usr/bin/env python3
"""ioc-splunk.py - the Splunk SOAR IMAP app's extraction, as a bench peer.

usage: ioc-splunk.py [FILE]      (default: standard input)

Reads the whole input as one document (UTF-8, errors="replace") and runs
the regular expressions the Splunk SOAR IMAP app 5.0.0 runs on each mail
body, as restated in shared/notes/splunk-soar.md sections 3.4-3.6, with
Python's re module, roughly as the app uses them:

  emails  the two address patterns (3.4.1); the text after the last "@"
          becomes a domain unless it is an IPv4 address
  urls    html.unescape() of the text, then the 5.0.0 URL pattern, the
          app's strip-clean, and a Django-style URLValidator check; each
          valid URL is kept and its host becomes a domain unless it is an IP
  ips     the unanchored IPv4 pattern, octets checked (dotted quad, no
          leading zeros); the common all-forms IPv6 alternation with every
          non-empty capture group a candidate, checked by inet_pton
  hashes  32, 40 and 64 hex digits between word boundaries

Values are deduplicated across the document by exact string, as the app
deduplicates across a message.  The app's HTML branch (BeautifulSoup over
href/src, which skips the URL regex when a body has any link) is not
reproduced: the URL regex always runs, so this is the cost of the regexes
and the checks, without an HTML parser.

Prints one line: "N artifacts I ips H hashes U urls D domains".  Each
step's start and duration go to standard error, so a run killed by a
timeout shows on its last stderr line which pattern it was stuck in.
"""
import html
import re
import socket
import sys
import time

# 3.4: the 5.0.0 URL pattern, exactly as the notes give it.
URL_RE = re.compile(
    r"(?:[Hh][Tt][Tt][Pp][Ss]?:\/\/)"
    r"(?:(?:[:@\.\-_0-9]|[^ -@\[-\`\{-\~\s]|[\[\(][^\s\[\]\(\)]*[\]\)])+)"
    r"(?:(?:[\/\?]+(?:[^\[\'\"\(\{\)\]\}\s]|[\[\(][^\[\]\(\)]*[\]\)])*)*)"
    r"[\/]?")

# 3.4.1: the two address patterns, case-insensitive.
EMAIL_RE = re.compile(r"\b[A-Z0-9._%+-]+@+[A-Z0-9.-]+\.[A-Z]{2,}\b", re.I)
EMAIL2_RE = re.compile(r'".*"@[A-Z0-9.-]+\.[A-Z]{2,}\b', re.I)

# 3.5: IPv4 candidates, no boundaries.
IPV4_RE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")


def _ipv6_pattern():
    """The widely published all-forms IPv6 alternation (one branch per
    count of leading groups, each allowing a "::" or an embedded IPv4
    tail), with optional surrounding whitespace and an optional "%zone"
    that runs to the end of the line, all groups capturing."""
    h = r"[0-9A-Fa-f]{1,4}"
    d = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    v4 = d + r"(\." + d + r"){3}"
    branches = [r"((%s:){7}(%s|:))" % (h, h),
                r"((%s:){6}(:%s|(%s)|:))" % (h, h, v4),
                r"((%s:){5}(((:%s){1,2})|:(%s)|:))" % (h, h, v4),
                r"((%s:){4}(((:%s){1,3})|((:%s)?:(%s))|:))" % (h, h, h, v4)]
    for lead, tail in ((3, 4), (2, 5), (1, 6)):
        branches.append(r"((%s:){%d}(((:%s){1,%d})|((:%s){0,%d}:(%s))|:))"
                        % (h, lead, h, tail, h, tail - 2, v4))
    branches.append(r"(:(((:%s){1,7})|((:%s){0,5}:(%s))|:))" % (h, h, v4))
    return r"\s*(" + "|".join(branches) + r")(%.+)?\s*"


IPV6_RE = re.compile(_ipv6_pattern())

# 3.6
HASH_RE = re.compile(
    r"\b[0-9a-fA-F]{32}\b|\b[0-9a-fA-F]{40}\b|\b[0-9a-fA-F]{64}\b")

# The platform's is_ip as the notes infer it: strict dotted quad.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IS_IPV4_RE = re.compile(r"%s(?:\.%s){3}\Z" % (_OCTET, _OCTET))


def _url_validator():
    """Django's URLValidator regex for schemes http and https, restated
    from the notes (3.4, "Validation")."""
    ul = "\u00a1-\uffff"
    ipv4 = (r"(?:0|25[0-5]|2[0-4]\d|1\d?\d?|[1-9]\d?)"
            r"(?:\.(?:0|25[0-5]|2[0-4]\d|1\d?\d?|[1-9]\d?)){3}")
    ipv6 = r"\[[0-9a-f:.]+\]"
    hostname = r"[a-z%s0-9](?:[a-z%s0-9-]{0,61}[a-z%s0-9])?" % (ul, ul, ul)
    domain = r"(?:\.(?!-)[a-z%s0-9-]{1,63}(?<!-))*" % ul
    tld = r"\.(?!-)(?:[a-z%s-]{2,63}|xn--[a-z0-9]{1,59})(?<!-)\.?" % ul
    host = r"(?:%s%s%s|localhost)" % (hostname, domain, tld)
    return re.compile(r"https?://(?:[^\s:@/]+(?::[^\s:@/]*)?@)?"
                      r"(?:%s|%s|%s)(?::[0-9]{1,5})?(?:[/?#][^\s]*)?\Z"
                      % (ipv4, ipv6, host), re.I)


URL_VALID_RE = _url_validator()


def is_ipv4(s):
    return IS_IPV4_RE.match(s) is not None


def is_ipv6(s):
    try:
        socket.inet_pton(socket.AF_INET6, s)
    except (OSError, ValueError):
        return False
    return True


def clean_url(url):
    """The app's strip-clean (3.4)."""
    url = url.strip(">),.]\r\n")
    if "<" in url:
        url = url[:url.find("<")]
    if ">" in url:
        url = url[:url.find(">")]
    return url.rstrip("]").strip()


def valid_url(url):
    if len(url) > 2048 or "\t" in url or "\r" in url or "\n" in url:
        return False
    if URL_VALID_RE.match(url) is None:
        return False
    if "[" in url.split("/", 3)[2]:
        host = url.split("/", 3)[2].rsplit("@", 1)[-1]
        return is_ipv6(host[1:host.find("]")])
    return True


def url_host(url):
    """Host of a validated URL: no user info, port or brackets."""
    netloc = re.split(r"[/?#]", url.split("://", 1)[1], maxsplit=1)[0]
    netloc = netloc.rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[1:netloc.find("]")]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


class Steps:
    """Times each step, reporting on stderr as it goes."""

    def __init__(self):
        self.t = time.perf_counter()

    def start(self, name):
        sys.stderr.write("ioc-splunk: %s ..." % name)
        sys.stderr.flush()

    def done(self):
        now = time.perf_counter()
        sys.stderr.write(" %.2f s\n" % (now - self.t))
        sys.stderr.flush()
        self.t = now


def extract(text, steps):
    ips, hashes, urls, domains = set(), set(), set(), set()

    steps.start("email patterns")
    found = EMAIL_RE.findall(text) + EMAIL2_RE.findall(text)
    for addr in found:
        dom = addr[addr.rfind("@") + 1:]
        if dom and not is_ipv4(dom):
            domains.add(dom)
    steps.done()

    steps.start("html.unescape + url pattern")
    found = [clean_url(u) for u in URL_RE.findall(html.unescape(text))]
    steps.done()
    steps.start("url validation")
    for url in found:
        if valid_url(url):
            urls.add(url)
            host = url_host(url)
            if host and not is_ipv4(host) and not is_ipv6(host):
                domains.add(host)
    steps.done()

    steps.start("ipv4 pattern")
    cands = IPV4_RE.findall(text)
    steps.done()
    steps.start("ipv6 pattern")
    for groups in IPV6_RE.findall(text):
        cands.extend(g for g in groups if g)
    steps.done()
    steps.start("ip checks")
    ips = {c for c in set(cands) if is_ipv4(c) or is_ipv6(c)}
    steps.done()

    steps.start("hash pattern")
    hashes = set(HASH_RE.findall(text))
    steps.done()
    return ips, hashes, urls, domains


def main(argv):
    if len(argv) > 2:
        sys.stderr.write("usage: ioc-splunk.py [FILE]\n")
        return 64
    steps = Steps()
    steps.start("read")
    if len(argv) == 2:
        with open(argv[1], "rb") as f:
            data = f.read()
    else:
        data = sys.stdin.buffer.read()
    text = data.decode("utf-8", errors="replace")
    del data
    steps.done()
    ips, hashes, urls, domains = extract(text, steps)
    n = len(ips) + len(hashes) + len(urls) + len(domains)
    print("%d artifacts %d ips %d hashes %d urls %d domains"
          % (n, len(ips), len(hashes), len(urls), len(domains)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
