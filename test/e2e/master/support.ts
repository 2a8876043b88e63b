/**
 * Shared pieces of the master(8) tests: a fake master (fake_master.py) that records the 8-byte
 * status messages, a syslog receiver (syslog_receiver.py) on a unix datagram socket, and fixture
 * helpers for files the service user must be able to write.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, childEnv, collect, makeFixture, ownProcess, waitFor, type Fixture, type FixtureOptions, type PopClient } from "../../support/harness.ts";

export const FAKE_MASTER = join(import.meta.dir, "fake_master.py");
export const SYSLOG_RECEIVER = join(import.meta.dir, "syslog_receiver.py");

/** master/service.h */
export const AVAILABLE = 1;
export const UNAVAILABLE = 2;
export const CONNECTION = 3;

/** Hang guard for waits in these tests; no assertion depends on it. */
const WAIT_LIMIT_MS = 30_000;
/** For a datagram sent by a process that has already exited: it is in the socket buffer by now. */
export const ALREADY_SENT_MS = 5_000;

// ---- lines from a child's stdout ---------------------------------------------------------------

/** Parses JSON lines from a stream in the background. */
function jsonLines(stream: ReadableStream<Uint8Array>, onValue: (value: any) => void, onEnd: () => void): void {
  void (async () => {
    let pending = "";
    try {
      for await (const chunk of stream) {
        pending += Buffer.from(chunk).toString("utf8");
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim() !== "") onValue(JSON.parse(line));
        }
      }
    } finally {
      onEnd();
    }
  })();
}

// ---- fake master ------------------------------------------------------------------------------

export type MasterEvent =
  | { event: "listening"; port: number }
  | { event: "spawned"; pid: number }
  | { event: "status"; msg: number; pid: number }
  | { event: "bad-status"; hex: string }
  | { event: "exit"; pid: number; code?: number; signal?: number }
  | { event: "done" };

export interface FakeMasterOptions {
  /** Arguments after the binary, e.g. ["-C", conf, "-U", "3"]. */
  args: string[];
  /** The executable to start (default: the built binary). */
  binary?: string;
  children?: number;
  service?: string;
  id?: string;
  noService?: boolean;
  noId?: boolean;
}

export class FakeMaster {
  readonly events: MasterEvent[] = [];
  private finished = false;
  private static readonly running = new Set<FakeMaster>();

  /**
   * Kills what is left of every fake master (call from afterEach): a leftover process would keep
   * holding the accept lock of its <service>-<id> and starve the next test's process.
   */
  static async stopAll(): Promise<void> {
    const masters = [...FakeMaster.running];
    FakeMaster.running.clear();
    for (const m of masters) m.kill();
    await Promise.all(masters.map((m) => m.proc.exited));
  }

  private kill(): void {
    for (const pid of this.livePids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.proc.kill("SIGKILL");
  }

  private constructor(
    private readonly proc: Bun.Subprocess<"ignore", "pipe", "pipe">,
    readonly stderr: { text(): string },
  ) {}

  static async start(o: FakeMasterOptions): Promise<FakeMaster> {
    const flags = ["--children", String(o.children ?? 1), "--service", o.service ?? "pop3", "--id", o.id ?? "0"];
    if (o.noService) flags.push("--no-service");
    if (o.noId) flags.push("--no-id");
    const proc = Bun.spawn(["python3", FAKE_MASTER, ...flags, "--", o.binary ?? BINARY, ...o.args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: childEnv(),
    });
    const master = new FakeMaster(proc, collect(proc.stderr));
    FakeMaster.running.add(master);
    // the launcher's children outlive a SIGKILLed launcher: kill them too at cleanup
    ownProcess({
      get exitCode() {
        return master.finished ? 0 : null;
      },
      signalCode: null,
      kill: () => master.kill(),
    } as unknown as Bun.Subprocess);
    jsonLines(
      proc.stdout,
      (value) => master.events.push(value as MasterEvent),
      () => (master.finished = true),
    );
    await master.waitFor(() => master.events.some((e) => e.event === "spawned"), "the fake master to spawn");
    return master;
  }

  get port(): number {
    const e = this.events.find((e) => e.event === "listening");
    if (!e || e.event !== "listening") throw new Error("fake master has no listener");
    return e.port;
  }

  get pids(): number[] {
    return this.events.flatMap((e) => (e.event === "spawned" ? [e.pid] : []));
  }

  get pid(): number {
    return this.pids[0]!;
  }

  livePids(): number[] {
    const exited = new Set(this.events.flatMap((e) => (e.event === "exit" ? [e.pid] : [])));
    return this.pids.filter((p) => !exited.has(p));
  }

  /** Status message codes, in arrival order (of one child, or of all). */
  statuses(pid?: number): number[] {
    return this.events.flatMap((e) => (e.event === "status" && (pid === undefined || e.pid === pid) ? [e.msg] : []));
  }

  badStatuses(): string[] {
    return this.events.flatMap((e) => (e.event === "bad-status" ? [e.hex] : []));
  }

  async waitFor(condition: () => boolean, what: string): Promise<void> {
    await waitFor(() => {
      if (condition()) return true;
      if (this.finished) throw new Error(`fake master ended while waiting for ${what}; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr.text()}`);
      return false;
    }, what, WAIT_LIMIT_MS);
  }

  async waitForStatuses(count: number, pid?: number): Promise<number[]> {
    await this.waitFor(() => this.statuses(pid).length >= count, `${count} status messages`);
    return this.statuses(pid);
  }

  /** Exit status of a child: the code, or 128 + signal. */
  async exitOf(pid: number = this.pid): Promise<number> {
    const find = () => this.events.find((e) => e.event === "exit" && e.pid === pid) as Extract<MasterEvent, { event: "exit" }> | undefined;
    await waitFor(() => find() !== undefined || this.finished, `child ${pid} to exit`, WAIT_LIMIT_MS);
    const e = find();
    if (!e) throw new Error(`no exit event for ${pid}: ${JSON.stringify(this.events)}`);
    return e.code ?? 128 + (e.signal ?? 0);
  }

  /** Whether the child is still running right now. */
  alive(pid: number = this.pid): boolean {
    return !this.events.some((e) => e.event === "exit" && e.pid === pid);
  }

  signal(sig: NodeJS.Signals, pid: number = this.pid): void {
    process.kill(pid, sig);
  }

  /** Waits until `pid` holds the accept lock, i.e. sits in its accept loop with its signal handlers installed. */
  async waitUntilAccepting(pid: number = this.pid): Promise<void> {
    await this.waitFor(() => holdsPosixWriteLock(pid), `pid ${pid} to take the accept lock`);
  }
}

/** Whether /proc/locks shows a POSIX WRITE lock owned by `pid`. */
export function holdsPosixWriteLock(pid: number): boolean {
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .some((line) => {
      const f = line.trim().split(/\s+/);
      // "1: POSIX  ADVISORY  WRITE 12345 08:01:1234 0 EOF" (blocked waiters have a "->" column)
      return f[1] === "POSIX" && f[3] === "WRITE" && Number(f[4]) === pid;
    });
}

// ---- syslog receiver -------------------------------------------------------------------------

export interface SyslogLine {
  raw: string;
  pri: number;
  ident: string;
  pid: number;
  message: string;
}

const SYSLOG_FORMAT = /^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+?)\[(\d+)\]: (.*)$/s;

export function parseSyslog(raw: string): SyslogLine | undefined {
  const m = SYSLOG_FORMAT.exec(raw);
  if (!m) return undefined;
  return { raw, pri: Number(m[1]), ident: m[2]!, pid: Number(m[3]), message: m[4]! };
}

export class SyslogReceiver {
  readonly datagrams: string[] = [];
  private finished = false;

  private constructor(
    readonly path: string,
    private readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">,
  ) {}

  static async start(path: string): Promise<SyslogReceiver> {
    const proc = Bun.spawn(["python3", SYSLOG_RECEIVER, path], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: childEnv() });
    ownProcess(proc);
    const stderr = collect(proc.stderr);
    const receiver = new SyslogReceiver(path, proc);
    let ready = false;
    jsonLines(
      proc.stdout,
      (value) => {
        if (typeof value === "string") receiver.datagrams.push(value);
        else ready = true;
      },
      () => (receiver.finished = true),
    );
    await waitFor(() => {
      if (receiver.finished) throw new Error(`syslog receiver at ${path} failed: ${stderr.text()}`);
      return ready;
    }, `syslog receiver at ${path}`);
    return receiver;
  }

  lines(): SyslogLine[] {
    return this.datagrams.map((raw) => parseSyslog(raw) ?? { raw, pri: -1, ident: "", pid: -1, message: raw });
  }

  messages(pid?: number): string[] {
    return this.lines()
      .filter((l) => pid === undefined || l.pid === pid)
      .map((l) => l.message);
  }

  /** `limitMs` only turns a missing line into a failure sooner (use a short one for a process that already exited). */
  async waitFor(match: (l: SyslogLine) => boolean, what: string, limitMs = WAIT_LIMIT_MS): Promise<SyslogLine> {
    let found: SyslogLine | undefined;
    try {
      await waitFor(() => (found = this.lines().find(match)) !== undefined, `syslog line: ${what}`, limitMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}; received:\n${this.datagrams.join("\n")}`);
    }
    return found!;
  }

  async waitForMessage(pattern: RegExp | string, pid?: number): Promise<SyslogLine> {
    return this.waitFor(
      (l) => (pid === undefined || l.pid === pid) && (typeof pattern === "string" ? l.message === pattern : pattern.test(l.message)),
      String(pattern),
    );
  }

  async stop(): Promise<void> {
    if (this.finished) return;
    void this.proc.stdin.end();
    await this.proc.exited;
  }
}

// ---- fixtures ---------------------------------------------------------------------------------

/** The account the binary serves as when the tests run as root (the harness picks it). */
export function serviceAccount(fx: Fixture): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = /^pop3_run_as: (.*)$/m.exec(readFileSync(fx.confPath, "utf8"))?.[1] ?? "cyrus";
  if (name === "root") return undefined;
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[0] === name);
  if (!entry) throw new Error(`no account ${name}`);
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** mkdir -p, each created directory owned by the service account. */
export function serviceDir(fx: Fixture, path: string): string {
  const account = serviceAccount(fx);
  const parts = path.split("/");
  for (let i = 2; i <= parts.length; i++) {
    const p = parts.slice(0, i).join("/");
    if (existsSync(p)) continue;
    mkdirSync(p);
    if (account) chownSync(p, account.uid, account.gid);
  }
  return path;
}

/** Sets imapd.conf keys, replacing existing lines of the same key (duplicates are fatal). */
export function setConfig(fx: Fixture, settings: Record<string, string>): void {
  const keep = readFileSync(fx.confPath, "utf8")
    .split("\n")
    .filter((line) => line !== "" && !Object.keys(settings).some((k) => line.startsWith(`${k}:`)));
  writeFileSync(fx.confPath, [...keep, ...Object.entries(settings).map(([k, v]) => `${k}: ${v}`)].join("\n") + "\n");
}

export interface MasterFixture {
  fx: Fixture;
  syslog: SyslogReceiver;
  configDirectory: string;
}

/** A harness fixture whose syslog goes to a test receiver (pop3_syslog_socket). */
export async function masterFixture(opts: FixtureOptions = {}): Promise<MasterFixture> {
  const fx = makeFixture(opts);
  const socketPath = join(fx.dir, "syslog.sock");
  setConfig(fx, { pop3_syslog_socket: socketPath });
  const syslog = await SyslogReceiver.start(socketPath);
  return { fx, syslog, configDirectory: join(fx.dir, "conf") };
}

export const SESSION_ID = /^pop\.test-\d+-\d+-\d+-\d+$/;
export const MAILBOX_READY = /^\+OK Mailbox locked and ready SESSIONID=<([^>]+)>$/;

/** The pid field of a session id (§10: <prefix>-<time>-<pid>-<n>-<u64>). */
export function pidOfSessionId(id: string): number {
  const parts = id.split("-");
  return Number(parts[parts.length - 3]);
}

// ---- POP3 steps ---------------------------------------------------------------------------------

/** USER/PASS; returns the session id of the "+OK Mailbox locked and ready" reply. */
export async function login(c: PopClient, user = "alice", password = `${user}-pw`): Promise<string> {
  const userReply = await c.cmd(`USER ${user}`);
  if (userReply !== "+OK Name is a valid mailbox") throw new Error(`USER ${user}: ${userReply}`);
  const reply = await c.cmd(`PASS ${password}`);
  const m = MAILBOX_READY.exec(reply);
  if (!m) throw new Error(`PASS for ${user}: ${reply}`);
  return m[1]!;
}

export async function quit(c: PopClient): Promise<void> {
  const reply = await c.cmd("QUIT");
  if (reply !== "+OK") throw new Error(`QUIT: ${reply}`);
  await c.closed();
}

/** A receiver at /dev/log for lines logged before imapd.conf is read; undefined if a syslog daemon owns it. */
export async function devLogReceiver(): Promise<SyslogReceiver | undefined> {
  const path = "/dev/log";
  if (existsSync(path)) {
    // a socket left by a receiver that died refuses connections; a live daemon's accepts them
    const probe = Bun.spawnSync(["python3", "-c", `import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).connect(${JSON.stringify(path)})`]);
    if (probe.exitCode === 0) return undefined;
    try {
      unlinkSync(path);
    } catch {
      return undefined;
    }
  }
  try {
    return await SyslogReceiver.start(path);
  } catch {
    return undefined;
  }
}
