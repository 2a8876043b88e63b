/**
 * Removing messages from an mbox so that a crash at any instant leaves the old file or the new one,
 * never a mix: the kept bytes (every kept message with its separator, in order, plus anything after
 * the last message we knew) are copied to a temp file in the same directory, which gets the
 * mailbox's mode and owner, is fsynced, and is renamed over the mbox; then the directory is fsynced.
 *
 * The rename gives the mbox a new inode. That is safe for programs that lock before opening it
 * (the dotlock first, as procmail, postfix local(8) and dovecot-lda do): they wait for our locks and
 * then open the new file. A program that appends without locking, or opens the mbox before taking
 * only the fcntl lock, could write into the replaced inode — such writers are not supported.
 */
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, readSync, renameSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import { StoreError } from "../maildrop.ts";
import { fsyncDirectory } from "../maildir/uid-list.ts";
import { errorCode, isNotFound } from "../maildir/store-errors.ts";
import { fileState } from "./index-refresh.ts";
import { createExclusive, writeAll, type FileState, type IndexEntry, type MboxIndex } from "./mbox-index.ts";
import type { MboxLock } from "./mbox-lock.ts";

const COPY_CHUNK_BYTES = 1024 * 1024;
/** Copy this much between yields to the event loop (and dotlock refreshes). */
const BYTES_PER_YIELD = 64 * 1024 * 1024;
/** Mail gets the mailbox's own mode; until it is set, only its owner may read it. */
const TEMP_MODE = 0o600;

export function rewriteTempPath(mboxPath: string): string {
  return `${dirname(mboxPath)}/.${basename(mboxPath)}.pop3d-rewrite`;
}

export interface RewriteResult {
  readonly entries: IndexEntry[];
  readonly file: FileState;
  readonly expunged: number;
}

export function changedByOthers(path: string, detail: string): StoreError {
  return new StoreError("perm", `Mailbox ${path} was changed by another program; nothing was deleted`, detail);
}

class Copier {
  private readonly buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  private sinceYield = 0;
  written = 0;

  constructor(
    private readonly from: number,
    private readonly to: number,
    private readonly lock: MboxLock,
  ) {}

  read(position: number, length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.from, bytes, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return bytes.subarray(0, got);
  }

  async copy(start: number, end: number): Promise<void> {
    for (let position = start; position < end; ) {
      const n = readSync(this.from, this.buffer, 0, Math.min(this.buffer.length, end - position), position);
      if (n === 0) throw new Error(`unexpected end of file at ${position} (expected ${end})`);
      writeAll(this.to, this.buffer.subarray(0, n), this.written);
      this.written += n;
      position += n;
      this.sinceYield += n;
      if (this.sinceYield >= BYTES_PER_YIELD) {
        this.sinceYield = 0;
        this.lock.keepAlive();
        await Bun.sleep(0);
      }
    }
  }
}

/** Give the new file the mailbox's owner and mode; refuse if the owner cannot be kept. */
function adoptOwnership(path: string, temp: number, mbox: number): void {
  const original = fstatSync(mbox);
  try {
    fchownSync(temp, original.uid, original.gid);
  } catch (error) {
    const created = fstatSync(temp);
    if (created.uid !== original.uid || created.gid !== original.gid) {
      throw new StoreError("perm", `Cannot keep the owner of ${path}; nothing was deleted`, `fchown to ${original.uid}:${original.gid}: ${errorCode(error) ?? String(error)}`);
    }
  }
  fchmodSync(temp, original.mode & 0o7777);
}

/**
 * Write the mbox without the messages whose UID is in `deleteUids`. `index` describes the locked
 * file at `lock.fd` as it is now. The From_ line of every message is checked on the way: if one is
 * not where the index says, another program changed the file without locking and nothing happens.
 */
export async function rewriteMbox(path: string, lock: MboxLock, index: MboxIndex, deleteUids: ReadonlySet<number>): Promise<RewriteResult> {
  const source = lock.fd!;
  const size = index.file.size;
  const tempPath = rewriteTempPath(path);
  const temp = createExclusive(tempPath, TEMP_MODE, constants.O_RDWR);
  let renamed = false;
  try {
    adoptOwnership(path, temp, source);
    const copier = new Copier(source, temp, lock);
    const entries = index.entries;
    await copier.copy(0, entries[0]?.offset ?? size);
    const kept: IndexEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const fromLine = copier.read(entry.offset, entry.contentStart - entry.offset);
      if (Bun.hash.crc32(fromLine) !== entry.fromCrc) {
        throw changedByOthers(path, `no From_ line of message uid ${entry.uid} at offset ${entry.offset}`);
      }
      if (deleteUids.has(entry.uid)) continue;
      const shift = copier.written - entry.offset;
      kept.push({ ...entry, offset: entry.offset + shift, contentStart: entry.contentStart + shift, contentEnd: entry.contentEnd + shift });
      await copier.copy(entry.offset, entries[i + 1]?.offset ?? size);
    }
    const after = fstatSync(source, { bigint: true });
    if (Number(after.size) !== size || after.mtimeNs !== index.file.mtimeNs) {
      throw changedByOthers(path, `written while locked: size ${index.file.size} → ${after.size}`);
    }
    fsyncSync(temp);
    const file = fileState(temp);
    renameSync(tempPath, path);
    renamed = true;
    fsyncDirectory(dirname(path));
    return { entries: kept, file, expunged: entries.length - kept.length };
  } finally {
    closeSync(temp);
    if (!renamed) removeQuietly(tempPath);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
