/**
 * Deadlines for every wait the client controls, on real loopback sockets with the session
 * engine's socket handlers: a pop3s handshake that never completes, STLS followed by silence,
 * and a PROXY header that stops halfway. Timers are faked, so the 180 s and 10 s deadlines are
 * reached without waiting; a stalled PROXY header must also cost no CPU while it waits.
 */
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { sessionHandlers, type SessionStarter, type SocketData } from "../../../src/server/socket-session.ts";
import type { TlsSettings } from "../../../src/server/tls.ts";
import { PROXY_HEADER_TIMEOUT_MS } from "../../../src/server/proxy-fd.ts";
import { CLOSE_DRAIN_DEADLINE_MS, TLS_HANDSHAKE_SECONDS } from "../../../src/limits.ts";
import { R } from "../../../src/pop3/responses.ts";
import { silentLog } from "../../../src/log/log.ts";
import { testPassdb, testSettings, testStore } from "../pop3/session-fixture.ts";

const dir = mkdtempSync(join(tmpdir(), "pop3d-socket-session-"));
let tls: TlsSettings;

beforeAll(() => {
  const r = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=pop.test"],
    { cwd: dir, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  tls = {
    options: { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") },
    clientCerts: "off",
    requestsClientCert: false,
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const listeners: TCPSocketListener<SocketData>[] = [];
afterEach(() => {
  jest.useRealTimers();
  for (const l of listeners.splice(0)) l.stop(true);
});

function listen(starter: Partial<SessionStarter>, withTls = false, bigMessageBytes?: number): number {
  const full: SessionStarter = {
    deps: { settings: testSettings({ starttlsAvailable: true }), store: testStore(bigMessageBytes), passdb: testPassdb, log: silentLog },
    tls: () => tls,
    ...starter,
  };
  const listener = Bun.listen<SocketData>({
    hostname: "127.0.0.1",
    port: 0,
    ...(withTls ? { tls: tls.options } : {}),
    socket: sessionHandlers(full),
  } as any) as unknown as TCPSocketListener<SocketData>;
  listeners.push(listener);
  return listener.port;
}

/** A raw client: collects what it receives and notes when the server closes. */
async function rawClient(port: number) {
  let received = "";
  let closed = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const socket: Socket<undefined> = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, chunk) => {
        received += Buffer.from(chunk).toString("latin1");
        poke();
      },
      close: () => {
        closed = true;
        poke();
      },
      end: () => {
        closed = true;
        poke();
      },
      error: () => {},
    },
  });
  return {
    socket,
    get received() {
      return received;
    },
    get closed() {
      return closed;
    },
    /** Wait (on socket events, never a timer) until `condition` holds. */
    async until(condition: () => boolean): Promise<void> {
      while (!condition()) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/** Let the event loop turn a few times for real (socket events), without advancing fake timers. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The start of a TLS ClientHello record: a client that stops in the middle of it. */
const HALF_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

describe("TLS handshakes have a deadline", () => {
  test("pop3s: half a ClientHello, then silence: dropped at the deadline, not before", async () => {
    jest.useFakeTimers();
    const c = await rawClient(listen({ implicitTls: "listener" }, true));
    c.socket.write(HALF_CLIENT_HELLO);
    await turns();
    jest.advanceTimersByTime(TLS_HANDSHAKE_SECONDS * 1000 - 1000);
    await turns();
    expect(c.closed).toBe(false);
    jest.advanceTimersByTime(1000);
    await c.until(() => c.closed);
    expect(c.received).toBe("");
  });

  test("STLS, then no handshake: dropped at the deadline", async () => {
    jest.useFakeTimers();
    const c = await rawClient(listen({}));
    await c.until(() => c.received.includes("\r\n"));
    c.socket.write("STLS\r\n");
    await c.until(() => c.received.includes(R.beginTls));
    await turns();
    jest.advanceTimersByTime(TLS_HANDSHAKE_SECONDS * 1000 - 1000);
    await turns();
    expect(c.closed).toBe(false);
    jest.advanceTimersByTime(1000);
    await c.until(() => c.closed);
  });
});

describe("a PROXY header that stops halfway", () => {
  test("gets the fatal text at the deadline and is closed", async () => {
    jest.useFakeTimers();
    const c = await rawClient(listen({ proxy: { trusted: () => true } }));
    c.socket.write("PROXY TCP4 192.0.2.7 12");
    await turns();
    expect(c.closed).toBe(false);
    jest.advanceTimersByTime(PROXY_HEADER_TIMEOUT_MS);
    await c.until(() => c.closed);
    expect(c.received).toBe(R.haproxyFailed + "\r\n");
  });

  test("200 connections stalled inside it cost no CPU while they wait (no polling)", async () => {
    const port = listen({ proxy: { trusted: () => true } });
    const clients = await Promise.all(Array.from({ length: 200 }, () => rawClient(port)));
    for (const c of clients) c.socket.write("PROXY TCP4 192.0.2.7 12");
    await turns(50);
    const before = process.cpuUsage();
    await Bun.sleep(500);
    const used = process.cpuUsage(before);
    // polling each fd every 10 ms cost about 40 % of a core; waiting on socket events costs nothing
    expect((used.user + used.system) / 1000).toBeLessThan(50);
    for (const c of clients) expect(c.closed).toBe(false);
    for (const c of clients) c.socket.terminate();
  });

  test("a whole header followed by commands in the same segment: the commands run", async () => {
    const c = await rawClient(listen({ proxy: { trusted: () => true } }));
    c.socket.write("PROXY TCP4 192.0.2.7 127.0.0.1 5555 110\r\nCAPA\r\nQUIT\r\n");
    await c.until(() => c.closed);
    expect(c.received).toMatch(/^\+OK .*server ready.*\r\n\+OK List of capabilities follows\r\n[\s\S]*\r\n\.\r\n\+OK\r\n$/);
  });
});

describe("sessions that end must close", () => {
  test("an idle timeout while the client reads nothing: the connection is cut at the close deadline, not held for the queued output", async () => {
    jest.useFakeTimers();
    let closedAt: string | undefined;
    const port = listen({ closed: (_session, end) => (closedAt = end) }, false, 4 * 1024 * 1024);
    const c = await rawClient(port);
    await c.until(() => c.received.includes("\r\n"));
    c.socket.write("USER alice\r\nPASS alice-pw\r\n");
    await c.until(() => c.received.includes("Mailbox locked"));
    c.socket.pause();
    // 4 MiB, four times: far more than the socket buffers hold while nobody reads
    for (let i = 0; i < 4; i++) c.socket.write("RETR 3\r\n");
    await turns(100);
    jest.advanceTimersByTime(testSettings().idleTimeoutMs);
    await turns();
    expect(closedAt).toBeUndefined();
    jest.advanceTimersByTime(CLOSE_DRAIN_DEADLINE_MS);
    while (closedAt === undefined) await turns();
    expect(closedAt).toBe("idle");
    c.socket.terminate();
  });
});
