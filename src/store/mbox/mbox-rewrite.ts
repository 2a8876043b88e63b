/**
 * Removing messages from an mbox so that a crash at any instant leaves the old file or the new one,
 * never a mix: the kept bytes (every kept message with its separator, in order, mail appended since
 * the snapshot included — the caller indexed it under the lock) are copied to a temp file in the
 * same directory, which gets the mailbox's mode and owner, is fsynced, and is renamed over the
 * mbox; then the directory is fsynced.
 *
 * The rename gives the mbox a new inode. That is safe for programs that lock before opening it
 * (the dotlock first, as procmail, postfix local(8) and dovecot-lda do): they wait for our locks and
 * then open the new file. A program that appends without locking, or opens the mbox before taking
 * only the fcntl lock, could write into the replaced inode — such writers are not supported.
 */
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, readSync, renameSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import { StoreError } from "../maildrop.ts";
import { fsyncAsync, fsyncDirectoryAsync } from "../fs/durable.ts";
import { TimeSlicer } from "../fs/time-slice.ts";
import { errorCode, isNotFound } from "../fs/errors.ts";
import { fileState } from "./index-refresh.ts";
import { createExclusive, writeAll, type FileState, type IndexEntry, type MboxIndex } from "./mbox-index.ts";
import type { MboxLock } from "./mbox-lock.ts";

const COPY_CHUNK_BYTES = 1024 * 1024;
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

interface Range {
  readonly start: number;
  readonly end: number;
}

/** A From_ line that must still be where the index says. */
interface Checkpoint {
  readonly offset: number;
  readonly length: number;
  readonly crc: number;
  readonly uid: number;
}

/**
 * One sequential pass over the locked mbox: kept ranges go to the temp file, every From_ line is
 * checked on the way (from the chunk in hand; one straddling a chunk end is read on its own).
 */
class Rewriter {
  private readonly buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  /** The copy yields to the event loop (and refreshes the dotlock) whenever a time slice is used up. */
  private readonly slicer = new TimeSlicer();
  private written = 0;

  constructor(
    private readonly path: string,
    private readonly from: number,
    private readonly to: number,
    private readonly lock: MboxLock,
  ) {}

  async run(size: number, kept: readonly Range[], checkpoints: readonly Checkpoint[]): Promise<void> {
    let nextRange = 0;
    let nextCheck = 0;
    for (let position = 0; position < size; ) {
      const n = readSync(this.from, this.buffer, 0, Math.min(this.buffer.length, size - position), position);
      if (n === 0) throw changedByOthers(this.path, `the file ends at ${position}, before ${size}`);
      const chunkEnd = position + n;
      for (; nextCheck < checkpoints.length && checkpoints[nextCheck]!.offset < chunkEnd; nextCheck++) {
        const check = checkpoints[nextCheck]!;
        const inChunk = check.offset + check.length <= chunkEnd;
        const bytes = inChunk ? this.buffer.subarray(check.offset - position, check.offset - position + check.length) : this.readAt(check.offset, check.length);
        if (Bun.hash.crc32(bytes) !== check.crc) {
          throw changedByOthers(this.path, `no From_ line of message uid ${check.uid} at offset ${check.offset}`);
        }
      }
      for (; nextRange < kept.length && kept[nextRange]!.start < chunkEnd; nextRange++) {
        const range = kept[nextRange]!;
        const from = Math.max(range.start, position);
        const to = Math.min(range.end, chunkEnd);
        if (to > from) {
          writeAll(this.to, this.buffer.subarray(from - position, to - position), this.written);
          this.written += to - from;
        }
        if (range.end > chunkEnd) break;
      }
      position = chunkEnd;
      if (this.slicer.due()) {
        this.lock.keepAlive();
        await this.slicer.yield();
      }
    }
  }

  private readAt(position: number, length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.from, bytes, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return bytes.subarray(0, got);
  }
}

/** The byte ranges to keep (adjacent ones merged) and the kept entries at their new offsets. */
function plan(index: MboxIndex, deleteUids: ReadonlySet<number>): { kept: Range[]; entries: IndexEntry[] } {
  const { entries, file } = index;
  const kept: Range[] = [];
  const keep = (start: number, end: number): void => {
    const last = kept[kept.length - 1];
    if (last !== undefined && last.end === start) kept[kept.length - 1] = { start: last.start, end };
    else if (end > start) kept.push({ start, end });
  };
  keep(0, entries[0]?.offset ?? file.size);
  const moved: IndexEntry[] = [];
  let written = entries[0]?.offset ?? file.size;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (deleteUids.has(entry.uid)) continue;
    const end = entries[i + 1]?.offset ?? file.size;
    const shift = written - entry.offset;
    moved.push({ ...entry, offset: entry.offset + shift, contentStart: entry.contentStart + shift, contentEnd: entry.contentEnd + shift });
    keep(entry.offset, end);
    written += end - entry.offset;
  }
  return { kept, entries: moved };
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
    const { kept, entries } = plan(index, deleteUids);
    const checkpoints = index.entries.map((e) => ({ offset: e.offset, length: e.contentStart - e.offset, crc: e.fromCrc, uid: e.uid }));
    await new Rewriter(path, source, temp, lock).run(size, kept, checkpoints);
    // Off the JS thread: fsyncing a big mbox may wait for the disk for seconds.
    await fsyncAsync(temp);
    const after = fstatSync(source, { bigint: true });
    if (Number(after.size) !== size || after.mtimeNs !== index.file.mtimeNs) {
      throw changedByOthers(path, `written while locked: size ${index.file.size} → ${after.size}`);
    }
    const file = fileState(temp);
    // A delivery that got the dotlock meanwhile (someone broke ours) may have the old file open.
    if (!lock.stillHeld()) throw changedByOthers(path, `the dotlock ${path}.lock was taken from us`);
    renameSync(tempPath, path);
    renamed = true;
    await fsyncDirectoryAsync(dirname(path));
    return { entries, file, expunged: index.entries.length - entries.length };
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
