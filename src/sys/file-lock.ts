/**
 * Advisory whole-file locks that other processes honour (POSIX fcntl, as Cyrus uses), taken without
 * ever blocking the JS thread: F_SETLKW would stall every session in the process (bun-findings §8),
 * so a refused F_SETLK is retried on a timer.
 */
import { closeSync, constants, openSync } from "node:fs";
import { fcntlGetLock, fcntlSetLock } from "./libc.ts";

/** Long enough for a peer to rewrite a large uid list, short enough to answer the client in time. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** First retry comes quickly (most holders finish in a few ms); later ones back off to this cap. */
const LOCK_RETRY_FIRST_MS = 2;
const LOCK_RETRY_MAX_MS = 50;
/** Lock files are private to the mail user, like the mail itself. */
const LOCK_FILE_MODE = 0o600;

export class FileLockTimeoutError extends Error {
  constructor(
    readonly path: string,
    type: "read" | "write",
    timeoutMs: number,
    holder: string,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for a ${type} lock on ${path}${holder}`);
    this.name = "FileLockTimeoutError";
  }
}

/**
 * POSIX locks never conflict inside one process, and closing any descriptor of the file drops all
 * of the process's locks on it, so sessions of the same process take turns on a per-path mutex
 * before touching the fcntl lock.
 */
interface PathMutex {
  waiters: Array<() => void>;
}
const heldPaths = new Map<string, PathMutex>();

/** Wait for this process's turn on `path` (other in-process holders), until `deadline`. */
export async function acquireProcessTurn(path: string, deadline: number, onTimeout: () => Error): Promise<void> {
  const mutex = heldPaths.get(path);
  if (mutex === undefined) {
    heldPaths.set(path, { waiters: [] });
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const grant = (): void => {
      clearTimeout(timer);
      resolve();
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
  return heldPaths.has(path);
}

export function releaseProcessTurn(path: string): void {
  const mutex = heldPaths.get(path);
  if (mutex === undefined) return;
  const next = mutex.waiters.shift();
  if (next === undefined) heldPaths.delete(path);
  else next();
}

function describeHolder(fd: number, type: "read" | "write"): string {
  try {
    const holder = fcntlGetLock(fd, type);
    return holder === null ? "" : ` (held by pid ${holder.pid})`;
  } catch {
    return "";
  }
}

/** F_SETLK retried on a backing-off timer until `deadline`; `onTimeout` gets " (held by pid N)". */
export async function waitForFcntlLock(
  fd: number,
  type: "read" | "write",
  deadline: number,
  onTimeout: (holder: string) => Error,
): Promise<void> {
  let delay = LOCK_RETRY_FIRST_MS;
  while (!fcntlSetLock(fd, type)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw onTimeout(describeHolder(fd, type));
    await Bun.sleep(Math.min(delay, remaining));
    delay = Math.min(delay * 2, LOCK_RETRY_MAX_MS);
  }
}

/**
 * Run `fn` holding a lock on `path` (created if missing). The lock is released and the file closed
 * however `fn` ends. Not re-entrant: nesting a lock on the same path in one process deadlocks until
 * the timeout.
 */
export async function withFileLock<T>(
  path: string,
  type: "read" | "write",
  fn: () => T | Promise<T>,
  timeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  await acquireProcessTurn(path, deadline, () => new FileLockTimeoutError(path, type, timeoutMs, " (held in this process)"));
  try {
    const access = type === "write" ? constants.O_RDWR : constants.O_RDONLY;
    const fd = openSync(path, access | constants.O_CREAT, LOCK_FILE_MODE);
    try {
      await waitForFcntlLock(fd, type, deadline, (holder) => new FileLockTimeoutError(path, type, timeoutMs, holder));
      return await fn();
    } finally {
      // Closing the descriptor releases the lock (POSIX), even if fn left the file in a bad state.
      closeSync(fd);
    }
  } finally {
    releaseProcessTurn(path);
  }
}
