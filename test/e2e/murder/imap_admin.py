#!/usr/bin/env python3
"""Mailbox administration on one Cyrus server of the test Murder, as the admin, with imaplib.

  imap_admin.py PORT ADMIN PASSWORD create MAILBOX
  imap_admin.py PORT ADMIN PASSWORD delete MAILBOX   (grants the admin "x" first, as cyradm's dm does)
  imap_admin.py PORT ADMIN PASSWORD list             -> one JSON list of mailbox names

Prints one JSON document; exits non-zero with the server's answer when a command fails.
"""
import imaplib
import json
import re
import sys


def check(result, what):
    typ, data = result
    if typ != "OK":
        raise SystemExit(f"{what} failed: {typ} {data!r}")
    return data


def main():
    port, admin, password, command, *args = sys.argv[1:]
    m = imaplib.IMAP4("127.0.0.1", int(port))
    m.login(admin, password)
    try:
        if command == "create":
            check(m.create(args[0]), "CREATE")
            result = {"created": args[0]}
        elif command == "delete":
            check(m.setacl(args[0], admin, "lrswipkxtecda"), "SETACL")
            check(m.delete(args[0]), "DELETE")
            result = {"deleted": args[0]}
        elif command == "list":
            data = check(m.list(), "LIST")
            names = []
            for item in data:
                found = re.search(rb'"([^"]*)"$|(\S+)$', item or b"")
                if found:
                    names.append((found.group(1) or found.group(2)).decode())
            result = sorted(names)
        else:
            raise SystemExit(f"unknown command {command}")
    finally:
        m.logout()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
