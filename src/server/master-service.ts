/**
 * Running under Cyrus master(8) (master/service.c): master hands us a listening socket on fd 4 and a status pipe
 * on fd 3. Like service.c we accept one connection at a time (serialised across preforked siblings
 * by an fcntl lock), tell master UNAVAILABLE/CONNECTION/AVAILABLE with 8-byte messages, serve at
 * most -U sessions, exit after -T idle seconds once we have served one, and reuse the process only
 * after a clean QUIT.
 */
import { closeSync, openSync, statSync, writeSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Log } from "../log/log.ts";
import { exitCodeFor } from "../pop3/session-io.ts";
import { acceptConnection, closeFd, errnoName, fcntlSetLock, isListeningSocket, pollReadable, setNonBlocking, EAGAIN, EINTR } from "../sys/libc.ts";
import { fcntlLockWait } from "../sys/file-lock.ts";
import { serveFd, type FdSessionOptions } from "./fd-session.ts";
import { FULL_REFUSAL } from "./refuse-when-full.ts";

export const STATUS_FD = 3;
export const LISTEN_FD = 4;

/** master/service.h message codes. */
export const MASTER_SERVICE_AVAILABLE = 0x01;
export const MASTER_SERVICE_UNAVAILABLE = 0x02;
export const MASTER_SERVICE_CONNECTION = 0x03;
/** master.c: a connection served by a process that stays READY (master/service-thread.c). */
export const MASTER_SERVICE_CONNECTION_MULTI = 0x04;

/** How long one poll(2) may block the JS thread: signals and timers run between slices. */
const POLL_SLICE_MS = 200;
/** Out of descriptors: wait this long before accepting again (the backlog holds the clients). */
const DESCRIPTOR_SHORTAGE_PAUSE_MS = 100;
/** At most one "out of descriptors" log line per this interval. */
const DESCRIPTOR_SHORTAGE_LOG_MS = 10_000;
/** sysexits.h: service.c exits EX_OSERR when accept fails for good. */
export const EX_OSERR = 71;
const EMFILE = 24;
const ENFILE = 23;

function openSpare(): number {
  try {
    return openSync("/dev/null", "r");
  } catch {
    return -1;
  }
}

/**
 * fd 4 must be a listening socket: anything else (a pipe, a closed fd) can never accept, and
 * service.c exits EX_OSERR with "accept failed". It is made non-blocking, so that a sibling that
 * loses the race for a connection gets EAGAIN instead of freezing its JS thread in accept(2).
 */
export function checkListenFd(log: Log): boolean {
  if (!isListeningSocket(LISTEN_FD)) {
    log.err(`accept failed: fd ${LISTEN_FD} is not a listening socket`);
    return false;
  }
  try {
    setNonBlocking(LISTEN_FD);
  } catch (error) {
    log.err(`accept failed: ${(error as Error).message}`);
    return false;
  }
  return true;
}

/** accept(2) errors service.c retries instead of exiting 71. */
const TRANSIENT_ACCEPT_ERRORS = new Set([EINTR, EAGAIN, 103 /* ECONNABORTED */, 71 /* EPROTO */, 100 /* ENETDOWN */,
  92 /* ENOPROTOOPT */, 112 /* EHOSTDOWN */, 64 /* ENONET */, 113 /* EHOSTUNREACH */, 95 /* EOPNOTSUPP */, 101 /* ENETUNREACH */,
  105 /* ENOBUFS */, 12 /* ENOMEM */]);

export interface MasterOptions {
  service: string;
  id: string;
  configDirectory: string;
  /** -U: 0 and 1 both mean one session (master/service.c:main). */
  maxUses: number;
  /** -T seconds; 0 disables. */
  reuseTimeout: number;
  /** How each accepted connection is served (PROXY header, TLS, session deps). */
  session: FdSessionOptions;
  log: Log;
}

export function notifyMaster(message: number): void {
  const buf = Buffer.alloc(8);
  buf.writeInt32LE(message, 0);
  buf.writeInt32LE(process.pid, 4);
  try {
    writeSync(STATUS_FD, buf);
  } catch {
    // master gone: SIGCHLD bookkeeping is its problem, serving the client is ours
  }
}

/**
 * service.c computes `T + rand() % T` before srand(), so glibc's first rand() (1804289383) makes
 * it deterministic: 103 s for T = 60 (master/service.c:main). We keep the same figure.
 */
export function effectiveReuseTimeout(seconds: number): number {
  return seconds > 0 ? seconds + (1804289383 % seconds) : 0;
}

interface ExecutableStamp {
  ino: number;
  size: number;
  mtimeMs: number;
}

function stampOf(path: string): ExecutableStamp | undefined {
  try {
    const st = statSync(path);
    return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

/** service.c gives up when its own executable was replaced (inode, size or mtime changed). */
export function executableWatcher(path = process.execPath): () => boolean {
  const stamp = stampOf(path);
  return () => {
    if (!stamp) return false;
    const now = stampOf(path);
    return !now || now.ino !== stamp.ino || now.size !== stamp.size || now.mtimeMs !== stamp.mtimeMs;
  };
}

export class MasterService {
  private hangup = false;
  private uses = 0;
  private waiting = false;
  private readonly executableChanged = executableWatcher();
  private lockFd = -1;
  private spareFd = -1;
  private lastShortageLog = 0;
  private readonly hangupSignal = new AbortController();

  constructor(private readonly o: MasterOptions) {}

  /** SIGHUP: exit now if waiting for a connection, otherwise after the session's QUIT (lib/signals.c). */
  onHangup(): void {
    this.hangup = true;
    this.hangupSignal.abort();
  }

  get isWaiting(): boolean {
    return this.waiting;
  }

  async run(): Promise<number> {
    this.openAcceptLock();
    this.spareFd = openSpare();
    const limit = Math.max(1, this.o.maxUses);
    const reuseSeconds = effectiveReuseTimeout(this.o.reuseTimeout);
    for (;;) {
      const fd = await this.acceptOne(this.uses > 0 ? reuseSeconds : 0);
      if (fd < 0) return 0;
      notifyMaster(MASTER_SERVICE_UNAVAILABLE);
      notifyMaster(MASTER_SERVICE_CONNECTION);
      this.uses++;
      const outcome = await serveFd(fd, this.o.session);
      if ("exitCode" in outcome) return outcome.exitCode;
      // a session that did not end with QUIT has exited the process in Cyrus (shut_down)
      if (outcome.end !== "quit") return exitCodeFor(outcome.end);
      if (this.hangup || this.uses >= limit) return 0;
      notifyMaster(MASTER_SERVICE_AVAILABLE);
    }
  }

  /** The next connection's fd, or -1 when we should exit (signal, reuse timeout, new binary). */
  private async acceptOne(reuseSeconds: number): Promise<number> {
    this.waiting = true;
    const deadline = reuseSeconds > 0 ? Date.now() + reuseSeconds * 1000 : Infinity;
    try {
      if (!(await this.lockAccept(deadline))) return -1;
      try {
        for (;;) {
          if (this.hangup || Date.now() >= deadline) return -1;
          if (this.executableChanged()) {
            this.o.log.notice("process file has changed");
            return -1;
          }
          if (pollReadable(LISTEN_FD, POLL_SLICE_MS)) {
            const fd = acceptConnection(LISTEN_FD);
            if (fd >= 0) return fd;
            if (-fd === EMFILE || -fd === ENFILE) {
              // poll stays readable while we cannot accept: refuse this one client and pause
              this.refuseWithSpareFd(-fd);
              await Bun.sleep(DESCRIPTOR_SHORTAGE_PAUSE_MS);
              continue;
            }
            if (!TRANSIENT_ACCEPT_ERRORS.has(-fd)) {
              this.o.log.err(`accept failed: ${errnoName(-fd)}`);
              process.exit(EX_OSERR);
            }
          }
          // let signal handlers and timers run between poll slices
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        this.unlockAccept();
      }
    } finally {
      this.waiting = false;
    }
  }

  /** `<configdirectory>/socket/<service>-<id>.lock`; without it locking is disabled, as in service.c. */
  private openAcceptLock(): void {
    const path = join(this.o.configDirectory, "socket", `${this.o.service}-${this.o.id}.lock`);
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.lockFd = openSync(path, "a", 0o600);
    } catch (error) {
      this.o.log.err(`locking disabled: couldn't open socket lockfile ${path}: ${(error as Error).message}`);
      this.lockFd = -1;
    }
  }

  /**
   * Out of descriptors (EMFILE/ENFILE): give up the spare one, accept the waiting client, answer
   * it with the -ERR of refuse-when-full.ts and close it (it learns why instead of waiting in the
   * backlog), then take the spare back. Without this, poll reports the listener readable forever and the loop spins.
   */
  private refuseWithSpareFd(code: number): void {
    if (this.spareFd >= 0) {
      closeSync(this.spareFd);
      const fd = acceptConnection(LISTEN_FD);
      if (fd >= 0) {
        try {
          writeSync(fd, FULL_REFUSAL);
        } catch {
          // the client is gone already; closing is all that is left
        }
        closeFd(fd);
      }
      this.spareFd = openSpare();
    }
    const now = Date.now();
    if (now - this.lastShortageLog >= DESCRIPTOR_SHORTAGE_LOG_MS) {
      this.lastShortageLog = now;
      this.o.log.err(`accept failed: ${errnoName(code)}; refusing connections until descriptors free up`);
    }
  }

  /** Idle siblings wait with the shared back-off (store's fcntl wait); SIGHUP ends the wait at once. */
  private async lockAccept(deadline: number): Promise<boolean> {
    if (this.lockFd < 0) return true;
    if (this.hangup) return false;
    return fcntlLockWait(this.lockFd, "write", { deadline, signal: this.hangupSignal.signal });
  }

  private unlockAccept(): void {
    if (this.lockFd >= 0) fcntlSetLock(this.lockFd, "unlock");
  }

  close(): void {
    if (this.lockFd >= 0) closeSync(this.lockFd);
    this.lockFd = -1;
  }
}
