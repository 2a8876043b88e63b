#!/usr/bin/env python3
"""Talks to the test Cyrus imapd with imaplib and prints one JSON document.

  imap_tool.py PORT admin ADMIN PASSWORD create MAILBOX [STORAGE_KB]
  imap_tool.py PORT user USER PASSWORD state
      -> {"uidvalidity": n, "highestmodseq": n, "messages": [{"uid", "flags", "size", "sha256"}]}
  imap_tool.py PORT user USER PASSWORD store UID +FLAGS|-FLAGS "(\\Flag ...)"
  imap_tool.py PORT user USER PASSWORD expunge UID
  imap_tool.py PORT user USER PASSWORD append MAILBOX FILE   (altnamespace: folders are not under INBOX)
  imap_tool.py PORT user USER PASSWORD quota   -> {"storage": [used, limit], "messages": ...}
"""
import hashlib
import imaplib
import json
import re
import sys


def login(port, user, password):
    m = imaplib.IMAP4("127.0.0.1", int(port))
    m.login(user, password)
    return m


def check(result, what):
    typ, data = result
    if typ != "OK":
        raise SystemExit(f"{what} failed: {typ} {data!r}")
    return data


def state(m):
    check(m.select("INBOX", readonly=True), "SELECT")
    uidvalidity = int(m.response("UIDVALIDITY")[1][0])
    status = check(m.status("INBOX", "(HIGHESTMODSEQ)"), "STATUS")[0].decode()
    highest = int(re.search(r"HIGHESTMODSEQ (\d+)", status).group(1))
    messages = []
    typ, data = m.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE BODY.PEEK[])")
    if typ != "OK":
        raise SystemExit(f"FETCH failed: {data!r}")
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        uid = int(re.search(r"UID (\d+)", meta).group(1))
        size = int(re.search(r"RFC822\.SIZE (\d+)", meta).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()
        messages.append({"uid": uid, "flags": sorted(f for f in flags if f != "\\Recent"),
                         "size": size, "sha256": hashlib.sha256(item[1]).hexdigest()})
    messages.sort(key=lambda x: x["uid"])
    return {"uidvalidity": uidvalidity, "highestmodseq": highest, "messages": messages}


def quota(m):
    data = check(m.getquotaroot("INBOX"), "GETQUOTAROOT")
    text = " ".join(d.decode() if isinstance(d, bytes) else str(d) for part in data for d in part)
    out = {}
    for name, key in (("STORAGE", "storage"), ("MESSAGE", "messages")):
        found = re.search(name + r" (\d+) (\d+)", text)
        if found:
            out[key] = [int(found.group(1)), int(found.group(2))]
    return out


def main():
    port, role, user, password, command, *args = sys.argv[1:]
    m = login(port, user, password)
    try:
        if role == "admin" and command == "create":
            check(m.create(args[0]), "CREATE")
            if len(args) > 1:
                check(m.setquota(args[0], f"(STORAGE {args[1]})"), "SETQUOTA")
            result = {"created": args[0]}
        elif command == "state":
            result = state(m)
        elif command == "store":
            check(m.select("INBOX"), "SELECT")
            check(m.uid("STORE", args[0], args[1], args[2]), "STORE")
            result = {"stored": args[0]}
        elif command == "append":
            with open(args[1], "rb") as f:
                check(m.append(args[0], None, None, f.read()), "APPEND")
            result = {"appended": args[0]}
        elif command == "expunge":
            check(m.select("INBOX"), "SELECT")
            check(m.uid("STORE", args[0], "+FLAGS", "(\\Deleted)"), "STORE")
            check(m.expunge(), "EXPUNGE")
            result = {"expunged": args[0]}
        elif command == "quota":
            result = quota(m)
        else:
            raise SystemExit(f"unknown command {command}")
    finally:
        m.logout()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
