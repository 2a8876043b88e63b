/**
 * A Maildir snapshot kept compact: the uid list's own bytes plus one row of typed arrays per
 * message (uid, size, where its line and file name are). About 30 bytes a message besides the
 * list line itself, where one object per message cost several hundred; a session on a
 * 100,000-message Maildir holds this table for its whole life.
 */
import { maildirBaseName } from "./maildir-name.ts";
import { MaildirMessage } from "./maildir-message.ts";
import type { MaildirFile, MaildirSubdir } from "./maildir-scan.ts";

/** `n` of `new/`: a row's subdirectory is the first byte of its path in the list line. */
const LETTER_N = 110;

/** Rows are filled in order by parseUidList, then frozen. */
export class UidTableBuilder {
  private uids: Float64Array;
  private sizes: Float64Array;
  private lineStarts: Uint32Array;
  private pathStarts: Uint32Array;
  private lineEnds: Uint32Array;
  private count = 0;

  constructor(
    private readonly bytes: Buffer,
    capacity: number,
  ) {
    this.uids = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.lineStarts = new Uint32Array(capacity);
    this.pathStarts = new Uint32Array(capacity);
    this.lineEnds = new Uint32Array(capacity);
  }

  /** `pathStart` is where the line's `new/` or `cur/` begins (the row's subdirectory is read from there). */
  add(uid: number, size: number, lineStart: number, pathStart: number, lineEnd: number): void {
    if (this.count === this.uids.length) this.resize(Math.max(16, this.count * 2));
    const i = this.count++;
    this.uids[i] = uid;
    this.sizes[i] = size;
    this.lineStarts[i] = lineStart;
    this.pathStarts[i] = pathStart;
    this.lineEnds[i] = lineEnd;
  }

  private resize(capacity: number): void {
    const grow = <A extends Float64Array | Uint32Array>(from: A, to: A): A => {
      to.set(from.subarray(0, Math.min(this.count, capacity)));
      return to;
    };
    this.uids = grow(this.uids, new Float64Array(capacity));
    this.sizes = grow(this.sizes, new Float64Array(capacity));
    this.lineStarts = grow(this.lineStarts, new Uint32Array(capacity));
    this.pathStarts = grow(this.pathStarts, new Uint32Array(capacity));
    this.lineEnds = grow(this.lineEnds, new Uint32Array(capacity));
  }

  /**
   * The table in ascending uid order, a repeated uid kept once (its first line). `sorted` says the
   * rows already are (the writer always writes them so).
   */
  build(sorted: boolean): UidTable {
    const n = this.count;
    if (sorted) {
      // Rows are kept for the whole session: no spare capacity. The arrays themselves, not
      // subarray() views of them: a view moves a small array's storage out of the heap into a
      // separately allocated buffer of its own (~140 more bytes each, measured)
      if (this.uids.length !== n) this.resize(n);
      return new UidTable(this.bytes, n, this.uids, this.sizes, this.lineStarts, this.pathStarts, this.lineEnds);
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.uids[a]! - this.uids[b]! || a - b);
    const kept = order.filter((row, at) => at === 0 || this.uids[row] !== this.uids[order[at - 1]!]);
    const pick = <A extends Float64Array | Uint32Array>(from: A, make: (length: number) => A): A => {
      const to = make(kept.length);
      kept.forEach((row, at) => (to[at] = from[row]!));
      return to;
    };
    return new UidTable(
      this.bytes,
      kept.length,
      pick(this.uids, (l) => new Float64Array(l)),
      pick(this.sizes, (l) => new Float64Array(l)),
      pick(this.lineStarts, (l) => new Uint32Array(l)),
      pick(this.pathStarts, (l) => new Uint32Array(l)),
      pick(this.lineEnds, (l) => new Uint32Array(l)),
    );
  }
}

export class UidTable {
  constructor(
    /** The uid list file the rows point into. */
    readonly bytes: Buffer,
    readonly count: number,
    private readonly uids: Float64Array,
    private readonly sizes: Float64Array,
    /** Row i's line is bytes[lineStarts[i], lineEnds[i]), its `<subdir>/<name>` from pathStarts[i]. */
    private readonly lineStarts: Uint32Array,
    private readonly pathStarts: Uint32Array,
    private readonly lineEnds: Uint32Array,
  ) {}

  static empty(): UidTable {
    const none = new Uint32Array(0);
    return new UidTable(Buffer.alloc(0), 0, new Float64Array(0), new Float64Array(0), none, none, none);
  }

  uid(i: number): number {
    return this.uids[i]!;
  }

  /** Wire size (crlf-size.ts), cached in the uid list so later logins never read the message. */
  size(i: number): number {
    return this.sizes[i]!;
  }

  subdir(i: number): MaildirSubdir {
    return this.bytes[this.pathStarts[i]!] === LETTER_N ? "new" : "cur";
  }

  /** Where the message was when the list was written. */
  file(i: number): MaildirFile {
    return { subdir: this.subdir(i), name: this.bytes.toString("utf8", this.pathStarts[i]! + 4, this.lineEnds[i]!) };
  }

  baseName(i: number): string {
    return maildirBaseName(this.file(i).name);
  }

  /** Row i as a message of a list being updated (uid-assignment.ts); it still points into the bytes. */
  message(i: number): MaildirMessage {
    return MaildirMessage.fromListLine(this.uids[i]!, this.sizes[i]!, this.subdir(i), this.bytes, this.lineStarts[i]!, this.pathStarts[i]!, this.lineEnds[i]!);
  }

  /** Every byte the table keeps alive: the list's bytes and the rows' whole backing buffers. */
  get byteLength(): number {
    const rows = [this.uids, this.sizes, this.lineStarts, this.pathStarts, this.lineEnds];
    return this.bytes.byteLength + rows.reduce((sum, row) => sum + row.buffer.byteLength, 0);
  }
}
