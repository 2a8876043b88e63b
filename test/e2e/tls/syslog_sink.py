#!/usr/bin/env python3
"""A syslog socket for tests: binds a unix datagram socket (writable by anyone, as the server may
have dropped privileges), prints "ready", then each datagram received as one line.

Usage: syslog_sink.py SOCKET_PATH
"""
import os
import socket
import sys


def main():
    path = sys.argv[1]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    print("ready", flush=True)
    while True:
        data = sock.recv(65536)
        sys.stdout.write(data.decode("utf-8", "replace").rstrip("\n") + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
