/**
 * The ways a POP3 service is run in the comparison, each started fresh when a figure needs it:
 * under the real Cyrus master — Cyrus's own pop3d, our binary one session a process (today's and
 * the baseline commit's), our binary with `pop3_sessions_per_process: 200` — and our standalone
 * server with one and with two workers. A started service says which processes are its own (for
 * PSS) and what CPU the whole tree has used (master included: forking is part of the cost).
 */
import { existsSync } from "node:fs";
import { freePort, RunningMaster, waitPort, type ServiceLine } from "./cyrus-master.ts";
import type { Credentials } from "./loadgen.ts";
import { CYRUS_POP3D, type ModesEnv } from "./modes-env.ts";
import { descendants, treeCpuSeconds } from "./proc-tree.ts";
import { timeToFirstLine } from "./scenarios/stdio-greeting.ts";

export type ModeId = "cyrus" | "baseline" | "spp1" | "spp200" | "workers1" | "workers2" | "systemd" | "inetd";

export interface ModeSpec {
  id: ModeId;
  /** Column heading in the tables. */
  label: string;
  /** "inherited": the listening socket is handed over, as systemd (fd 3, LISTEN_FDS) or inetd wait=yes (fd 0) do. */
  kind: "master" | "standalone" | "inherited";
  activation?: "systemd" | "inetd";
  /** Only these steps are measured for the mode (all when absent). */
  steps?: string[];
  /** Sessions one process serves at once (1: a process per connection). */
  sessionsPerProcess: number;
  /** Our binary (current or baseline), or Cyrus's pop3d. */
  program: "current" | "baseline" | "cyrus";
  /** cyrus.conf `prefork=`. */
  prefork: number;
  /** Extra words on the service's cmd= line. */
  args: string[];
  workers?: number;
}

export const SESSIONS_PER_PROCESS_MULTI = 200;

/**
 * One-session modes use Debian's cyrus.conf pop3 line (`pop3d -U 30`, prefork=0) without its
 * maxchild=50, so hundreds of connections can be opened; the 200-a-process mode uses the line
 * docs/install.md gives operators (`-U 100000`, prefork=2: one process per core).
 */
const DEBIAN = { prefork: 0, args: ["-U", "30"] };

export const MODES: Record<ModeId, ModeSpec> = {
  cyrus: { id: "cyrus", label: "Cyrus 3.6 pop3d (master)", kind: "master", sessionsPerProcess: 1, program: "cyrus", ...DEBIAN },
  baseline: { id: "baseline", label: "ours @1f8c01c, 1/process (master)", kind: "master", sessionsPerProcess: 1, program: "baseline", ...DEBIAN },
  spp1: { id: "spp1", label: "ours, 1/process (master)", kind: "master", sessionsPerProcess: 1, program: "current", ...DEBIAN },
  spp200: { id: "spp200", label: "ours, 200/process (master)", kind: "master", sessionsPerProcess: SESSIONS_PER_PROCESS_MULTI, program: "current", prefork: 2, args: ["-U", "100000"] },
  workers1: { id: "workers1", label: "ours standalone, 1 worker", kind: "standalone", sessionsPerProcess: Infinity, program: "current", prefork: 0, args: [], workers: 1 },
  workers2: { id: "workers2", label: "ours standalone, 2 workers", kind: "standalone", sessionsPerProcess: Infinity, program: "current", prefork: 0, args: [], workers: 2 },
  // launch modes measured for their behaviour at the fd limit only (issue figures); -T: inetd's idle exit
  systemd: { id: "systemd", label: "ours, systemd socket (Accept=no)", kind: "inherited", activation: "systemd", sessionsPerProcess: Infinity, program: "current", prefork: 0, args: [], steps: ["greeting", "fdlimit"] },
  inetd: { id: "inetd", label: "ours, inetd wait=yes", kind: "inherited", activation: "inetd", sessionsPerProcess: Infinity, program: "current", prefork: 0, args: ["-T", "600"], steps: ["greeting", "fdlimit"] },
};

/**
 * What systemd (Accept=no) and inetd (wait = yes) do before exec: bind and listen, put the socket
 * on fd 3 with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, or on fd 0. Python's execv keeps the pid, so
 * LISTEN_PID is right.
 */
const ACTIVATOR = [
  "import os, socket, sys",
  "port, fd, how = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]",
  "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
  "s.bind(('127.0.0.1', port)); s.listen(1024)",
  "if s.fileno() != fd: os.dup2(s.fileno(), fd)",
  "os.set_inheritable(fd, True)",
  "if how == 'systemd': os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES='pop3')",
  "os.execv(sys.argv[4], sys.argv[4:])",
].join("\n");

export interface ServiceOptions {
  /** Master: a second service with -U 1, so every connection to it gets a freshly forked process. */
  fresh?: boolean;
  /** A listener that expects a HAProxy PROXY header (-H under master, --listen-proxy standalone). */
  proxy?: boolean;
  /** Lower fd limit for every server process. */
  nofile?: number;
  /** Override the mode's prefork (master). */
  prefork?: number;
}

export interface Service {
  spec: ModeSpec;
  port: number;
  freshPort?: number;
  proxyPort?: number;
  rootPid: number;
  /** Processes whose memory is the service's: master's children, or standalone parent + workers. */
  servicePids(): number[];
  cpuSeconds(): number;
  stop(): Promise<void>;
  stderr(): string;
}

export interface Programs {
  current: string;
  baseline?: string;
}

/** Credentials a mode's server knows: Cyrus's pop3d reads its own mailboxes and sasldb. */
export function usersFor(env: ModesEnv, spec: ModeSpec): { load: Credentials[]; idle: Credentials[] } {
  return spec.program === "cyrus" ? { load: env.cyrusLoadUsers, idle: env.cyrusIdleUsers } : { load: env.loadUsers, idle: env.idleUsers };
}

let started = 0;

export async function startService(env: ModesEnv, spec: ModeSpec, programs: Programs, opts: ServiceOptions = {}): Promise<Service> {
  const tag = `${spec.id}-${++started}`;
  const exe = spec.program === "cyrus" ? CYRUS_POP3D : spec.program === "baseline" ? programs.baseline : programs.current;
  if (!exe || !existsSync(exe)) throw new Error(`${spec.id}: program ${exe ?? "(none)"} missing`);
  if (spec.kind === "master") {
    const conf = spec.program === "cyrus" ? env.confPath : env.variantConf(spec.id, { pop3_sessions_per_process: String(spec.sessionsPerProcess) });
    const port = freePort();
    const services: ServiceLine[] = [{ name: "pop3", cmd: [exe, "-C", conf, ...spec.args].join(" "), port, prefork: opts.prefork ?? spec.prefork }];
    const freshPort = opts.fresh ? freePort() : undefined;
    if (freshPort) services.push({ name: "pop3fresh", cmd: `${exe} -C ${conf} -U 1`, port: freshPort, prefork: 0 });
    const proxyPort = opts.proxy ? freePort() : undefined;
    if (proxyPort) services.push({ name: "pop3proxy", cmd: [exe, "-C", conf, ...spec.args, "-H"].join(" "), port: proxyPort, prefork: opts.prefork ?? spec.prefork });
    const master = await RunningMaster.start({ dir: env.dir, confPath: env.confPath, account: env.account, services, nofile: opts.nofile, tag });
    return {
      spec,
      port,
      freshPort,
      proxyPort,
      rootPid: master.pid,
      servicePids: () => master.children(),
      cpuSeconds: () => treeCpuSeconds(master.pid),
      stop: () => master.stop(),
      stderr: () => master.stderr(),
    };
  }
  const conf = env.variantConf(spec.id, { pop3_workers: String(spec.workers ?? 1) });
  const port = freePort();
  const proxyPort = opts.proxy ? freePort() : undefined;
  const limit = opts.nofile ? ["prlimit", `--nofile=${opts.nofile}:${opts.nofile}`, "--"] : [];
  const cmd =
    spec.kind === "inherited"
      ? [...limit, "python3", "-c", ACTIVATOR, String(port), spec.activation === "systemd" ? "3" : "0", spec.activation!, exe, "-C", conf, ...spec.args]
      : [...limit, exe, "-C", conf, "--listen", `127.0.0.1:${port}`, ...(proxyPort ? ["--listen-proxy", `127.0.0.1:${proxyPort}`] : [])];
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr) err = (err + new TextDecoder().decode(chunk)).slice(-4000);
  })();
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const tree = descendants(proc.pid);
    proc.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const pid of tree) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      proc.kill("SIGKILL");
    }, 20_000);
    await proc.exited;
    clearTimeout(timer);
  };
  try {
    await waitPort(port, `standalone ${spec.id}`, () => proc.exitCode === null);
    if (proxyPort) await waitPort(proxyPort, `standalone ${spec.id} (proxy listener)`, () => proc.exitCode === null);
    // an inherited socket listens before the server runs: only a greeting shows it serves
    if (spec.kind === "inherited") {
      await timeToFirstLine(port).catch((e: Error) => {
        throw new Error(`${spec.id}: no greeting on the inherited socket (${e.message}); exit ${proc.exitCode}`);
      });
    }
    // every worker up before anything is measured: the tree holds at least `workers` processes
    // (whether the parent serves too or only supervises) and has stopped growing
    const deadline = Date.now() + 5_000;
    let size = 0;
    let stableSince = Date.now();
    while ((spec.workers ?? 1) > 1 && Date.now() < deadline) {
      const now = 1 + descendants(proc.pid).length;
      if (now !== size) [size, stableSince] = [now, Date.now()];
      if (size >= spec.workers! && Date.now() - stableSince >= 300) break;
      await Bun.sleep(25);
    }
    // a binary without pop3_workers would serve from one process: never label that "2 workers"
    if ((spec.workers ?? 1) > 1 && size < spec.workers!) throw new Error(`${spec.id}: ${size} process(es) after 5 s, not ${spec.workers} workers`);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; stderr: ${err.slice(-1000)}`);
  }
  return {
    spec,
    port,
    proxyPort,
    rootPid: proc.pid,
    servicePids: () => [proc.pid, ...descendants(proc.pid)],
    cpuSeconds: () => treeCpuSeconds(proc.pid),
    stop,
    stderr: () => err,
  };
}

/** Start, run, always stop. */
export async function withService<T>(env: ModesEnv, spec: ModeSpec, programs: Programs, opts: ServiceOptions, run: (svc: Service) => Promise<T>): Promise<T> {
  const svc = await startService(env, spec, programs, opts);
  try {
    return await run(svc);
  } finally {
    await svc.stop();
  }
}
