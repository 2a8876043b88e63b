/**
 * Starting Debian's real Cyrus master(8) for a test, in a private mount namespace whose /dev/log is
 * the test's own syslog receiver: master logs only through syslog(3), and a shared /dev/log (a
 * daemon, or another test run) would hide its complaints. Master runs as the service account,
 * because Cyrus refuses to run as root.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, childEnv, collect, exitStatus, ownProcess, waitForListening, type Fixture } from "../../support/harness.ts";
import { SyslogReceiver } from "./syslog-receiver.ts";
import { serviceAccount, serviceDir } from "./support.ts";

const MASTER_CANDIDATES = ["/usr/lib/cyrus/bin/master", "/usr/sbin/cyrmaster"];
export const MASTER_BINARY = MASTER_CANDIDATES.find((p) => existsSync(p));
export const CYR_DENY = ["/usr/lib/cyrus/bin/cyr_deny", "/usr/sbin/cyr_deny"].find((p) => existsSync(p));
export const CYR_INFO = ["/usr/lib/cyrus/bin/cyr_info", "/usr/sbin/cyr_info"].find((p) => existsSync(p));
const HAVE_CYRUS = MASTER_BINARY !== undefined && readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("cyrus:"));
const AS_ROOT = process.getuid?.() === 0;
const HAVE_UNSHARE = existsSync("/usr/bin/unshare");

/** Why the real master cannot run here, or undefined when it can. */
export const REAL_MASTER_UNAVAILABLE: string | undefined = !HAVE_CYRUS
  ? "Cyrus master(8) not installed (apt-get install cyrus-common)"
  : !AS_ROOT
    ? "must start as root to run Cyrus master as the cyrus user"
    : !HAVE_UNSHARE
      ? "unshare(1) missing (util-linux)"
      : undefined;

/** master.c's complaints about what a service tells it, or about how it ended. */
export const MASTER_COMPLAINTS =
  /incorrectly sized|already ready|already busy|ILLEGAL|UNKNOWN state|forced to (BUSY|READY) state|terminated abnormally|unknown service pid|not yet been recycled|signaled to death|exited, status/;

/** Device nodes master and its children may open; everything else in the private /dev is absent. */
const DEVICES = ["null", "zero", "random", "urandom", "full"];

export interface RealMaster {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  /** master's own syslog lines (its pid only). */
  log: SyslogReceiver;
  lines(): string[];
  output(): string;
  /** The binary master runs (a copy the service account can reach). */
  binary: string;
  stop(): Promise<void>;
}

/** Pids whose parent is `parent`, from /proc. */
export function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * Whether every child of `parent` catches SIGHUP and SIGTERM yet (SigCgt in /proc/<pid>/status). A
 * child master forked a moment ago may still be starting up; a signal then kills it outright
 * (master logs "signaled to death"), which is not what the tests are about.
 */
export function childrenReady(parent: number): boolean {
  const wanted = (1n << 0n) | (1n << 14n); // SIGHUP = 1, SIGTERM = 15
  return childrenOf(parent).every((pid) => {
    try {
      const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1];
      return caught !== undefined && (BigInt(`0x${caught}`) & wanted) === wanted;
    } catch {
      return !existsSync(`/proc/${pid}`);
    }
  });
}

export const gone = (pid: number): boolean => !existsSync(`/proc/${pid}`);

/**
 * `service` is the SERVICES line after `pop3 cmd="<binary> -C <conf>` — e.g. `-U 3" prefork=1`;
 * the listen address is filled in.
 */
export async function startRealMaster(
  fx: Fixture,
  port: number,
  service: { args: string; prefork: number; extra?: string },
  /** RLIMIT_NOFILE for master and so for every process it forks (prlimit). */
  nofile?: number,
): Promise<RealMaster> {
  for (const sub of ["socket", "proc", "lock", "log", "db"]) serviceDir(fx, join(fx.dir, "conf", sub));
  const binary = join(fx.dir, "pop3d");
  copyFileSync(BINARY, binary);
  chmodSync(binary, 0o755);
  const cyrusConf = join(fx.dir, "cyrus.conf");
  writeFileSync(
    cyrusConf,
    [
      "START {",
      "}",
      "SERVICES {",
      `  pop3 cmd="${binary} -C ${fx.confPath} ${service.args}" listen="127.0.0.1:${port}" prefork=${service.prefork} ${service.extra ?? ""}`,
      "}",
      "EVENTS {",
      "}",
      "",
    ].join("\n"),
  );
  const dev = join(fx.dir, "dev");
  mkdirSync(dev, { recursive: true });
  const log = await SyslogReceiver.start(join(dev, "log"));
  const account = serviceAccount(fx)!;
  const binds = DEVICES.map((d) => `touch ${dev}/${d} && mount --bind /dev/${d} ${dev}/${d}`).join(" && ");
  const masterArgs = [MASTER_BINARY!, "-C", fx.confPath, "-M", cyrusConf, "-p", join(fx.dir, "master.pid")];
  const limit = nofile === undefined ? "" : `prlimit --nofile=${nofile}:${nofile} `;
  const script = `${binds} && mount --rbind ${dev} /dev && exec ${limit}setpriv --reuid=${account.uid} --regid=${account.gid} --init-groups "$@"`;
  const proc = Bun.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", ...masterArgs], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...childEnv(), CYRUS_VERBOSE: "1" },
  });
  ownProcess(proc);
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  try {
    await waitForListening(port, "Cyrus master", () => proc.exitCode === null && proc.signalCode === null);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${out.text()}${err.text()}\n${log.messages().join("\n")}`);
  }
  const lines = () => log.lines().filter((l) => l.pid === proc.pid).map((l) => l.message);
  return {
    proc,
    port,
    log,
    lines,
    output: () => out.text() + err.text(),
    binary,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await exitStatus(proc);
      }
      await log.stop();
    },
  };
}
