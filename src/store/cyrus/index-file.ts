/**
 * A whole cyrus.index read into memory under its lock: the parsed header and the record area,
 * with records located by recno or, since records are kept in UID order, by binary search on UID.
 */
import { readSync, fstatSync } from "node:fs";
import { readFully } from "../fs/read-fully.ts";
import type { TimeSlicer } from "../fs/time-slice.ts";
import { FLAG_INTERNAL_EXPUNGED, IndexFormatError, parseIndexHeader, parseIndexRecord, recordCrcOffset, type IndexHeader, type IndexRecord } from "./index-format.ts";

const UID_OFFSET = 0;
const INTERNALDATE_OFFSET = 4;
const SIZE_OFFSET = 12;
const FLAGS_OFFSET = 32;
/** Records CRC-checked between two looks at the time slice. */
const VERIFY_BATCH = 1024;

export class IndexFile {
  private constructor(
    readonly header: IndexHeader,
    private readonly bytes: Buffer,
  ) {}

  /** Reads the file behind `fd` (which the caller holds locked) and checks the header. */
  static read(fd: number): IndexFile {
    const size = fstatSync(fd).size;
    const bytes = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, bytes, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return IndexFile.fromBytes(bytes.subarray(0, done));
  }

  /** IndexFile.read with the read done off the JS thread (a 100,000-message index is ~10 MB). */
  static async readAsync(fd: number): Promise<IndexFile> {
    return IndexFile.fromBytes(await readFully(fd, fstatSync(fd).size));
  }

  /** Parses an index already in memory (checks the header and that every record is present). */
  static fromBytes(bytes: Buffer): IndexFile {
    const header = parseIndexHeader(bytes);
    const need = header.startOffset + header.numRecords * header.recordSize;
    if (bytes.length < need) throw new IndexFormatError(`cyrus.index has ${bytes.length} bytes, its header needs ${need}`);
    return new IndexFile(header, bytes);
  }

  get count(): number {
    return this.header.numRecords;
  }

  private offset(recno: number): number {
    return this.header.startOffset + (recno - 1) * this.header.recordSize;
  }

  private slice(recno: number): Buffer {
    const at = this.offset(recno);
    return this.bytes.subarray(at, at + this.header.recordSize);
  }

  /**
   * The file's bytes from offset 0 through the last record in `records`, with `header` and those
   * records put in place: one buffer, so that a commit is one write and a process killed during
   * it has changed either every record or none (between two separate writes it would leave some
   * messages expunged and others not).
   */
  patched(header: Buffer, records: ReadonlyArray<{ readonly recno: number; readonly bytes: Buffer }>): Buffer {
    const end = records.reduce((last, r) => Math.max(last, this.offset(r.recno) + r.bytes.length), header.length);
    const image = Buffer.from(this.bytes.subarray(0, end));
    header.copy(image, 0);
    for (const { recno, bytes } of records) bytes.copy(image, this.offset(recno));
    return image;
  }

  /** The record at `recno` (1-based), CRC-checked. */
  record(recno: number): IndexRecord {
    return parseIndexRecord(this.slice(recno), this.header.minorVersion, recno);
  }

  /** Checks every record's CRC (what a full read by Cyrus would trip over). */
  verifyAll(): void {
    this.verifyRecords(1, this.count);
  }

  /** verifyAll, yielding to the event loop between slices. */
  async verifyAllInSlices(slicer: TimeSlicer): Promise<void> {
    for (let first = 1; first <= this.count; first += VERIFY_BATCH) {
      if (slicer.due()) await slicer.yield();
      this.verifyRecords(first, Math.min(first + VERIFY_BATCH - 1, this.count));
    }
  }

  private verifyRecords(first: number, last: number): void {
    const crcAt = recordCrcOffset(this.header.minorVersion);
    for (let recno = first; recno <= last; recno++) {
      const at = this.offset(recno);
      if (Bun.hash.crc32(this.bytes.subarray(at, at + crcAt)) !== this.bytes.readUInt32BE(at + crcAt)) {
        throw new IndexFormatError(`cyrus.index record ${recno} CRC mismatch`, true);
      }
    }
  }

  uidAt(recno: number): number {
    return this.bytes.readUInt32BE(this.offset(recno) + UID_OFFSET);
  }

  sizeAt(recno: number): number {
    return this.bytes.readUInt32BE(this.offset(recno) + SIZE_OFFSET);
  }

  flagsAt(recno: number): number {
    return this.bytes.readUInt32BE(this.offset(recno) + FLAGS_OFFSET);
  }

  internalDateAt(recno: number): number {
    return this.bytes.readUInt32BE(this.offset(recno) + INTERNALDATE_OFFSET);
  }

  isExpungedAt(recno: number): boolean {
    return (this.flagsAt(recno) & FLAG_INTERNAL_EXPUNGED) !== 0;
  }

  /** The recno holding `uid`, or undefined (mailbox_find_index_record). */
  findUid(uid: number): number | undefined {
    let low = 1;
    let high = this.count;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const at = this.uidAt(mid);
      if (at === uid) return mid;
      if (at < uid) low = mid + 1;
      else high = mid - 1;
    }
    return undefined;
  }
}
