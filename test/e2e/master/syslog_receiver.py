#!/usr/bin/env python3
"""
A syslog daemon stand-in: binds a unix datagram socket at PATH (mode 0666, so a service that
dropped root can send), prints {"ready": PATH} and then every datagram as a JSON string line on
stdout. It removes the socket when stdin closes or on SIGTERM.

usage: syslog_receiver.py PATH
"""
import json
import os
import select
import signal
import socket
import sys


def main():
    path = sys.argv[1]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)

    def cleanup(*_args):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, cleanup)
    sys.stdout.write(json.dumps({"ready": path}) + "\n")
    sys.stdout.flush()
    try:
        while True:
            ready, _, _ = select.select([sock, sys.stdin], [], [])
            if sys.stdin in ready and os.read(sys.stdin.fileno(), 4096) == b"":
                break
            if sock in ready:
                data = sock.recv(65536)
                sys.stdout.write(json.dumps(data.decode("latin-1")) + "\n")
                sys.stdout.flush()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
