/**
 * A stand-in for Cyrus master(8) (fake_master.py): it hands the binary a listener on fd 4 and a
 * status pipe on fd 3 and reports every 8-byte status message and every exit as an event.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, childEnv, collect, ownProcess, waitFor } from "../../support/harness.ts";
import { WAIT_LIMIT_MS, jsonLines } from "./json-lines.ts";

export const FAKE_MASTER = join(import.meta.dir, "fake_master.py");

/** master/service.h */
export const AVAILABLE = 1;
export const UNAVAILABLE = 2;
export const CONNECTION = 3;

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
  /** What fd 4 is: the listener (default), or a pipe (a broken setup). */
  fd4?: "listener" | "pipe";
  /** Extra environment for the children (e.g. POP3D_SYSLOG_SOCKET). */
  env?: Record<string, string>;
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
    if (o.fd4) flags.push("--fd4", o.fd4);
    const proc = Bun.spawn(["python3", FAKE_MASTER, ...flags, "--", o.binary ?? BINARY, ...o.args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: childEnv(o.env),
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
    // every child, not just the first: a test that reads pids[1] must find it there
    const children = o.children ?? 1;
    await master.waitFor(() => master.pids.length >= children, `the fake master to spawn ${children} child(ren)`);
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

  /**
   * One child's status message codes, in arrival order. The pid is required: an undefined one
   * (a sibling not spawned yet) must not quietly mean "every child".
   */
  statuses(pid: number): number[] {
    if (typeof pid !== "number") throw new Error(`statuses(${pid}): a child's pid is required`);
    return this.events.flatMap((e) => (e.event === "status" && e.pid === pid ? [e.msg] : []));
  }

  /** Every child's status message codes, in arrival order. */
  allStatuses(): number[] {
    return this.events.flatMap((e) => (e.event === "status" ? [e.msg] : []));
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

  async waitForStatuses(count: number, pid: number): Promise<number[]> {
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
