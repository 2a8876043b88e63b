/**
 * Standalone mode on every core (`pop3_workers`): the supervisor binds every listening socket once
 * and runs that many worker processes of this same binary. Each worker gets the sockets as
 * inherited fds (3, 4, …), reads its config and certificates as the supervisor could, leaves root
 * (`pop3_run_as`) and serves sessions; the kernel hands each connection to one worker. The
 * supervisor serves no client, so it keeps the privileges it started with, to restart workers. Signals sent to the supervisor reach
 * every worker; a worker that dies is logged and restarted; logins are counted across workers
 * through the proc files. See docs/launch-modes.md.
 */
import type { Subprocess } from "bun";
import type { Log } from "../log/log.ts";
import { closeFd, listenTcp, signalOnParentDeath } from "../sys/libc.ts";
import type { ProcessSignals } from "./signals.ts";
import type { ListenAddress } from "./standalone.ts";

/** Set in a worker's environment: the listeners it inherits, as JSON. */
export const WORKER_ENV = "POP3D_WORKER_LISTENERS";
/** Set in a worker's environment: the supervisor's pid. */
export const SUPERVISOR_ENV = "POP3D_SUPERVISOR";
/** The first inherited listener fd in a worker (after stdin, stdout, stderr). */
const FIRST_WORKER_FD = 3;
/** In a worker: the supervisor's pid, from SUPERVISOR_ENV. */
let supervisorPid = 0;
const EX_USAGE = 64;
const EX_CONFIG = 78;
/** A worker that keeps dying is restarted at most this often, so a broken one cannot spin. */
const RESTART_DELAY_MS = 1000;

/** In a worker: the listeners it inherited; undefined in any other process. */
export function workerListeners(): ListenAddress[] | undefined {
  const text = process.env[WORKER_ENV];
  if (text === undefined) return undefined;
  delete process.env[WORKER_ENV];
  supervisorPid = Number(process.env[SUPERVISOR_ENV]);
  delete process.env[SUPERVISOR_ENV];
  return JSON.parse(text) as ListenAddress[];
}

const SIGKILL = 9;

/**
 * In a worker, once it has left root: die with the supervisor, so that no worker outlives a
 * supervisor killed with SIGKILL and keeps serving (or holding mailbox locks) on its own.
 */
export function dieWithSupervisor(): void {
  signalOnParentDeath(SIGKILL);
  // the supervisor may have died before the line above: then we are an orphan already
  if (process.ppid !== supervisorPid) process.exit(0);
}

export interface SupervisorOptions {
  addresses: ListenAddress[];
  workers: number;
  log: Log;
  signals: ProcessSignals;
}

export async function runSupervisor(o: SupervisorOptions): Promise<number> {
  const bound: { fd: number; address: ListenAddress }[] = [];
  for (const address of o.addresses) {
    const { fd, port } = listenTcp(address.hostname, address.port);
    bound.push({ fd, address: { ...address, port } });
    const shown = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
    const text = `${shown}:${port}${address.tls ? " (tls)" : ""}${address.proxy ? " (proxy)" : ""}`;
    process.stdout.write(`pop3d: listening on ${text}\n`);
    o.log.info(`listening on ${text}`);
  }
  const inherited = bound.map((b, i) => ({ ...b.address, fd: FIRST_WORKER_FD + i }));
  const env = { ...process.env, [WORKER_ENV]: JSON.stringify(inherited), [SUPERVISOR_ENV]: String(process.pid) };
  const argv = [process.execPath, ...process.argv.slice(2)];
  const running = new Map<number, Subprocess>();
  let stopping = false;
  let exitWith = 0;
  let done: ((code: number) => void) | undefined;

  const start = (slot: number): void => {
    const child = Bun.spawn(argv, {
      env,
      stdio: ["ignore", "inherit", "inherit", ...bound.map((b) => b.fd)] as never,
      onExit: (proc, exitCode, signalCode) => {
        running.delete(slot);
        if (stopping) {
          if (running.size === 0) done?.(exitWith);
          return;
        }
        if (exitCode === EX_USAGE || exitCode === EX_CONFIG) {
          // a worker that cannot start never will: stop them all with its reason
          o.log.err(`worker ${proc.pid} could not start (status ${exitCode}); stopping`);
          stopping = true;
          for (const other of running.values()) other.kill("SIGTERM");
          exitWith = exitCode;
          if (running.size === 0) done?.(exitCode);
          return;
        }
        o.log.err(`worker ${proc.pid} exited (${signalCode ?? `status ${exitCode}`}); restarting it`);
        setTimeout(() => {
          if (!stopping) start(slot);
        }, RESTART_DELAY_MS);
      },
    });
    running.set(slot, child);
  };
  for (let slot = 0; slot < o.workers; slot++) start(slot);
  o.log.notice(`serving with ${o.workers} worker processes`);

  return new Promise<number>((resolve) => {
    done = resolve;
    o.signals.onHangup(() => {
      for (const child of running.values()) child.kill("SIGHUP");
    });
    o.signals.onTerminate((signal) => {
      stopping = true;
      for (const b of bound) closeFd(b.fd);
      if (running.size === 0) return resolve(0);
      for (const child of running.values()) child.kill(signal);
    });
  });
}
