#!/usr/bin/env python3
"""
Starts a program the way systemd's socket activation does (sd_listen_fds(3), Accept=no): binds
one listening TCP socket per NAME on 127.0.0.1 (port 0), prints {"ports": [...], "pid": N} as one
JSON line, then forks; the child moves the sockets to fds 3, 4, ..., sets LISTEN_FDS, LISTEN_PID
(its own pid) and LISTEN_FDNAMES, and execs the program. The parent waits and exits with the
child's status (128 + signal when killed); SIGTERM and SIGHUP are passed on to the child.

usage: socket_activate.py NAME[,NAME...] PROGRAM [ARG...]
"""
import json
import os
import signal
import socket
import sys


def main():
    names = sys.argv[1].split(",")
    program = sys.argv[2:]
    sockets = []
    for _ in names:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        sockets.append(s)
    pid = os.fork()
    if pid == 0:
        # move the sockets above the target range first, so that dup2 never overwrites one
        high = [os.dup(s.fileno()) + 100 for s in sockets]
        for s, fd in zip(sockets, high):
            os.dup2(s.fileno(), fd)
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
            os.set_inheritable(3 + i, True)
        env = dict(os.environ)
        env["LISTEN_FDS"] = str(len(sockets))
        env["LISTEN_PID"] = str(os.getpid())
        env["LISTEN_FDNAMES"] = ":".join(names)
        os.closerange(3 + len(sockets), 1024)
        os.execve(program[0], program, env)
    print(json.dumps({"ports": [s.getsockname()[1] for s in sockets], "pid": pid}), flush=True)
    for s in sockets:
        s.close()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: os.kill(pid, n))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
