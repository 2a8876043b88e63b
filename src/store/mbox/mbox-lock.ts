/**
 * Locking an mbox the way mail delivery agents do, so that we never read a half-appended message
 * and no delivery lands in a file we are replacing: the dotlock `<mbox>.lock` (dotlock.ts) and an
 * fcntl write lock on the mbox itself — procmail, postfix local(8) and dovecot-lda take both by
 * default. The locks are held only while the mbox is parsed and while a QUIT rewrites
 * it, never across a session, so MDAs can deliver while a client is logged in. When the second lock is busy the first is dropped before
 * waiting, so a program taking them in the other order cannot deadlock with us.
 */
import { closeSync, fstatSync, statSync } from "node:fs";
import { openRegularFile } from "../fs/safe-open.ts";
import {
  acquireProcessTurn,
  DEFAULT_LOCK_TIMEOUT_MS,
  FileLockTimeoutError,
  processTurnHeld,
  releaseProcessTurn,
  retryWithBackoff,
} from "../../sys/file-lock.ts";
import { fcntlSetLock } from "../../sys/libc.ts";
import { errorCode, isNotFound } from "../fs/errors.ts";
import { dotlockPath, ownDotlockInPlace, releaseDotlock, touchDotlock, tryDotlock, type OwnDotlock } from "./dotlock.ts";

/** How often a holder touches its dotlock, well inside DOTLOCK_STALE_MS (dotlock.ts). */
const DOTLOCK_TOUCH_MS = 60_000;

const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 100;

export interface MboxLock {
  /** The mbox opened read-write and fcntl-locked; undefined when there is no mbox file. */
  readonly fd: number | undefined;
  /** Refresh the dotlock's mtime during long work, so no one judges it stale. */
  keepAlive(): void;
  /** Whether our dotlock is still in place (no one broke it as stale). */
  stillHeld(): boolean;
}

// ---- in-process turn-taking and deferred closes ---------------------------------------------------
// POSIX locks never conflict inside one process, and closing ANY descriptor of a file drops all of
// the process's locks on it. So sessions of one process take turns per mbox, and a descriptor of an
// mbox closed while another session holds the lock is closed only once the lock is released.

/** Descriptors of an mbox closed while a session held its turn, closed when the turn ends. */
const deferredCloses = new Map<string, number[]>();

function endTurn(path: string): void {
  const fds = deferredCloses.get(path);
  deferredCloses.delete(path);
  for (const fd of fds ?? []) closeSync(fd);
  releaseProcessTurn(path);
}

/** Close a descriptor of the mbox at `path` without dropping a lock another session holds on it. */
export function closeMboxDescriptor(path: string, fd: number): void {
  if (!processTurnHeld(path)) return closeSync(fd);
  const fds = deferredCloses.get(path);
  if (fds) fds.push(fd);
  else deferredCloses.set(path, [fd]);
}

// ---- the mbox and its fcntl lock ---------------------------------------------------------------------

/**
 * The mbox opened for locking; undefined if it does not exist. Anything but a regular file (a
 * symlink, a FIFO that would freeze the process) is refused (fs/safe-open.ts).
 */
function openMbox(path: string): number | undefined {
  try {
    return openRegularFile(path, true).fd;
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** After waiting for the lock, the name may point to a new file (a rewrite replaced it). */
function stillNamed(path: string, fd: number): boolean {
  try {
    const named = statSync(path, { bigint: true });
    const held = fstatSync(fd, { bigint: true });
    return named.ino === held.ino && named.dev === held.dev;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Run `fn` holding both locks on the mbox at `path` (a missing mbox is locked by its dotlock alone,
 * so a delivery cannot create it meanwhile). Both are released however `fn` ends.
 */
export async function withMboxLock<T>(path: string, fn: (lock: MboxLock) => T | Promise<T>, timeoutMs = DEFAULT_LOCK_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const lockPath = dotlockPath(path);
  await acquireProcessTurn(path, deadline, () => new FileLockTimeoutError(path, "write", timeoutMs, " (held in this process)"));
  try {
    let holder = "";
    // Both locks or neither: each try takes the dotlock, then the fcntl lock, and gives the dotlock
    // back when the fcntl lock is busy.
    const bothLocks = (): { dotlock: OwnDotlock; fd: number | undefined } | undefined => {
      const dotlock = tryDotlock(lockPath);
      if (dotlock === undefined) {
        holder = ` (dotlock ${lockPath} exists)`;
        return undefined;
      }
      let fd: number | undefined;
      try {
        fd = openMbox(path);
        if (fd === undefined || (fcntlSetLock(fd, "write") && stillNamed(path, fd))) return { dotlock, fd };
      } catch (error) {
        if (fd !== undefined) closeSync(fd);
        releaseDotlock(lockPath, dotlock);
        throw error;
      }
      closeSync(fd);
      releaseDotlock(lockPath, dotlock);
      holder = ` (fcntl lock on ${path} held by another process)`;
      return undefined;
    };
    const outcome = await retryWithBackoff(bothLocks, { deadline, firstRetryMs: RETRY_FIRST_MS, maxRetryMs: RETRY_MAX_MS });
    if (!outcome.done) throw new FileLockTimeoutError(path, "write", timeoutMs, holder);
    return await runLocked(lockPath, outcome.value.dotlock, outcome.value.fd, fn);
  } finally {
    endTurn(path);
  }
}

async function runLocked<T>(lockPath: string, dotlock: OwnDotlock, fd: number | undefined, fn: (lock: MboxLock) => T | Promise<T>): Promise<T> {
  let touched = Date.now();
  const lock: MboxLock = {
    fd,
    keepAlive() {
      const now = Date.now();
      if (now - touched < DOTLOCK_TOUCH_MS) return;
      touched = now;
      try {
        touchDotlock(lockPath, dotlock, now);
      } catch {
        // A vanished dotlock is noticed by whoever judges it; nothing to do here.
      }
    },
    stillHeld() {
      return ownDotlockInPlace(lockPath, dotlock);
    },
  };
  try {
    return await fn(lock);
  } finally {
    // Closing the descriptor releases the fcntl lock; the dotlock goes after it, as MDAs wait on it first.
    if (fd !== undefined) closeSync(fd);
    releaseDotlock(lockPath, dotlock);
  }
}
