/**
 * The POSIX record locks Cyrus takes on its own files (lib/lock_fcntl.c): always the whole file
 * (start 0, length 0), shared for readers and exclusive for writers. Cyrus blocks in F_SETLKW;
 * we poll F_SETLK on a timer so that one waiting session never stalls the others in this process.
 *
 * POSIX locks belong to the process: two sessions of ours never conflict through fcntl, and closing
 * any descriptor of a file drops every lock the process holds on it. So sessions of one process
 * take turns on a per-path mutex before touching a file's lock, and only the holder opens the file.
 */
import { lockFile, type HeldFileLock } from "../../sys/file-lock.ts";

export type LockMode = "shared" | "exclusive";

/** Long enough for Cyrus to rewrite a big index, short enough to answer the POP client in time. */
export const CYRUS_LOCK_TIMEOUT_MS = 20_000;
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

export type HeldLock = HeldFileLock;

function timeoutError(path: string, mode: LockMode): (holder: string) => Error {
  return (holder) =>
    new CyrusLockTimeoutError(path, mode, holder === " (held in this process)" ? " (held by another session of this process)" : holder);
}

/**
 * A Cyrus name lock (mboxname_lock): `path` is created, with its directories, if missing. Lock
 * files are never replaced, so the descriptor's inode is the path's.
 */
export function lockNameFile(path: string, mode: LockMode, timeoutMs = CYRUS_LOCK_TIMEOUT_MS): Promise<HeldLock> {
  return lockFile(path, mode === "exclusive" ? "write" : "read", {
    writable: true,
    create: { mode: LOCK_FILE_MODE, dirMode: LOCK_DIR_MODE },
    followSymlink: true,
    timeoutMs,
    onTimeout: timeoutError(path, mode),
  });
}

/**
 * A lock on an existing data file that Cyrus may replace by rename (twoskip checkpoints, quota
 * files): after locking, the descriptor must still be the file at `path`, or we reopen and retry,
 * as Cyrus's mappedfile and lock_reopen do. `writable` opens it read-write.
 */
export function lockDataFile(path: string, mode: LockMode, writable: boolean, timeoutMs = CYRUS_LOCK_TIMEOUT_MS): Promise<HeldLock> {
  return lockFile(path, mode === "exclusive" ? "write" : "read", {
    writable,
    mayBeReplaced: true,
    followSymlink: true,
    timeoutMs,
    onTimeout: timeoutError(path, mode),
  });
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
