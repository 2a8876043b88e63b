/**
 * The one way this server waits for a POSIX fcntl lock (the kind Cyrus takes, lib/lock_fcntl.c),
 * and the in-process lock table every such lock goes through.
 *
 * Waiting never blocks the JS thread: F_SETLKW would stall every session of the process, so a
 * refused F_SETLK is retried on a timer that backs off (retryWithBackoff). Everything that waits
 * for a lock — the stores, Cyrus's sync log and quota files, master's accept lock — goes through
 * fcntlLockWait or lockFile below.
 *
 * POSIX locks belong to the process: they never conflict between two sessions of one process, and
 * closing ANY descriptor of a file drops all of the process's locks on it. So sessions take turns
 * per path (the in-process lock table) before they open the file and touch its lock.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fcntlGetLock, fcntlSetLock } from "./libc.ts";

/** Long enough for a peer to rewrite a large uid list, short enough to answer the client in time. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** First retry comes quickly (most holders finish in a few ms); later ones back off to the cap. */
export const LOCK_RETRY_FIRST_MS = 2;
/** Cap between retries: a waiter costs at most 20 wake-ups a second. */
export const LOCK_RETRY_MAX_MS = 50;
/** Lock files are private to the mail user, like the mail itself. */
const LOCK_FILE_MODE = 0o600;

export type FcntlLockType = "read" | "write";

export class FileLockTimeoutError extends Error {
  constructor(
    readonly path: string,
    type: FcntlLockType,
    timeoutMs: number,
    holder: string,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for a ${type} lock on ${path}${holder}`);
    this.name = "FileLockTimeoutError";
  }
}

// ---- the wait ----------------------------------------------------------------------------------

export interface WaitOptions {
  /** Date.now() after which waiting stops; Infinity waits until the signal aborts. */
  readonly deadline: number;
  /** Ends the wait early (SIGHUP, shutdown); a pending retry timer is cancelled at once. */
  readonly signal?: AbortSignal;
  readonly firstRetryMs?: number;
  readonly maxRetryMs?: number;
}

export type WaitOutcome<T> = { readonly done: true; readonly value: T } | { readonly done: false; readonly reason: "timeout" | "aborted" };

function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return Bun.sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((done) => {
    const wake = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", wake);
      done();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener("abort", wake, { once: true });
  });
}

/**
 * Call `attempt` until it returns something other than undefined, sleeping between tries with a
 * doubling delay (capped), without ever blocking the event loop. The one retry loop of the server:
 * fcntl locks, and the mbox's dotlock-plus-fcntl pair, wait through it.
 */
export async function retryWithBackoff<T>(attempt: () => T | undefined, options: WaitOptions): Promise<WaitOutcome<T>> {
  let delay = options.firstRetryMs ?? LOCK_RETRY_FIRST_MS;
  const cap = options.maxRetryMs ?? LOCK_RETRY_MAX_MS;
  for (;;) {
    if (options.signal?.aborted) return { done: false, reason: "aborted" };
    const value = attempt();
    if (value !== undefined) return { done: true, value };
    const remaining = options.deadline - Date.now();
    if (remaining <= 0) return { done: false, reason: "timeout" };
    await sleepUnlessAborted(Math.min(delay, remaining), options.signal);
    delay = Math.min(delay * 2, cap);
  }
}

/**
 * F_SETLK on `fd`, retried until granted, the deadline passes or the signal aborts. Resolves true
 * once the lock is held. fcntl errors other than "held by someone else" are thrown, never ignored.
 */
export async function fcntlLockWait(fd: number, type: FcntlLockType, options: WaitOptions): Promise<boolean> {
  const outcome = await retryWithBackoff(() => (fcntlSetLock(fd, type) ? true : undefined), options);
  return outcome.done;
}

/** " (held by pid N)" for error messages, or "" when nobody (or nothing knowable) holds it. */
export function describeHolder(fd: number, type: FcntlLockType): string {
  try {
    const holder = fcntlGetLock(fd, type);
    return holder === null ? "" : ` (held by pid ${holder.pid})`;
  } catch {
    return "";
  }
}

/** fcntlLockWait that throws `onTimeout(" (held by pid N)")` when the deadline passes. */
export async function waitForFcntlLock(
  fd: number,
  type: FcntlLockType,
  deadline: number,
  onTimeout: (holder: string) => Error,
): Promise<void> {
  if (!(await fcntlLockWait(fd, type, { deadline }))) throw onTimeout(describeHolder(fd, type));
}

// ---- the in-process lock table ----------------------------------------------------------------------

interface PathMutex {
  waiters: Array<() => void>;
}
const heldPaths = new Map<string, PathMutex>();

/** One key per file however it is spelled (`a//b`, `./b`). */
function tableKey(path: string): string {
  return resolve(path);
}

/** Wait for this process's turn on `path` (other in-process holders), until `deadline`. */
export async function acquireProcessTurn(path: string, deadline: number, onTimeout: () => Error): Promise<void> {
  const key = tableKey(path);
  const mutex = heldPaths.get(key);
  if (mutex === undefined) {
    heldPaths.set(key, { waiters: [] });
    return;
  }
  await new Promise<void>((grantTurn, reject) => {
    const grant = (): void => {
      clearTimeout(timer);
      grantTurn();
    };
    const timer = setTimeout(() => {
      const at = mutex.waiters.indexOf(grant);
      if (at >= 0) mutex.waiters.splice(at, 1);
      reject(onTimeout());
    }, Math.max(0, deadline - Date.now()));
    mutex.waiters.push(grant);
  });
}

/** Whether some session of this process holds its turn on `path`. */
export function processTurnHeld(path: string): boolean {
  return heldPaths.has(tableKey(path));
}

export function releaseProcessTurn(path: string): void {
  const key = tableKey(path);
  const mutex = heldPaths.get(key);
  if (mutex === undefined) return;
  const next = mutex.waiters.shift();
  if (next === undefined) heldPaths.delete(key);
  else next();
}

// ---- a held lock on a named file -------------------------------------------------------------------

export interface HeldFileLock {
  readonly path: string;
  /** The descriptor the lock lives on; valid until release(). */
  readonly fd: number;
  /** Close the descriptor (which drops the fcntl lock) and end this process's turn. Idempotent. */
  release(): void;
}

export interface LockFileOptions {
  /** Open read-write (needed for a write lock); default: writable for "write". */
  readonly writable?: boolean;
  /**
   * Create the file (with `mode`) when missing, and its directory too when `dirMode` is given;
   * without `create` a missing file throws ENOENT.
   */
  readonly create?: { readonly mode?: number; readonly dirMode?: number };
  /** Extra open(2) flags, e.g. O_APPEND or O_TRUNC. */
  readonly extraFlags?: number;
  /**
   * Follow a symlink at `path`. Only for files an administrator lays out (Cyrus's configdirectory);
   * files inside a user's mail directory are opened with O_NOFOLLOW.
   */
  readonly followSymlink?: boolean;
  /**
   * The file may be replaced by rename while we wait (Cyrus's twoskip and quota files, the sync log):
   * once locked, the descriptor must still be the file at the path, or it is reopened.
   */
  readonly mayBeReplaced?: boolean;
  readonly timeoutMs?: number;
  /** Builds the error for a timeout; `holder` is " (held by pid N)", " (held in this process)" or "". */
  readonly onTimeout?: (holder: string) => Error;
}

function openForLock(path: string, type: FcntlLockType, options: LockFileOptions): number {
  const writable = options.writable ?? type === "write";
  const flags =
    (writable ? constants.O_RDWR : constants.O_RDONLY) |
    (options.followSymlink ? 0 : constants.O_NOFOLLOW) |
    (options.create ? constants.O_CREAT : 0) |
    (options.extraFlags ?? 0);
  const mode = options.create?.mode ?? LOCK_FILE_MODE;
  try {
    return openSync(path, flags, mode);
  } catch (error) {
    const dirMode = options.create?.dirMode;
    if (dirMode === undefined || (error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(dirname(path), { recursive: true, mode: dirMode });
    return openSync(path, flags, mode);
  }
}

function stillNamed(path: string, fd: number): boolean {
  try {
    const named = statSync(path, { bigint: true });
    const held = fstatSync(fd, { bigint: true });
    return named.ino === held.ino && named.dev === held.dev;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/**
 * Lock the file at `path`: take this process's turn on it, open it, and wait for the fcntl lock,
 * all without blocking the event loop. The caller must release() the result however it ends.
 */
export async function lockFile(path: string, type: FcntlLockType, options: LockFileOptions = {}): Promise<HeldFileLock> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const timeout = (holder: string): Error => options.onTimeout?.(holder) ?? new FileLockTimeoutError(path, type, timeoutMs, holder);
  await acquireProcessTurn(path, deadline, () => timeout(" (held in this process)"));
  let fd = -1;
  try {
    for (;;) {
      fd = openForLock(path, type, options);
      if (!(await fcntlLockWait(fd, type, { deadline }))) throw timeout(describeHolder(fd, type));
      if (!options.mayBeReplaced || stillNamed(path, fd)) break;
      closeSync(fd);
      fd = -1;
      if (Date.now() >= deadline) throw timeout(" (the file kept being replaced)");
    }
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    releaseProcessTurn(path);
    throw error;
  }
  const heldFd = fd;
  let released = false;
  return {
    path,
    fd: heldFd,
    release() {
      if (released) return;
      released = true;
      try {
        closeSync(heldFd); // drops the fcntl lock (POSIX)
      } finally {
        releaseProcessTurn(path);
      }
    },
  };
}

/**
 * Run `fn` holding a lock on `path` (created if missing). The lock is released and the file closed
 * however `fn` ends. Not re-entrant: nesting a lock on the same path in one process deadlocks until
 * the timeout.
 */
export async function withFileLock<T>(
  path: string,
  type: FcntlLockType,
  fn: () => T | Promise<T>,
  timeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
): Promise<T> {
  const lock = await lockFile(path, type, { writable: type === "write", create: { mode: LOCK_FILE_MODE }, timeoutMs });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
