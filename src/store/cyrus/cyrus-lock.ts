/**
 * The POSIX record locks Cyrus takes on its own files (lib/lock_fcntl.c): always the whole file
 * (start 0, length 0), shared for readers and exclusive for writers. Cyrus blocks in F_SETLKW;
 * we poll F_SETLK on a timer so that one waiting session never stalls the others in this process.
 *
 * POSIX locks belong to the process: two sessions of ours never conflict through fcntl, and closing
 * any descriptor of a file drops every lock the process holds on it. So sessions of one process
 * take turns on a per-path mutex before touching a file's lock, and only the holder opens the file.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { fcntlGetLock, fcntlSetLock } from "../../sys/libc.ts";

export type LockMode = "shared" | "exclusive";

/** Long enough for Cyrus to rewrite a big index, short enough to answer the POP client in time. */
export const CYRUS_LOCK_TIMEOUT_MS = 20_000;
const RETRY_FIRST_MS = 2;
const RETRY_MAX_MS = 50;
/** Cyrus creates lock files 0666 and their directories 0755, both filtered by the umask (mboxname_lock). */
const LOCK_FILE_MODE = 0o666;
const LOCK_DIR_MODE = 0o755;

export class CyrusLockTimeoutError extends Error {
  constructor(
    readonly path: string,
    mode: LockMode,
    detail: string,
  ) {
    super(`timed out waiting for a ${mode} lock on ${path}${detail}`);
    this.name = "CyrusLockTimeoutError";
  }
}

export interface HeldLock {
  readonly path: string;
  /** The descriptor the lock lives on; valid until release(). */
  readonly fd: number;
  release(): void;
}

const pathMutexes = new Map<string, Array<() => void>>();

async function enterPath(path: string, deadline: number, mode: LockMode): Promise<void> {
  const waiters = pathMutexes.get(path);
  if (waiters === undefined) {
    pathMutexes.set(path, []);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const grant = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      const at = waiters.indexOf(grant);
      if (at >= 0) waiters.splice(at, 1);
      reject(new CyrusLockTimeoutError(path, mode, " (held by another session of this process)"));
    }, Math.max(0, deadline - Date.now()));
    waiters.push(grant);
  });
}

function leavePath(path: string): void {
  const waiters = pathMutexes.get(path);
  if (waiters === undefined) return;
  const next = waiters.shift();
  if (next === undefined) pathMutexes.delete(path);
  else next();
}

function holderOf(fd: number, type: "read" | "write"): string {
  try {
    const holder = fcntlGetLock(fd, type);
    return holder === null ? "" : ` (held by pid ${holder.pid})`;
  } catch {
    return "";
  }
}

async function fcntlWait(fd: number, path: string, mode: LockMode, deadline: number): Promise<void> {
  const type = mode === "exclusive" ? "write" : "read";
  let delay = RETRY_FIRST_MS;
  while (!fcntlSetLock(fd, type)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new CyrusLockTimeoutError(path, mode, holderOf(fd, type));
    await Bun.sleep(Math.min(delay, remaining));
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  }
}

function heldLock(path: string, fd: number): HeldLock {
  let released = false;
  return {
    path,
    fd,
    release() {
      if (released) return;
      released = true;
      try {
        closeSync(fd); // drops the fcntl lock
      } finally {
        leavePath(path);
      }
    },
  };
}

function openLockFile(path: string): number {
  const flags = constants.O_RDWR | constants.O_CREAT;
  try {
    return openSync(path, flags, LOCK_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(dirname(path), { recursive: true, mode: LOCK_DIR_MODE });
    return openSync(path, flags, LOCK_FILE_MODE);
  }
}

/**
 * A Cyrus name lock (mboxname_lock): `path` is created, with its directories, if missing. Lock
 * files are never replaced, so the descriptor's inode is the path's.
 */
export async function lockNameFile(path: string, mode: LockMode, timeoutMs = CYRUS_LOCK_TIMEOUT_MS): Promise<HeldLock> {
  const deadline = Date.now() + timeoutMs;
  await enterPath(path, deadline, mode);
  let fd = -1;
  try {
    fd = openLockFile(path);
    await fcntlWait(fd, path, mode, deadline);
    return heldLock(path, fd);
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    leavePath(path);
    throw error;
  }
}

/**
 * A lock on an existing data file that Cyrus may replace by rename (twoskip checkpoints, quota
 * files): after locking, the descriptor must still be the file at `path`, or we reopen and retry,
 * as Cyrus's mappedfile and lock_reopen do. `writable` opens it read-write.
 */
export async function lockDataFile(
  path: string,
  mode: LockMode,
  writable: boolean,
  timeoutMs = CYRUS_LOCK_TIMEOUT_MS,
): Promise<HeldLock> {
  const deadline = Date.now() + timeoutMs;
  await enterPath(path, deadline, mode);
  let fd = -1;
  try {
    for (;;) {
      fd = openSync(path, writable ? constants.O_RDWR : constants.O_RDONLY);
      await fcntlWait(fd, path, mode, deadline);
      if (fstatSync(fd).ino === statSync(path).ino) return heldLock(path, fd);
      closeSync(fd);
      fd = -1;
    }
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    leavePath(path);
    throw error;
  }
}

/** Locks taken in order and released in reverse, as Cyrus nests them. */
export class LockStack {
  private readonly held: HeldLock[] = [];

  push(lock: HeldLock): HeldLock {
    this.held.push(lock);
    return lock;
  }

  releaseAll(): void {
    let failure: unknown;
    while (this.held.length > 0) {
      try {
        this.held.pop()!.release();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
