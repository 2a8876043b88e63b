/**
 * The real Cyrus master(8) (Debian's cyrus-common) started on a generated cyrus.conf, as the cyrus
 * user (Cyrus refuses to run as root), with the services a measurement needs and nothing else.
 * Every figure under master comes from a master started this way, so our binary and Cyrus's own
 * pop3d are forked by the same program with the same settings.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { descendants } from "./proc-tree.ts";

export const MASTER = "/usr/lib/cyrus/bin/master";
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

export interface ServiceLine {
  name: string;
  /** The command master runs, argv[0] an absolute path. */
  cmd: string;
  port: number;
  /** Processes master keeps ready (Debian's cyrus.conf uses 0 for pop3). */
  prefork: number;
}

export interface Account {
  uid: number;
  gid: number;
}

export function asUser(account: Account, cmd: string[]): string[] {
  return ["setpriv", `--reuid=${account.uid}`, `--regid=${account.gid}`, "--init-groups", ...cmd];
}

export async function waitPort(port: number, what: string, alive: () => boolean, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return;
    } catch {
      if (!alive()) throw new Error(`${what} exited before listening on ${port}`);
      if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
      await Bun.sleep(25);
    }
  }
}

export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export class RunningMaster {
  private constructor(
    private readonly proc: Bun.Subprocess,
    private readonly stderrText: () => string,
  ) {}

  /**
   * `nofile` lowers the fd limit of master and so of every process it forks (prlimit before
   * setpriv: the limit is inherited through exec).
   */
  static async start(opts: { dir: string; confPath: string; account: Account; services: ServiceLine[]; nofile?: number; tag: string }): Promise<RunningMaster> {
    if (!existsSync(MASTER)) throw new Error(`${MASTER} missing: apt-get install cyrus-common`);
    const cyrusConf = join(opts.dir, `cyrus-${opts.tag}.conf`);
    writeFileSync(
      cyrusConf,
      ["START {", "}", "SERVICES {", ...opts.services.map((s) => `  ${s.name} cmd="${s.cmd}" listen="127.0.0.1:${s.port}" prefork=${s.prefork}`), "}", "EVENTS {", "}", ""].join("\n"),
    );
    const limit = opts.nofile ? ["prlimit", `--nofile=${opts.nofile}:${opts.nofile}`, "--"] : [];
    const cmd = [...limit, ...asUser(opts.account, [MASTER, "-C", opts.confPath, "-M", cyrusConf, "-p", join(opts.dir, `master-${opts.tag}.pid`)])];
    const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    let err = "";
    void (async () => {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err = (err + new TextDecoder().decode(chunk)).slice(-4000);
    })();
    const master = new RunningMaster(proc, () => err);
    try {
      for (const s of opts.services) await waitPort(s.port, `master (${s.name})`, () => proc.exitCode === null);
    } catch (error) {
      await master.stop();
      throw new Error(`${(error as Error).message}; master stderr: ${err.slice(-1000)}`);
    }
    return master;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The service processes master has forked (master itself excluded). */
  children(): number[] {
    return descendants(this.proc.pid);
  }

  stderr(): string {
    return this.stderrText();
  }

  /** SIGTERM (master ends its children); SIGKILL to the whole tree past the deadline. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const tree = this.children();
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const pid of [...this.children(), ...tree]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      this.proc.kill("SIGKILL");
    }, STOP_TIMEOUT_MS);
    await this.proc.exited;
    clearTimeout(timer);
    // children master did not wait for (it exits once it has signalled them)
    for (let i = 0; i < 200 && tree.some((pid) => existsSync(`/proc/${pid}`)); i++) await Bun.sleep(25);
    for (const pid of tree) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}
