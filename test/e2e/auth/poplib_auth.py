#!/usr/bin/env python3
"""Logs in with Python's poplib and prints one JSON object: the login reply and STAT, or the error.

Usage: poplib_auth.py (apop|user) HOST PORT USER PASSWORD
  apop  POP3.apop(), which hashes the greeting's <timestamp> with the password
  user  POP3.user() then POP3.pass_()
"""
import json
import poplib
import sys

TIMEOUT_SECONDS = 60  # a hang guard only


def main():
    mode, host, port, user, password = sys.argv[1:6]
    pop = poplib.POP3(host, int(port), timeout=TIMEOUT_SECONDS)
    try:
        if mode == "apop":
            reply = pop.apop(user, password)
        else:
            pop.user(user)
            reply = pop.pass_(password)
        result = {"reply": reply.decode("latin1"), "stat": list(pop.stat())}
    except poplib.error_proto as e:
        result = {"error": e.args[0].decode("latin1")}
    pop.quit()
    print(json.dumps(result))


main()
