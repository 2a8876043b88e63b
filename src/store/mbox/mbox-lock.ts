/**
 * Locking an mbox the way mail delivery agents do, so that we never read a half-appended message
 * and no delivery lands in a file we are replacing: the dotlock `<mbox>.lock` (created with
 * O_EXCL) and an fcntl write lock on the mbox itself — procmail, postfix local(8) and dovecot-lda
 * take both by default. The locks are held only while the mbox is parsed and while a QUIT rewrites
 * it, never across a session (§5.7). When the second lock is busy the first is dropped before
 * waiting, so a program taking them in the other order cannot deadlock with us.
 */
import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, readFileSync, statSync, unlinkSync, utimesSync } from "node:fs";
import { hostname } from "node:os";
import { DEFAULT_LOCK_TIMEOUT_MS, FileLockTimeoutError } from "../../sys/file-lock.ts";
import { fcntlSetLock } from "../../sys/libc.ts";
import { errorCode, isNotFound } from "../maildir/store-errors.ts";
import { createExclusive, writeAll } from "./mbox-index.ts";

/**
 * A dotlock older than this is taken to be left by a crashed program and removed. Five minutes is
 * what liblockfile and mutt use; postfix waits 500 s. Holders refresh it (keepAlive) while working.
 */
export const DOTLOCK_STALE_MS = 5 * 60_000;
/** How often a holder touches its dotlock, well inside DOTLOCK_STALE_MS. */
const DOTLOCK_TOUCH_MS = 60_000;
/** Readable by all, as other programs read the holder's pid from it. */
const DOTLOCK_MODE = 0o644;
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

export function dotlockPath(mboxPath: string): string {
  return `${mboxPath}.lock`;
}

// ---- in-process turn-taking and deferred closes ---------------------------------------------------
// POSIX locks never conflict inside one process, and closing ANY descriptor of a file drops all of
// the process's locks on it. So sessions of one process take turns per mbox, and a descriptor of an
// mbox closed while another session holds the lock is closed only once the lock is released.

interface Turn {
  waiters: Array<() => void>;
  deferredCloses: number[];
}
const turns = new Map<string, Turn>();

async function takeTurn(path: string, deadline: number, onTimeout: () => Error): Promise<void> {
  const turn = turns.get(path);
  if (turn === undefined) {
    turns.set(path, { waiters: [], deferredCloses: [] });
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const grant = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      const at = turn.waiters.indexOf(grant);
      if (at >= 0) turn.waiters.splice(at, 1);
      reject(onTimeout());
    }, Math.max(0, deadline - Date.now()));
    turn.waiters.push(grant);
  });
}

function endTurn(path: string): void {
  const turn = turns.get(path);
  if (turn === undefined) return;
  for (const fd of turn.deferredCloses.splice(0)) closeSync(fd);
  const next = turn.waiters.shift();
  if (next === undefined) turns.delete(path);
  else next();
}

/** Close a descriptor of the mbox at `path` without dropping a lock another session holds on it. */
export function closeMboxDescriptor(path: string, fd: number): void {
  const turn = turns.get(path);
  if (turn === undefined) closeSync(fd);
  else turn.deferredCloses.push(fd);
}

// ---- dotlock ---------------------------------------------------------------------------------------

function processIsGone(pid: number): boolean {
  if (pid === process.pid) return true; // our own leftover: while we hold our turn, no session of ours has it
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errorCode(error) === "ESRCH";
  }
}

/** A lock file another user made private can still be judged by its age. */
function readableText(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch (error) {
    const code = errorCode(error);
    if (code === "EACCES" || code === "EPERM") return "";
    throw error;
  }
}

/**
 * Which lock file was looked at. Inode numbers are reused at once after an unlink, so a lock
 * someone else just created in place of a stale one can have the stale one's inode; its change
 * time and contents tell them apart.
 */
interface LockFileIdentity {
  readonly ino: bigint;
  readonly ctimeNs: bigint;
  readonly text: string;
}

function lockFileIdentity(lockPath: string): LockFileIdentity {
  const st = lstatSync(lockPath, { bigint: true });
  return { ino: st.ino, ctimeNs: st.ctimeNs, text: readableText(lockPath) };
}

function sameLockFile(a: LockFileIdentity, b: LockFileIdentity): boolean {
  return a.ino === b.ino && a.ctimeNs === b.ctimeNs && a.text === b.text;
}

/**
 * Stale: older than DOTLOCK_STALE_MS, or naming a process that no longer exists (which assumes the
 * spool is local; an empty lock file, as some programs write, is judged by age alone). Returns the
 * identity of a stale lock, undefined for a live one, null when it vanished meanwhile.
 */
function staleDotlock(lockPath: string, nowMs: number): LockFileIdentity | undefined | null {
  try {
    const seen = lockFileIdentity(lockPath);
    const mtimeMs = Number(lstatSync(lockPath, { bigint: true }).mtimeMs);
    if (nowMs - mtimeMs > DOTLOCK_STALE_MS) return seen;
    const pid = /^\s*(\d{1,10})\s*$/.exec(seen.text)?.[1];
    return pid !== undefined && Number(pid) > 0 && processIsGone(Number(pid)) ? seen : undefined;
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** Remove the lock file only if it is still the one we looked at (another holder may have replaced it). */
function unlinkIfSame(lockPath: string, seen: LockFileIdentity): void {
  try {
    if (sameLockFile(lockFileIdentity(lockPath), seen)) unlinkSync(lockPath);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * The identity of our new dotlock, or undefined when someone else holds it. The lock file appears
 * with our pid already in it (written to a private name, then linked into place, as liblockfile
 * does), so a crash can never leave an empty lock that only ageing would clear.
 */
function tryDotlock(lockPath: string): LockFileIdentity | undefined {
  const privateName = `${lockPath}.${hostname()}.${process.pid}`;
  const fd = createExclusive(privateName, DOTLOCK_MODE);
  try {
    writeAll(fd, Buffer.from(`${process.pid}\n`, "latin1"));
  } finally {
    closeSync(fd);
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(privateName, lockPath);
      } catch (error) {
        if (errorCode(error) !== "EEXIST") throw error;
        const stale = staleDotlock(lockPath, Date.now());
        if (stale === undefined) return undefined;
        // null: the lock vanished by itself; just try again.
        if (stale !== null) unlinkIfSame(lockPath, stale);
        continue;
      }
      // Taken after the private name is gone: that unlink changes the inode's ctime.
      unlinkQuietly(privateName);
      return lockFileIdentity(lockPath);
    }
    return undefined;
  } finally {
    unlinkQuietly(privateName);
  }
}

// ---- the mbox and its fcntl lock ---------------------------------------------------------------------

/** The mbox opened for locking; undefined if it does not exist. Symlinks are refused (O_NOFOLLOW). */
function openMbox(path: string): number | undefined {
  try {
    return openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
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
  await takeTurn(path, deadline, () => new FileLockTimeoutError(path, "write", timeoutMs, " (held in this process)"));
  try {
    for (let delay = RETRY_FIRST_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      const dotlock = tryDotlock(lockPath);
      let holder = ` (dotlock ${lockPath} exists)`;
      if (dotlock !== undefined) {
        let fd: number | undefined;
        let handedOver = false;
        try {
          fd = openMbox(path);
          if (fd === undefined || (fcntlSetLock(fd, "write") && stillNamed(path, fd))) {
            handedOver = true;
            return await runLocked(lockPath, dotlock, fd, fn);
          }
          holder = ` (fcntl lock on ${path} held by another process)`;
        } finally {
          if (!handedOver) {
            if (fd !== undefined) closeSync(fd);
            unlinkIfSame(lockPath, dotlock);
          }
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new FileLockTimeoutError(path, "write", timeoutMs, holder);
      await Bun.sleep(Math.min(delay, remaining));
    }
  } finally {
    endTurn(path);
  }
}

async function runLocked<T>(lockPath: string, taken: LockFileIdentity, fd: number | undefined, fn: (lock: MboxLock) => T | Promise<T>): Promise<T> {
  let dotlock = taken;
  let touched = Date.now();
  const lock: MboxLock = {
    fd,
    keepAlive() {
      const now = Date.now();
      if (now - touched < DOTLOCK_TOUCH_MS) return;
      touched = now;
      try {
        utimesSync(lockPath, now / 1000, now / 1000);
        // Touching changes the ctime our release compares.
        dotlock = lockFileIdentity(lockPath);
      } catch {
        // A vanished dotlock is noticed by whoever judges it; nothing to do here.
      }
    },
    stillHeld() {
      try {
        return sameLockFile(lockFileIdentity(lockPath), dotlock);
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
  };
  try {
    return await fn(lock);
  } finally {
    // Closing the descriptor releases the fcntl lock; the dotlock goes after it, as MDAs wait on it first.
    if (fd !== undefined) closeSync(fd);
    unlinkIfSame(lockPath, dotlock);
  }
}
