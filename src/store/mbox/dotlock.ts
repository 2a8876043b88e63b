/**
 * The `<mbox>.lock` dotlock that MDAs (procmail, postfix local(8), dovecot-lda, mutt) take before
 * touching an mbox: created atomically with the holder's pid in it, judged stale by age or by a
 * dead pid, and released only if it is still ours.
 */
import { closeSync, fstatSync, linkSync, lstatSync, readFileSync, unlinkSync, utimesSync } from "node:fs";
import { hostname } from "node:os";
import { errorCode, isNotFound } from "../fs/errors.ts";
import { createExclusive, writeAll } from "./mbox-index.ts";

/**
 * A dotlock older than this is taken to be left by a crashed program and removed. Five minutes is
 * what liblockfile and mutt use; postfix waits 500 s. Holders refresh it (keepAlive) while working.
 */
export const DOTLOCK_STALE_MS = 5 * 60_000;
/** Readable by all, as other programs read the holder's pid from it. */
const DOTLOCK_MODE = 0o644;

export function dotlockPath(mboxPath: string): string {
  return `${mboxPath}.lock`;
}

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

/** Our own dotlock: its inode and contents, known before it was linked into place. */
export interface OwnDotlock {
  readonly ino: bigint;
  readonly text: string;
}

/**
 * Whether our dotlock is still the lock file. Compared by what we created rather than by a look
 * after linking: a program breaking a stale lock non-atomically can remove ours and put its own
 * in place at any moment, and its lock must never be taken for ours.
 */
export function ownDotlockInPlace(lockPath: string, own: OwnDotlock): boolean {
  try {
    return lstatSync(lockPath, { bigint: true }).ino === own.ino && readableText(lockPath) === own.text;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

export function releaseDotlock(lockPath: string, own: OwnDotlock): void {
  if (ownDotlockInPlace(lockPath, own)) unlinkQuietly(lockPath);
}

/**
 * Our new dotlock, or undefined when someone else holds it. The lock file appears with our pid
 * already in it (written to a private name, then linked into place, as liblockfile does), so a
 * crash can never leave an empty lock that only ageing would clear.
 */
export function tryDotlock(lockPath: string): OwnDotlock | undefined {
  const privateName = `${lockPath}.${hostname()}.${process.pid}`;
  const text = `${process.pid}\n`;
  const fd = createExclusive(privateName, DOTLOCK_MODE);
  let ino: bigint;
  try {
    writeAll(fd, Buffer.from(text, "latin1"));
    ino = fstatSync(fd, { bigint: true }).ino;
  } finally {
    closeSync(fd);
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(privateName, lockPath);
        return { ino, text };
      } catch (error) {
        if (errorCode(error) !== "EEXIST") throw error;
        const stale = staleDotlock(lockPath, Date.now());
        if (stale === undefined) return undefined;
        // null: the lock vanished by itself; just try again.
        if (stale !== null) unlinkIfSame(lockPath, stale);
      }
    }
    return undefined;
  } finally {
    unlinkQuietly(privateName);
  }
}

/** Refresh the mtime of our dotlock so that no one judges it stale during long work. */
export function touchDotlock(lockPath: string, own: OwnDotlock, nowMs: number): void {
  if (ownDotlockInPlace(lockPath, own)) utimesSync(lockPath, nowMs / 1000, nowMs / 1000);
}
