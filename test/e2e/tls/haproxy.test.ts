/**
 * HAProxy PROXY protocol (imap/haproxy.c:haproxy_read_hdr) with Debian's haproxy in front of the binary (send-proxy and
 * send-proxy-v2), in standalone (--listen-proxy, -H), stdio (socat) and master mode; bad
 * headers; trusted networks. Clients connect from 127.0.0.2 (or ::1) so the address haproxy saw
 * differs from haproxy's own (127.0.0.1) and the login line shows which one the server used.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { PopClient, cleanupAll, makeFixture, type Fixture } from "../../support/harness.ts";
import { startHaproxy } from "./haproxy-support.ts";
import { makePki, tlsConfig, type Pki } from "./pki.ts";
import {
  GREETING,
  logged,
  popTls,
  rawExchange,
  startStandalone,
  stdioBehindSocat,
  syslogCapture,
  underFakeMaster,
  type OneShot,
  type Standalone,
  type Step,
  type SyslogCapture,
} from "./tls-support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const HAPROXY_FAILED = "-ERR [SYS/PERM] Fatal error: unable to read HAProxy protocol header";
const EX_IOERR = 74;
const CLIENT = "127.0.0.2";
const LOGIN_STEPS: Step[] = [{ cmd: "USER alice" }, { cmd: "PASS alice-pw" }, { cmd: "STAT" }, { cmd: "QUIT" }, { rest: true }];

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** A v2 PROXY TCP4 header for 192.0.2.7:5555 → 127.0.0.1:110. */
function v2Tcp4(): Buffer {
  return Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 7, 127, 0, 0, 1, 0x15, 0xb3, 0x00, 0x6e])]);
}

/** Malformed headers, each sent whole (then the client waits for the server to act). */
const BAD_HEADERS: [string, Buffer][] = [
  ["wrong v2 signature", Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), v2Tcp4().subarray(12)])],
  ["oversized v2 length", Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff]), Buffer.alloc(64)])],
  ["v2 with an unknown command", Buffer.concat([SIG, Buffer.from([0x2e, 0x11, 0x00, 0x0c]), Buffer.alloc(12)])],
  ["garbage v1 address", Buffer.from("PROXY TCP4 300.1.2.3 127.0.0.1 5555 110\r\n")],
  ["v1 without CRLF within 107 bytes", Buffer.from("PROXY TCP4 " + "9".repeat(120))],
  ["a POP3 command instead of a header", Buffer.from("CAPA\r\n")],
];

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(cleanupAll);

describe("standalone --listen-proxy", () => {
  let fx: Fixture;
  let server: Standalone;
  let proxyPort: number;
  beforeAll(async () => {
    fx = makeFixture({ config: tlsConfig(pki, { allowstarttls: "yes" }) });
    server = await startStandalone(fx, ["--listen", "127.0.0.1:0", "--listen-proxy", "127.0.0.1:0"]);
    proxyPort = server.port({ proxy: true });
  });

  for (const version of ["v1", "v2"] as const) {
    test(`haproxy ${version === "v1" ? "send-proxy" : "send-proxy-v2"}: the session works and the login line has the client's address`, async () => {
      const haproxy = await startHaproxy([
        { bind: "127.0.0.1", target: proxyPort, proxy: version },
        { bind: "::1", target: proxyPort, proxy: version },
      ]);
      for (const [host, source, shown] of [["127.0.0.1", CLIENT, `[${CLIENT}]`], ["::1", undefined, "[::1]"]] as const) {
        const mark = server.stderr().length;
        const r = await popTls({ port: haproxy.ports[host === "::1" ? 1 : 0]!, host, source, steps: LOGIN_STEPS });
        expect(r.error).toBeNull();
        expect(r.greeting).toMatch(GREETING);
        expect(r.events[1]!.status).toMatch(/^\+OK Mailbox locked and ready/);
        expect(r.events[3]!.status).toBe("+OK");
        expect(await logged(server, /login: \[[^\]]+\] alice plaintext User logged in/, mark)).toContain(`login: ${shown} alice`);
      }
      haproxy.stop();
    });
  }

  test("STLS behind haproxy: the upgrade works after the header, the login line has the client's address", async () => {
    const haproxy = await startHaproxy([{ bind: "127.0.0.1", target: proxyPort, proxy: "v2" }]);
    const mark = server.stderr().length;
    const r = await popTls({
      port: haproxy.ports[0]!,
      source: CLIENT,
      tls: { ca: pki.caCert },
      steps: [{ cmd: "STLS" }, { starttls: true }, ...LOGIN_STEPS],
    });
    expect(r.error).toBeNull();
    expect(r.events[0]!.status).toBe("+OK Begin TLS negotiation now");
    expect(r.events[3]!.status).toMatch(/^\+OK Mailbox locked and ready/);
    await logged(server, /login: \[127\.0\.0\.2\] alice plaintext\+TLS User logged in/, mark);
    haproxy.stop();
  });

  test("a direct connection sending a command instead of a header: the -ERR line, then closed, no greeting", async () => {
    const got = await rawExchange(proxyPort, ["CAPA\r\n"]);
    expect(got).toBe(HAPROXY_FAILED + "\r\n");
  });

  test("a direct connection that sends nothing is closed (no greeting), after the header wait", async () => {
    const got = await rawExchange(proxyPort, []);
    expect(got).not.toContain("+OK");
  });

  for (const [name, bytes] of BAD_HEADERS) {
    test(`bad header (${name}): refused with the -ERR line and closed; the server keeps serving`, async () => {
      const got = await rawExchange(proxyPort, [bytes]);
      expect(got).toBe(HAPROXY_FAILED + "\r\n");
      const ok = await popTls({ port: proxyPort, proxy: "PROXY TCP4 192.0.2.7 127.0.0.1 5555 110\r\n", steps: [{ cmd: "QUIT" }] });
      expect(ok.greeting).toMatch(GREETING);
    });
  }

  test("a truncated header, then the client closes: no greeting, the server keeps serving", async () => {
    const got = await rawExchange(proxyPort, [v2Tcp4().subarray(0, 20)], { end: true });
    expect(got).not.toContain("+OK");
    const got1 = await rawExchange(proxyPort, ["PROXY TCP4 192.0.2.7 12"], { end: true });
    expect(got1).not.toContain("+OK");
    const ok = await popTls({ port: proxyPort, proxy: "PROXY TCP4 192.0.2.7 127.0.0.1 5555 110\r\n", steps: [{ cmd: "QUIT" }] });
    expect(ok.greeting).toMatch(GREETING);
  });

  test("a header split across segments is accepted whole (Cyrus would refuse it: we wait for the rest)", async () => {
    const header = v2Tcp4();
    const got = await rawExchange(proxyPort, [header.subarray(0, 10), header.subarray(10, 20), Buffer.concat([header.subarray(20), Buffer.from("QUIT\r\n")])], {
      pauseMs: 50,
    });
    expect(got).toMatch(/^\+OK pop\.test pop3d \S+ server ready <[^>]+>\r\n\+OK\r\n$/);
  });

  test("commands in the same segment as the header are served after the greeting", async () => {
    const mark = server.stderr().length;
    const got = await rawExchange(proxyPort, ["PROXY TCP4 198.51.100.9 127.0.0.1 4444 110\r\nUSER alice\r\nPASS alice-pw\r\nQUIT\r\n"]);
    const lines = got.split("\r\n");
    expect(lines[0]).toMatch(GREETING);
    expect(lines.slice(1, 4)).toEqual(["+OK Name is a valid mailbox", expect.stringMatching(/^\+OK Mailbox locked and ready/), "+OK"]);
    await logged(server, /login: \[198\.51\.100\.9\] alice plaintext User logged in/, mark);
  });

  test("PROXY UNKNOWN and v2 LOCAL keep the connection's own address", async () => {
    for (const header of [Buffer.from("PROXY UNKNOWN\r\n"), Buffer.concat([SIG, Buffer.from([0x20, 0x00, 0x00, 0x00])])]) {
      const mark = server.stderr().length;
      const got = await rawExchange(proxyPort, [Buffer.concat([header, Buffer.from("USER alice\r\nPASS alice-pw\r\nQUIT\r\n")])]);
      expect(got.split("\r\n")[0]).toMatch(GREETING);
      await logged(server, /login: localhost \[127\.0\.0\.1\] alice plaintext User logged in/, mark);
    }
  });

  test("the plain listener of the same server does not expect a header (-H is per listener)", async () => {
    const c = await PopClient.connect(server.port({}));
    expect(c.greeting).toMatch(GREETING);
    expect(await c.cmd("PROXY TCP4 192.0.2.7 127.0.0.1 5555 110")).toBe("-ERR Unrecognized command");
    expect(await c.cmd("QUIT")).toBe("+OK");
  });
});

describe("standalone trusted networks", () => {
  test("a header from a peer outside pop3_haproxy_trusted_networks is refused (closed, no greeting)", async () => {
    const fx = makeFixture({ config: { pop3_haproxy_trusted_networks: "10.0.0.0/8" } });
    const server = await startStandalone(fx, ["--listen-proxy", "127.0.0.1:0"]);
    const port = server.port({ proxy: true });
    const got = await rawExchange(port, ["PROXY TCP4 192.0.2.7 127.0.0.1 5555 110\r\nCAPA\r\n"]);
    expect(got).not.toContain("+OK");
    const haproxy = await startHaproxy([{ bind: "127.0.0.1", target: port, proxy: "v2" }]);
    const viaHaproxy = await popTls({ port: haproxy.ports[0]!, source: CLIENT });
    expect(viaHaproxy.greeting).toBeNull();
    await logged(server, /untrusted/);
    haproxy.stop();
  });

  test("the default (127.0.0.0/8 ::1) trusts a proxy connecting over IPv6 loopback", async () => {
    const fx = makeFixture();
    const server = await startStandalone(fx, ["--listen-proxy", "[::1]:0"]);
    expect(server.listeners[0]!.host).toBe("[::1]");
    const got = await rawExchange(server.port({ proxy: true }), ["PROXY TCP4 192.0.2.7 127.0.0.1 5555 110\r\nQUIT\r\n"], { host: "::1" });
    expect(got).toMatch(/^\+OK pop\.test pop3d \S+ server ready <[^>]+>\r\n\+OK\r\n$/);
  });

  test("the default (127.0.0.0/8 ::1) trusts a local haproxy", async () => {
    const fx = makeFixture();
    const server = await startStandalone(fx, ["--listen-proxy", "127.0.0.1:0"]);
    const haproxy = await startHaproxy([{ bind: "127.0.0.1", target: server.port({ proxy: true }), proxy: "v1" }]);
    const r = await popTls({ port: haproxy.ports[0]!, source: CLIENT, steps: [{ cmd: "QUIT" }] });
    expect(r.greeting).toMatch(GREETING);
    haproxy.stop();
  });
});

describe("standalone -H with pop3s: haproxy passes TLS through in TCP mode", () => {
  test("send-proxy-v2 then the TLS handshake: session works, the client's address is logged", async () => {
    const fx = makeFixture({ config: tlsConfig(pki) });
    const server = await startStandalone(fx, ["-H", "--listen-tls", "127.0.0.1:0"]);
    const port = server.port({ tls: true, proxy: true });
    const haproxy = await startHaproxy([{ bind: "127.0.0.1", target: port, proxy: "v2" }]);
    const r = await popTls({ port: haproxy.ports[0]!, source: CLIENT, implicit: true, tls: { ca: pki.caCert }, steps: LOGIN_STEPS });
    expect(r.error).toBeNull();
    expect(r.greeting).toMatch(GREETING);
    expect(r.events[1]!.status).toMatch(/^\+OK Mailbox locked and ready/);
    await logged(server, new RegExp(`login: \\[${CLIENT.replace(/\./g, "\\.")}\\] alice plaintext\\+TLS User logged in`));
    haproxy.stop();
  });

  test("a PROXY header and the ClientHello in one segment (what a proxy may well send) still work", async () => {
    const fx = makeFixture({ config: tlsConfig(pki) });
    const server = await startStandalone(fx, ["-H", "--listen-tls", "127.0.0.1:0"]);
    const port = server.port({ tls: true, proxy: true });
    // a ClientHello recorded from openssl, behind the header in the same write
    const hello = await clientHello(pki);
    const got = await firstReply(port, Buffer.concat([Buffer.from("PROXY TCP4 192.0.2.7 127.0.0.1 5555 995\r\n"), hello]));
    // a TLS handshake record (ServerHello, content type 22) must come back, not silence
    expect(got.length).toBeGreaterThan(0);
    expect(got.charCodeAt(0)).toBe(0x16);
  });
});

/** Send `bytes` in one write and return the server's first reply (empty if it closes without one). */
async function firstReply(port: number, bytes: Uint8Array): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, chunk) => resolve(Buffer.from(chunk).toString("latin1")),
      close: () => resolve(""),
      error: () => resolve(""),
    },
  });
  socket.setNoDelay(true);
  if (socket.write(bytes) !== bytes.length) throw new Error("short write on a fresh connection");
  const got = await promise;
  socket.end();
  return got;
}

/** The first flight of `openssl s_client` (its ClientHello), captured through a one-shot listener. */
async function clientHello(p: Pki): Promise<Buffer> {
  const { promise, resolve } = Promise.withResolvers<Buffer>();
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s, chunk) {
        resolve(Buffer.from(chunk));
        s.end();
      },
    },
  });
  const proc = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${listener.port}`, "-CAfile", p.caCert], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  const hello = await promise;
  proc.kill();
  listener.stop(true);
  return hello;
}

describe("one-connection modes with -H", () => {
  let syslog: SyslogCapture;
  let fx: Fixture;
  beforeAll(async () => {
    syslog = await syslogCapture();
    fx = makeFixture({ config: tlsConfig(pki, { pop3_syslog_socket: syslog.path }) });
  });

  const modes: [string, (args: string[]) => Promise<OneShot>][] = [
    ["stdio (socat)", (args) => stdioBehindSocat(fx, args)],
    ["master", (args) => underFakeMaster(fx, ["-U", "1", ...args])],
  ];

  for (const [mode, launch] of modes) {
    test(`${mode} -H behind haproxy send-proxy: session works, exit 0, the client's address is logged`, async () => {
      const server = await launch(["-H"]);
      const haproxy = await startHaproxy([{ bind: "127.0.0.1", target: server.port, proxy: "v1" }]);
      const mark = syslog.mark();
      const r = await popTls({ port: haproxy.ports[0]!, source: CLIENT, steps: LOGIN_STEPS });
      expect(r.error).toBeNull();
      expect(r.greeting).toMatch(GREETING);
      expect(await server.exited).toBe(0);
      await syslog.line(/login: \[127\.0\.0\.2\] alice plaintext User logged in/, mark);
      haproxy.stop();
    });

    test(`${mode} -s -H behind haproxy send-proxy-v2 (TLS passed through): session works, exit 0`, async () => {
      const server = await launch(["-s", "-H"]);
      const haproxy = await startHaproxy([{ bind: "127.0.0.1", target: server.port, proxy: "v2" }]);
      const mark = syslog.mark();
      const r = await popTls({ port: haproxy.ports[0]!, source: CLIENT, implicit: true, tls: { ca: pki.caCert }, steps: LOGIN_STEPS });
      expect(r.error).toBeNull();
      expect(r.greeting).toMatch(GREETING);
      expect(r.events[1]!.status).toMatch(/^\+OK Mailbox locked and ready/);
      expect(await server.exited).toBe(0);
      await syslog.line(/login: \[127\.0\.0\.2\] alice plaintext\+TLS User logged in/, mark);
      haproxy.stop();
    });

    test(`${mode} -H: a direct connection without a header gets the -ERR line, exit 74`, async () => {
      const server = await launch(["-H"]);
      const got = await rawExchange(server.port, ["CAPA\r\n"]);
      expect(got).toBe(HAPROXY_FAILED + "\r\n");
      expect(await server.exited).toBe(EX_IOERR);
    });

    test(`${mode} -H: truncated header then close: no greeting, exit 74`, async () => {
      const server = await launch(["-H"]);
      const got = await rawExchange(server.port, [v2Tcp4().subarray(0, 20)], { end: true });
      expect(got).not.toContain("+OK");
      expect(await server.exited).toBe(EX_IOERR);
    });

    test(`${mode} -H: oversized v2 header: the -ERR line, exit 74`, async () => {
      const server = await launch(["-H"]);
      const got = await rawExchange(server.port, [BAD_HEADERS[1]![1]]);
      expect(got).toBe(HAPROXY_FAILED + "\r\n");
      expect(await server.exited).toBe(EX_IOERR);
    });
  }

  test("stdio -H: a PROXY header followed by commands in the same segment", async () => {
    const server = await stdioBehindSocat(fx, ["-H"]);
    const mark = syslog.mark();
    const got = await rawExchange(server.port, ["PROXY TCP6 2001:db8::7 ::1 4444 110\r\nUSER alice\r\nPASS alice-pw\r\nQUIT\r\n"]);
    expect(got.split("\r\n")[0]).toMatch(GREETING);
    expect(got).toContain("\r\n+OK Mailbox locked and ready");
    expect(await server.exited).toBe(0);
    await syslog.line(/login: \[2001:db8::7\] alice plaintext User logged in/, mark);
  });
});
