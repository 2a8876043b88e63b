#!/usr/bin/env python3
"""Python's poplib over TLS, as a mail client uses it; prints one JSON object.

Usage: poplib_tls.py pop3s|stls PORT CAFILE USER PASSWORD
  pop3s  poplib.POP3_SSL (implicit TLS)
  stls   poplib.POP3 + stls() (STARTTLS)
Then USER/PASS, STAT, RETR of every message, QUIT. Each message is reported as the sha256 and
length of its lines re-joined with CRLF (poplib strips line ends and undoes dot-stuffing).
"""
import hashlib
import json
import poplib
import ssl
import sys

TIMEOUT_SECONDS = 120  # a hang guard only; the tests never measure time


def main():
    mode, port, cafile, user, password = sys.argv[1:6]
    ctx = ssl.create_default_context(cafile=cafile)
    if mode == "pop3s":
        pop = poplib.POP3_SSL("127.0.0.1", int(port), context=ctx, timeout=TIMEOUT_SECONDS)
        capa_before = None
    else:
        pop = poplib.POP3("127.0.0.1", int(port), timeout=TIMEOUT_SECONDS)
        capa_before = sorted(pop.capa().keys())
        pop.stls(context=ctx)
    out = {
        "greeting": pop.getwelcome().decode("latin1"),
        "capa_before": capa_before,
        "capa": sorted(pop.capa().keys()),
        "tls_version": pop.sock.version(),
        "user": pop.user(user).decode("latin1"),
        "pass": pop.pass_(password).decode("latin1"),
    }
    count, total = pop.stat()
    out["stat"] = [count, total]
    out["messages"] = []
    for n in range(1, count + 1):
        _, lines, _ = pop.retr(n)
        data = b"".join(line + b"\r\n" for line in lines)
        out["messages"].append({"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)})
    out["quit"] = pop.quit().decode("latin1")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
