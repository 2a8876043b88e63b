/**
 * Read-only access to Cyrus "twoskip" databases (lib/cyrusdb_twoskip.c), the default format of
 * mailboxes.db and cyrus.annotations in Cyrus 3.x.
 *
 * Layout, big-endian throughout: a 64-byte header (magic, version, generation, num_records,
 * repack_size, current_size, flags, CRC32 of the first 60 bytes), then 8-byte-aligned records:
 * type, level, keylen (16 bit, 0xFFFF = a 64-bit length follows), vallen (32 bit, 0xFFFFFFFF =
 * 64-bit follows), level+1 forward pointers, a CRC32 of all that ("head"), a CRC32 of key, value and
 * padding ("tail"), then key and value padded to 8 bytes. Level 0 of the skip list has two
 * pointers (slots 0 and 1), level i > 0 uses slot i+1; of the level-0 pair the higher one below
 * the committed size is current, which lets a reader ignore a transaction that never committed.
 */
import { fstatSync, readSync } from "node:fs";
import { lockDataFile } from "./cyrus-lock.ts";

const MAGIC = Buffer.from([0xa1, 0x02, 0x8b, 0x0d, ...Buffer.from("twoskip file"), 0, 0, 0, 0]);
const HEADER_SIZE = 64;
const DUMMY_OFFSET = HEADER_SIZE;
const SUPPORTED_VERSION = 1;
const MAX_LEVEL = 31;
const DIRTY = 1;
const DELETE = 0x2d; // '-'
const LONG_KEY = 0xffff;
const LONG_VALUE = 0xffffffff;
/** Enough for the head of any record (MAXRECORDHEAD in Cyrus) plus a typical key. */
const FIRST_READ = 512;

export class TwoskipError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`twoskip ${path}: ${message}`);
    this.name = "TwoskipError";
  }
}

interface SkipRecord {
  readonly offset: number;
  readonly type: number;
  readonly level: number;
  readonly next: readonly number[];
  readonly keyOffset: number;
  readonly keyLength: number;
  readonly valueLength: number;
  readonly tailCrc: number;
  /** The key bytes (read with the head). */
  readonly key: Buffer;
}

function u64(buf: Buffer, at: number): number {
  const value = buf.readBigUInt64BE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`64-bit field ${value} too large`);
  return Number(value);
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytewise order, shorter first on a common prefix (bsearch_ncompare_raw). */
function compareRaw(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** One consistent view of a twoskip file, read while its lock is held. */
export class TwoskipSnapshot {
  /** Committed size: records and pointers at or past it belong to an unfinished transaction. */
  private readonly end: number;
  /** A clean file may be searched through every level; a dirty one only by walking level 0. */
  readonly clean: boolean;
  private readonly size: number;
  readonly recordCount: number;

  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {
    const size = fstatSync(fd).size;
    this.size = size;
    const header = this.read(0, HEADER_SIZE, size);
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) this.fail("bad magic");
    const version = header.readUInt32BE(20);
    if (version > SUPPORTED_VERSION) this.fail(`unsupported version ${version}`);
    if (Bun.hash.crc32(header.subarray(0, 60)) !== header.readUInt32BE(60)) this.fail("header CRC mismatch");
    this.recordCount = u64(header, 32);
    this.end = u64(header, 48);
    const flags = header.readUInt32BE(56);
    if (this.end > size) this.fail(`committed size ${this.end} beyond file size ${size}`);
    this.clean = (flags & DIRTY) === 0 && this.end === size;
  }

  /** The value stored under `key`, or undefined. Record CRCs are checked on the way. */
  get(key: Uint8Array): Buffer | undefined {
    const next = this.after(this.predecessor(key));
    return next !== undefined && compareRaw(next.key, key) === 0 ? this.valueOf(next) : undefined;
  }

  /** Every live key/value pair whose key starts with `prefix`, in key order. */
  *withPrefix(prefix: Uint8Array): Generator<[Buffer, Buffer]> {
    let rec: SkipRecord | undefined = this.predecessor(prefix);
    for (;;) {
      rec = this.after(rec);
      if (rec === undefined || rec.key.length < prefix.length || compareRaw(rec.key.subarray(0, prefix.length), prefix) !== 0) return;
      yield [rec.key, this.valueOf(rec)];
    }
  }

  private fail(message: string): never {
    throw new TwoskipError(this.path, message);
  }

  private read(offset: number, length: number, limit: number): Buffer {
    if (offset + length > limit) this.fail(`read of ${length} bytes at ${offset} past end ${limit}`);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) this.fail(`short read at ${offset + done}`);
      done += n;
    }
    return buf;
  }

  private record(offset: number): SkipRecord {
    const size = this.size;
    let buf = this.read(offset, Math.min(FIRST_READ, size - offset), size);
    if (buf.length < 24) this.fail(`record at ${offset} truncated`);
    const type = buf[0]!;
    const level = buf[1]!;
    if (level > MAX_LEVEL) this.fail(`record at ${offset} has level ${level}`);
    let keyLength = buf.readUInt16BE(2);
    let valueLength = buf.readUInt32BE(4);
    let at = 8;
    if (keyLength === LONG_KEY) {
      keyLength = u64(buf, at);
      at += 8;
    }
    if (valueLength === LONG_VALUE) {
      valueLength = u64(buf, at);
      at += 8;
    }
    const headLength = at + 8 * (level + 1);
    const keyOffset = headLength + 8;
    const total = keyOffset + roundUp8(keyLength + valueLength);
    if (offset + total > size) this.fail(`record at ${offset} runs past the end of the file`);
    if (buf.length < keyOffset + keyLength) buf = this.read(offset, keyOffset + keyLength, size);
    const next: number[] = [];
    for (let i = 0; i <= level; i++) next.push(u64(buf, at + 8 * i));
    if (Bun.hash.crc32(buf.subarray(0, headLength)) !== buf.readUInt32BE(headLength)) this.fail(`head CRC mismatch at ${offset}`);
    return {
      offset,
      type,
      level,
      next,
      keyOffset: offset + keyOffset,
      keyLength,
      valueLength,
      tailCrc: buf.readUInt32BE(headLength + 4),
      key: Buffer.from(buf.subarray(keyOffset, keyOffset + keyLength)),
    };
  }

  private valueOf(rec: SkipRecord): Buffer {
    const tail = this.read(rec.keyOffset, roundUp8(rec.keyLength + rec.valueLength), this.size);
    if (Bun.hash.crc32(tail) !== rec.tailCrc) this.fail(`tail CRC mismatch at ${rec.offset}`);
    return Buffer.from(tail.subarray(rec.keyLength, rec.keyLength + rec.valueLength));
  }

  /** Level 0: of the two pointers, the higher one that lies inside the committed file. */
  private levelZero(rec: SkipRecord): number {
    const [a = 0, b = 0] = rec.next;
    if (a >= this.end) return b;
    if (b >= this.end) return a;
    return Math.max(a, b);
  }

  private nextAt(rec: SkipRecord, level: number): number {
    return level === 0 ? this.levelZero(rec) : (rec.next[level + 1] ?? 0);
  }

  /** A delete record stands in the chain for a removed key: step over it. */
  private skipDelete(rec: SkipRecord): SkipRecord {
    if (rec.type !== DELETE) return rec;
    const next = rec.next[0] ?? 0;
    return next === 0 ? { ...rec, offset: 0 } : this.record(next);
  }

  /** The next live record at level 0, or undefined at the end. */
  private after(rec: SkipRecord): SkipRecord | undefined {
    const offset = this.levelZero(rec);
    if (offset === 0) return undefined;
    const next = this.skipDelete(this.record(offset));
    return next.offset === 0 ? undefined : next;
  }

  /**
   * The last record whose key sorts before `key` (the dummy if none): a skip-list descent in a
   * clean file; after a crash only level 0 below the committed size is trustworthy, so walk it.
   */
  private predecessor(key: Uint8Array): SkipRecord {
    let rec = this.record(DUMMY_OFFSET);
    if (!this.clean) {
      for (;;) {
        const next = this.after(rec);
        if (next === undefined || compareRaw(next.key, key) >= 0) return rec;
        rec = next;
      }
    }
    for (let level = rec.level; level > 0; ) {
      const offset = this.nextAt(rec, level - 1);
      const candidate = offset === 0 ? undefined : this.skipDelete(this.record(offset));
      if (candidate !== undefined && candidate.offset !== 0 && compareRaw(candidate.key, key) < 0) {
        rec = candidate;
        continue;
      }
      level--;
    }
    return rec;
  }
}

/** Runs `fn` on `path` under a shared lock, as Cyrus readers do (mappedfile_readlock). */
export async function withTwoskip<T>(path: string, fn: (db: TwoskipSnapshot) => T): Promise<T> {
  const lock = await lockDataFile(path, "shared", false);
  try {
    return fn(new TwoskipSnapshot(lock.fd, path));
  } finally {
    lock.release();
  }
}
