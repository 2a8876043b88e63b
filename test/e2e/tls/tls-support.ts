/**
 * Launchers and clients shared by the TLS and PROXY tests: the binary in standalone mode with any
 * mix of listeners, in stdio mode behind socat, under a stand-in for Cyrus master; a syslog socket
 * for the modes that log there; the scripted Python client (pop_tls.py); openssl s_client.
 */
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import {
  BINARY,
  ROOT,
  childEnv,
  collect,
  exitStatus,
  freePort,
  ownProcess,
  run,
  tempDir,
  waitFor,
  waitForListening,
  type Fixture,
} from "../../support/harness.ts";

const HERE = join(ROOT, "test/e2e/tls");
export const POP_TLS = join(HERE, "pop_tls.py");
export const POPLIB_TLS = join(HERE, "poplib_tls.py");
const FAKE_MASTER = join(HERE, "fake_master.py");
const SYSLOG_SINK = join(HERE, "syslog_sink.py");

export interface Listener {
  host: string;
  port: number;
  tls: boolean;
  proxy: boolean;
}

export interface Standalone {
  listeners: Listener[];
  proc: Bun.Subprocess;
  stderr(): string;
  stop(): Promise<number>;
  /** The first listener with these properties. */
  port(kind: { tls?: boolean; proxy?: boolean }): number;
}

const LISTENING = /^pop3d: listening on (\S+):(\d+)( \(tls\))?( \(proxy\))?$/;

function requireBinary(): void {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} does not exist: run "make build" first`);
}

/**
 * `BINARY -C conf ...args` in standalone mode; resolves when every --listen* argument has been
 * announced on stdout (one line per listener).
 */
export async function startStandalone(fx: Fixture, args: string[]): Promise<Standalone> {
  requireBinary();
  const expected = args.filter((a) => a.startsWith("--listen")).length;
  const cmd = [BINARY, "-C", fx.confPath, ...args];
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv() });
  ownProcess(proc);
  const stderr = collect(proc.stderr);
  const reader = proc.stdout.getReader();
  const listeners: Listener[] = [];
  let text = "";
  while (listeners.length < expected) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${cmd.join(" ")} exited (${await exitStatus(proc)}) before listening; stderr:\n${stderr.text()}`);
    text += Buffer.from(value).toString("utf8");
    const lines = text.split("\n");
    text = lines.pop()!;
    for (const line of lines) {
      const m = LISTENING.exec(line.trimEnd());
      if (m) listeners.push({ host: m[1]!, port: Number(m[2]), tls: !!m[3], proxy: !!m[4] });
    }
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
  return {
    listeners,
    proc,
    stderr: () => stderr.text(),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exitStatus(proc);
    },
    port(kind) {
      const l = listeners.find((x) => x.tls === (kind.tls ?? false) && x.proxy === (kind.proxy ?? false));
      if (!l) throw new Error(`no listener ${JSON.stringify(kind)} among ${JSON.stringify(listeners)}`);
      return l.port;
    },
  };
}

export interface SyslogCapture {
  path: string;
  text(): string;
  /** A position in the log: line() with it looks only at what arrived later. */
  mark(): number;
  /** Waits until a line matches (the server logs asynchronously to the session). */
  line(pattern: RegExp, since?: number): Promise<string>;
}

/** A unix datagram socket standing in for /dev/log; configure it as `pop3_syslog_socket`. */
export async function syslogCapture(): Promise<SyslogCapture> {
  const dir = tempDir("syslog");
  chmodSync(dir, 0o755);
  const path = join(dir, "log.sock");
  const proc = Bun.spawn(["python3", SYSLOG_SINK, path], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv() });
  ownProcess(proc);
  const out = collect(proc.stdout);
  await waitFor(() => out.text().startsWith("ready\n") || proc.exitCode !== null, "the syslog sink");
  if (proc.exitCode !== null) throw new Error(`syslog_sink.py exited ${proc.exitCode}`);
  const text = () => out.text().slice("ready\n".length);
  return {
    path,
    text,
    mark: () => text().length,
    async line(pattern, since = 0) {
      let found: string | undefined;
      const search = () => text().slice(since).split("\n").find((l) => pattern.test(l));
      await waitFor(() => (found = search()) !== undefined, `a syslog line matching ${pattern}`);
      return found!;
    },
  };
}

export interface OneShot {
  port: number;
  /** Exit status of the server process. */
  exited: Promise<number>;
  stderr(): string;
}

/**
 * stdio (inetd) mode: socat accepts one connection on 127.0.0.1 and execs the binary on it
 * (`nofork`), so the binary's exit status is socat's.
 */
export async function stdioBehindSocat(fx: Fixture, args: string[]): Promise<OneShot> {
  requireBinary();
  const port = freePort();
  const exec = [BINARY, "-C", fx.confPath, ...args].join(" ");
  const proc = Bun.spawn(["socat", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `EXEC:${exec},nofork`], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: childEnv(),
  });
  ownProcess(proc);
  const stderr = collect(proc.stderr);
  await waitForListening(port, "socat", () => proc.exitCode === null);
  return { port, exited: exitStatus(proc), stderr: () => stderr.text() };
}

export interface FakeMaster extends OneShot {
  /** Status messages the service wrote to fd 3 (1 available, 2 unavailable, 3 connection). */
  status: Promise<number[]>;
}

/**
 * Master mode: fake_master.py hands the binary a listening socket (fd 4) and a status pipe (fd 3);
 * `service` is the cyrus.conf service name (CYRUS_SERVICE), which selects prefixed options.
 */
export async function underFakeMaster(fx: Fixture, args: string[], service = "pop3"): Promise<FakeMaster> {
  requireBinary();
  const proc = Bun.spawn(["python3", FAKE_MASTER, BINARY, "-C", fx.confPath, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: childEnv({ SERVICE_NAME: service }),
  });
  ownProcess(proc);
  const stderr = collect(proc.stderr);
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`fake_master.py exited before listening: ${stderr.text()}`);
    text += Buffer.from(value).toString("utf8");
  }
  const m = /^port (\d+)\n/.exec(text);
  if (!m) throw new Error(`fake_master.py said ${JSON.stringify(text)}`);
  const result = (async () => {
    let rest = text.slice(m[0].length);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += Buffer.from(value).toString("utf8");
    }
    await exitStatus(proc);
    if (!rest.trim()) throw new Error(`fake_master.py printed no result; stderr: ${stderr.text()}`);
    return JSON.parse(rest) as { exit: number; status: number[] };
  })();
  return {
    port: Number(m[1]),
    exited: result.then((r) => r.exit),
    status: result.then((r) => r.status),
    stderr: () => stderr.text(),
  };
}

export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  alpn?: string[];
  min?: "TLSv1" | "TLSv1_1" | "TLSv1_2" | "TLSv1_3";
  max?: "TLSv1" | "TLSv1_1" | "TLSv1_2" | "TLSv1_3";
  ciphers?: string;
  servername?: string;
}

export type Step =
  | { cmd: string; multi?: boolean }
  | { raw: string }
  | { line: true }
  | { multi: true }
  | { starttls: true }
  | { rest: true };

export interface TlsInfo {
  version: string;
  cipher: string;
  alpn: string | null;
  peer_sha256: string | null;
  plaintext_leftover: string;
}

export interface Event {
  cmd?: string;
  status?: string;
  lines?: string[];
  line?: string;
  raw?: string;
  tls?: TlsInfo;
  rest?: string;
  rest_error?: string | null;
}

export interface ScriptResult {
  greeting: string | null;
  tls: TlsInfo | null;
  events: Event[];
  error: string | null;
}

/** Runs pop_tls.py (Python's ssl, i.e. OpenSSL, as the client). */
export async function popTls(script: {
  port: number;
  host?: string;
  source?: string;
  implicit?: boolean;
  proxy?: string;
  greeting?: boolean;
  tls?: TlsOptions;
  steps?: Step[];
}): Promise<ScriptResult> {
  const r = await run(["python3", POP_TLS, JSON.stringify(script)]);
  if (r.code !== 0) throw new Error(`pop_tls.py exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString("utf8")) as ScriptResult;
}

/** `openssl s_client` with the given arguments and stdin; -ign_eof keeps it reading until the server closes. */
export async function sClient(args: string[], input = ""): Promise<{ code: number; out: string; err: string }> {
  const r = await run(["openssl", "s_client", "-ign_eof", ...args], { stdin: input });
  return { code: r.code, out: r.stdout.toString("latin1"), err: r.stderr };
}

/** The capability names of a CAPA listing (first word of each line). */
export function capaNames(lines: string[] | undefined): string[] {
  if (!lines) throw new Error("no CAPA listing");
  return lines.map((l) => l.split(" ")[0]!);
}

/** The mechanisms of the SASL line, or undefined without one. */
export function saslMechanisms(lines: string[] | undefined): string[] | undefined {
  const line = lines?.find((l) => l.startsWith("SASL "));
  return line?.slice(5).split(" ");
}

/** Waits until the standalone server's stderr (its log), from offset `since` on, matches. */
export async function logged(server: { stderr(): string }, pattern: RegExp, since = 0): Promise<string> {
  let m: RegExpExecArray | null = null;
  await waitFor(() => (m = pattern.exec(server.stderr().slice(since))) !== null, `a log line matching ${pattern}`);
  return m![0];
}

export const GREETING = /^\+OK pop\.test pop3d \S+ server ready <\d+\.\d+@pop\.test>$/;

/**
 * A long-lived TLS session through `openssl s_client -quiet` (stdin/stdout pipes), for tests that
 * keep a session open while something else happens (a certificate reload).
 */
export class SClientSession {
  private buffered = "";
  private ended = false;
  private wake: (() => void) | null = null;
  greeting = "";

  private constructor(private readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">) {
    void (async () => {
      for await (const chunk of proc.stdout) {
        this.buffered += Buffer.from(chunk).toString("latin1");
        this.wake?.();
      }
      this.ended = true;
      this.wake?.();
    })();
  }

  static async open(args: string[]): Promise<SClientSession> {
    const proc = Bun.spawn(["openssl", "s_client", "-quiet", "-ign_eof", ...args], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: childEnv(),
    });
    ownProcess(proc);
    const session = new SClientSession(proc);
    // with -starttls, s_client consumes the greeting and the STLS exchange itself
    if (!args.includes("-starttls")) session.greeting = await session.readLine();
    return session;
  }

  async readLine(): Promise<string> {
    for (;;) {
      const at = this.buffered.indexOf("\r\n");
      if (at >= 0) {
        const line = this.buffered.slice(0, at);
        this.buffered = this.buffered.slice(at + 2);
        return line;
      }
      if (this.ended) throw new Error(`s_client ended; partial ${JSON.stringify(this.buffered)}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async cmd(line: string): Promise<string> {
    this.proc.stdin.write(line + "\r\n");
    await this.proc.stdin.flush();
    return this.readLine();
  }

  /** The body of a multi-line response (dot-unstuffed lines, CRLF-joined with a final CRLF). */
  async multiline(): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine();
      if (line === ".") return lines.map((l) => l + "\r\n").join("");
      lines.push(line.startsWith(".") ? line.slice(1) : line);
    }
  }

  async exited(): Promise<number> {
    await this.proc.stdin.end();
    return exitStatus(this.proc);
  }
}

/**
 * Sends raw chunks on a fresh TCP connection (optionally pausing between them, optionally
 * half-closing after the last) and returns everything the server sent until it closed.
 */
export async function rawExchange(
  port: number,
  chunks: (string | Uint8Array)[],
  opts: { host?: string; end?: boolean; pauseMs?: number } = {},
): Promise<string> {
  const received: Buffer[] = [];
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  const socket = await Bun.connect({
    hostname: opts.host ?? "127.0.0.1",
    port,
    allowHalfOpen: true,
    socket: {
      data: (_s, chunk) => void received.push(Buffer.from(chunk)),
      close: () => closed(),
      end: (s) => {
        s.end();
        closed();
      },
      error: () => closed(),
    },
  });
  socket.setNoDelay(true);
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0 && opts.pauseMs) await Bun.sleep(opts.pauseMs);
    const chunk = chunks[i]!;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
    if (socket.write(bytes) !== bytes.length) throw new Error("short write on a fresh connection");
  }
  if (opts.end) socket.end();
  await done;
  return Buffer.concat(received).toString("latin1");
}
