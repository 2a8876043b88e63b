#!/usr/bin/env python3
"""Stands in for Cyrus master(8): a listening socket on fd 4, a status pipe on fd 3,
CYRUS_SERVICE/CYRUS_ID in the environment, then the service binary.

Usage: [SERVICE_NAME=pop3s] fake_master.py BINARY [ARGS...]
Prints "port N" once the socket listens on 127.0.0.1, then, when the service exits, one JSON line
{"exit": code, "status": [message codes the service sent]}.
"""
import json
import os
import socket
import struct
import subprocess
import sys


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print("port %d" % listener.getsockname()[1], flush=True)
    status_r, status_w = os.pipe()

    def hand_over():
        # via high numbers first: the originals may themselves sit on fd 3 or 4
        os.dup2(status_w, 100)
        os.dup2(listener.fileno(), 101)
        os.dup2(100, 3)
        os.dup2(101, 4)
        os.close(100)
        os.close(101)

    env = dict(os.environ, CYRUS_SERVICE=os.environ.get("SERVICE_NAME", "pop3"), CYRUS_ID="1")
    env.pop("SERVICE_NAME", None)
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             preexec_fn=hand_over, close_fds=False, env=env)
    os.close(status_w)
    listener.close()
    messages = []
    with os.fdopen(status_r, "rb") as pipe:
        while True:
            record = pipe.read(8)
            if len(record) < 8:
                break
            messages.append(struct.unpack("<ii", record)[0])
    print(json.dumps({"exit": child.wait(), "status": messages}), flush=True)


if __name__ == "__main__":
    main()
