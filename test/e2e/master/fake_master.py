#!/usr/bin/env python3
"""
A stand-in for Cyrus master(8) that records what a service tells it.

It opens a TCP listener on 127.0.0.1 (port 0) and one status pipe, then forks N children. Each
child gets the pipe's write end on fd 3 and the listener on fd 4 (as master/service.h defines),
CYRUS_SERVICE / CYRUS_ID in its environment, /dev/null on fds 0 and 1, and execs the command.
Everything it sees is printed as JSON lines on stdout:

  {"event": "listening", "port": P}
  {"event": "spawned", "pid": X}
  {"event": "status", "msg": M, "pid": P}             one per 8-byte message (int32 msg, int32 pid, LE)
  {"event": "bad-status", "hex": "..."}               a read that was not exactly 8 bytes
  {"event": "exit", "pid": X, "code": C}               or "signal": S
  {"event": "done"}                                   after the last child is gone

usage: fake_master.py [--children N] [--service NAME] [--id ID] [--no-service] [--no-id] -- cmd...
"""
import json
import os
import select
import signal
import socket
import struct
import sys
import time

STATUS_FD = 3
LISTEN_FD = 4
MESSAGE_SIZE = 8


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def parse_args(argv):
    opts = {"children": 1, "service": "pop3", "id": "0", "set_service": True, "set_id": True, "fd4": "listener"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return opts, argv[i + 1:]
        if a == "--children":
            opts["children"] = int(argv[i + 1]); i += 2; continue
        if a == "--service":
            opts["service"] = argv[i + 1]; i += 2; continue
        if a == "--id":
            opts["id"] = argv[i + 1]; i += 2; continue
        if a == "--no-service":
            opts["set_service"] = False; i += 1; continue
        if a == "--fd4":
            opts["fd4"] = argv[i + 1]; i += 2; continue
        if a == "--no-id":
            opts["set_id"] = False; i += 1; continue
        raise SystemExit("fake_master.py: unknown argument " + a)
    raise SystemExit("fake_master.py: missing -- cmd")


def child(cmd, opts, listener_fd, pipe_w):
    # Move both fds out of the way first: either may already sit on 3 or 4, and dup2 onto the
    # other's number would close it.
    # --fd4 pipe: a broken setup, where fd 4 is not a listening socket
    high_listener = os.dup(listener_fd) if opts["fd4"] == "listener" else os.pipe()[0]
    high_pipe = os.dup(pipe_w)
    while high_listener <= LISTEN_FD or high_pipe <= LISTEN_FD:
        if high_listener <= LISTEN_FD:
            high_listener = os.dup(high_listener)
        if high_pipe <= LISTEN_FD:
            high_pipe = os.dup(high_pipe)
    os.dup2(high_pipe, STATUS_FD, inheritable=True)
    os.dup2(high_listener, LISTEN_FD, inheritable=True)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0, inheritable=True)
    os.dup2(devnull, 1, inheritable=True)
    keep = {0, 1, 2, STATUS_FD, LISTEN_FD}
    for fd in os.listdir("/proc/self/fd"):
        n = int(fd)
        if n not in keep:
            try:
                os.close(n)
            except OSError:
                pass
    env = {k: v for k, v in os.environ.items() if k not in ("CYRUS_SERVICE", "CYRUS_ID")}
    if opts["set_service"]:
        env["CYRUS_SERVICE"] = opts["service"]
    if opts["set_id"]:
        env["CYRUS_ID"] = opts["id"]
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.execve(cmd[0], cmd, env)


def main():
    opts, cmd = parse_args(sys.argv[1:])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    pipe_r, pipe_w = os.pipe()
    emit(event="listening", port=listener.getsockname()[1])

    children = set()
    for _ in range(opts["children"]):
        pid = os.fork()
        if pid == 0:
            try:
                child(cmd, opts, listener.fileno(), pipe_w)
            finally:
                os._exit(127)
        children.add(pid)
        emit(event="spawned", pid=pid)
    os.close(pipe_w)

    # Stop the children if the test goes away; SIGKILL of this process is handled by the test.
    def forward(signum, _frame):
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        sys.exit(1)

    signal.signal(signal.SIGTERM, forward)

    def drain(block_timeout):
        ready, _, _ = select.select([pipe_r], [], [], block_timeout)
        if not ready:
            return False
        data = os.read(pipe_r, MESSAGE_SIZE)
        if len(data) == 0:
            # every writer is gone; the children are about to be reaped
            if block_timeout > 0:
                time.sleep(block_timeout)
            return False
        if len(data) != MESSAGE_SIZE:
            emit(event="bad-status", hex=data.hex())
            return True
        msg, pid = struct.unpack("<ii", data)
        emit(event="status", msg=msg, pid=pid)
        return True

    while children:
        drain(0.05)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if pid == 0:
                break
            # everything the child wrote before exiting is already in the pipe
            while drain(0):
                pass
            children.discard(pid)
            if os.WIFEXITED(status):
                emit(event="exit", pid=pid, code=os.WEXITSTATUS(status))
            else:
                emit(event="exit", pid=pid, signal=os.WTERMSIG(status))
    while drain(0):
        pass
    emit(event="done")


if __name__ == "__main__":
    main()
