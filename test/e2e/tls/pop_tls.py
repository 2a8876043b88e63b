#!/usr/bin/env python3
"""A scripted POP3 client over plain TCP, STLS or implicit TLS (Python's ssl, i.e. OpenSSL); the
TLS tests use it where they need exact bytes around a handshake. Prints one JSON object.

Usage: pop_tls.py SCRIPT_JSON
  {"port": 110, "host": "127.0.0.1",
   "implicit": false,                 # TLS handshake right after connecting (pop3s)
   "source": "127.0.0.2",             # local address to connect from, optional
   "proxy": "PROXY TCP4 ...\\r\\n",     # bytes sent before anything else (latin1), optional
   "greeting": true,                  # read the greeting line (after the handshake if implicit)
   "tls": {"ca": PATH, "cert": PATH, "key": PATH, "alpn": ["pop3"], "min": "TLSv1_2", "max": "TLSv1_3",
           "ciphers": "DEFAULT@SECLEVEL=0", "servername": "pop.test"},
   "steps": [...]}
Steps (each adds one event to "events"):
  {"cmd": "CAPA", "multi": true}   send the line + CRLF, read the status line (and the multi-line body on +OK)
  {"raw": "STLS\\r\\nCAPA\\r\\n"}    send bytes as they are (latin1)
  {"line": true}                   read one line
  {"multi": true}                  read a multi-line body up to "."
  {"starttls": true}               TLS handshake on the connection as it is now
  {"rest": true}                   read until the server closes
Output: {"greeting", "tls": {...} | null, "events": [...], "error": str | null}. Any exception ends
the script and is reported in "error" (exit status 0), so the test sees where it stopped.
"""
import hashlib
import json
import socket
import ssl
import sys

TIMEOUT_SECONDS = 60  # a hang guard only; the tests never measure time


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if self.eof:
                raise EOFError("closed before a complete line; partial %r" % bytes(self.buf[:200]))
            self.fill()
        at = self.buf.index(b"\r\n")
        out = bytes(self.buf[:at])
        del self.buf[: at + 2]
        return out.decode("latin1")

    def multi(self):
        lines = []
        while True:
            ln = self.line()
            if ln == ".":
                return lines
            lines.append(ln[1:] if ln.startswith(".") else ln)

    def rest(self):
        while not self.eof:
            try:
                self.fill()
            except (ConnectionResetError, ssl.SSLError) as e:
                out = bytes(self.buf).decode("latin1")
                self.buf.clear()
                return out, "%s: %s" % (type(e).__name__, e)
        out = bytes(self.buf).decode("latin1")
        self.buf.clear()
        return out, None

    def send(self, data):
        self.sock.sendall(data)


def context(opts):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if opts.get("ca"):
        ctx.load_verify_locations(opts["ca"])
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if opts.get("cert"):
        ctx.load_cert_chain(opts["cert"], opts.get("key"))
    if opts.get("ciphers"):
        ctx.set_ciphers(opts["ciphers"])
    if opts.get("min"):
        ctx.minimum_version = getattr(ssl.TLSVersion, opts["min"])
    if opts.get("max"):
        ctx.maximum_version = getattr(ssl.TLSVersion, opts["max"])
    if opts.get("alpn"):
        ctx.set_alpn_protocols(opts["alpn"])
    return ctx


def handshake(conn, opts):
    """Wraps the socket; bytes already received in plaintext are reported, never fed to TLS."""
    leftover = bytes(conn.buf).decode("latin1")
    conn.buf.clear()
    tls = context(opts).wrap_socket(conn.sock, server_hostname=opts.get("servername", "pop.test"))
    conn.sock = tls
    der = tls.getpeercert(binary_form=True)
    return {
        "version": tls.version(),
        "cipher": tls.cipher()[0],
        "alpn": tls.selected_alpn_protocol(),
        "peer_sha256": hashlib.sha256(der).hexdigest() if der else None,
        "plaintext_leftover": leftover,
    }


def main():
    script = json.loads(sys.argv[1])
    out = {"greeting": None, "tls": None, "events": [], "error": None}
    try:
        source = (script["source"], 0) if script.get("source") else None
        sock = socket.create_connection((script.get("host", "127.0.0.1"), script["port"]), timeout=TIMEOUT_SECONDS,
                                        source_address=source)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(sock)
        if script.get("proxy"):
            conn.send(script["proxy"].encode("latin1"))
        if script.get("implicit"):
            out["tls"] = handshake(conn, script.get("tls", {}))
        if script.get("greeting", True):
            out["greeting"] = conn.line()
        for step in script.get("steps", []):
            if "cmd" in step:
                conn.send(step["cmd"].encode("latin1") + b"\r\n")
                status = conn.line()
                event = {"cmd": step["cmd"], "status": status}
                if step.get("multi") and status.startswith("+OK"):
                    event["lines"] = conn.multi()
            elif "raw" in step:
                conn.send(step["raw"].encode("latin1"))
                event = {"raw": step["raw"]}
            elif "line" in step:
                event = {"line": conn.line()}
            elif "multi" in step:
                event = {"lines": conn.multi()}
            elif "starttls" in step:
                event = {"tls": handshake(conn, script.get("tls", {}))}
                out["tls"] = event["tls"]
            elif "rest" in step:
                text, error = conn.rest()
                event = {"rest": text, "rest_error": error}
            else:
                raise ValueError("unknown step %r" % step)
            out["events"].append(event)
    except Exception as e:  # reported, not raised: the test asserts on where and how it failed
        out["error"] = "%s: %s" % (type(e).__name__, e)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
