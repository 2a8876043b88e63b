/**
 * Reads a byte range of a file as lines, in chunks, without holding the file: each line is reported
 * with its offset, length (LF included), whether its LF is preceded by CR, and its first
 * LINE_HEAD_BYTES bytes. Lines longer than the chunk are followed to their end without buffering.
 */
import { readSync } from "node:fs";
import { LINE_HEAD_BYTES } from "./mbox-format.ts";

const LF = 10;
const CR = 13;

/** readSync into one reused buffer is the fastest way to stream a file (measured with Bun 1.4.4). */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

export interface LineSink {
  /**
   * One line: `head[headStart, headEnd)` are its first min(length, LINE_HEAD_BYTES) bytes, valid only
   * during the call. `hasLF` is false only for a last line without one; `crlf` says its LF follows a CR.
   */
  line(head: Buffer, headStart: number, headEnd: number, offset: number, length: number, hasLF: boolean, crlf: boolean): void;
}

interface LongLine {
  offset: number;
  length: number;
  headLength: number;
  lastByte: number;
}

export class LineSplitter {
  private readonly buffer: Buffer;
  /** Bytes carried over at the front of `buffer` (an unfinished line). */
  private carried = 0;
  /** File offset of buffer[0]. */
  private bufferOffset: number;
  private readOffset: number;
  private long: LongLine | undefined;
  private longHead: Buffer | undefined;
  private finished = false;

  constructor(
    private readonly fd: number,
    start: number,
    private end: number,
    chunkBytes = SCAN_CHUNK_BYTES,
  ) {
    this.buffer = Buffer.allocUnsafe(chunkBytes);
    this.bufferOffset = start;
    this.readOffset = start;
  }

  /** Where reading stopped; less than the requested end when the file turned out shorter. */
  get endOffset(): number {
    return this.end;
  }

  /** Reads and reports one chunk; false once every line has been reported. */
  step(sink: LineSink): boolean {
    if (this.finished) return false;
    const buffer = this.buffer;
    const want = Math.min(buffer.length - this.carried, this.end - this.readOffset);
    const got = want > 0 ? readSync(this.fd, buffer, this.carried, want, this.readOffset) : 0;
    // A file that shrank under us ends where it now ends; the caller checks sizes under its lock.
    if (got < want && got === 0) this.end = this.readOffset;
    this.readOffset += got;
    const eof = this.readOffset >= this.end;
    const valid = this.carried + got;
    const data = buffer.subarray(0, valid);
    let at = 0;

    if (this.long !== undefined) {
      const lf = data.indexOf(LF);
      if (lf < 0) {
        this.extendLong(data, 0, valid);
        this.carried = 0;
        this.bufferOffset = this.readOffset;
        if (eof) this.emitLong(sink, false, false);
        return this.finishIf(eof);
      }
      const crlf = lf > 0 ? data[lf - 1] === CR : this.long.lastByte === CR;
      this.extendLong(data, 0, lf + 1);
      this.emitLong(sink, true, crlf);
      at = lf + 1;
    }

    for (;;) {
      const lf = data.indexOf(LF, at);
      if (lf < 0) {
        if (at < valid && eof) {
          const length = valid - at;
          sink.line(buffer, at, at + Math.min(length, LINE_HEAD_BYTES), this.bufferOffset + at, length, false, false);
          at = valid;
        }
        if (at === valid) {
          this.carried = 0;
          this.bufferOffset += valid;
        } else if (at === 0 && valid === buffer.length) {
          this.long = { offset: this.bufferOffset, length: 0, headLength: 0, lastByte: -1 };
          this.extendLong(data, 0, valid);
          this.carried = 0;
          this.bufferOffset += valid;
        } else {
          buffer.copy(buffer, 0, at, valid);
          this.carried = valid - at;
          this.bufferOffset += at;
        }
        return this.finishIf(eof && this.carried === 0 && this.long === undefined);
      }
      const length = lf + 1 - at;
      sink.line(buffer, at, at + Math.min(length, LINE_HEAD_BYTES), this.bufferOffset + at, length, true, lf > at && data[lf - 1] === CR);
      at = lf + 1;
    }
  }

  /** Runs to the end (tests, and callers that need no pauses). */
  run(sink: LineSink): void {
    while (this.step(sink));
  }

  private finishIf(done: boolean): boolean {
    if (done) this.finished = true;
    return !done;
  }

  private extendLong(data: Buffer, from: number, to: number): void {
    const long = this.long!;
    if (long.headLength < LINE_HEAD_BYTES) {
      this.longHead ??= Buffer.allocUnsafe(LINE_HEAD_BYTES);
      const take = Math.min(LINE_HEAD_BYTES - long.headLength, to - from);
      data.copy(this.longHead, long.headLength, from, from + take);
      long.headLength += take;
    }
    long.length += to - from;
    if (to > from) long.lastByte = data[to - 1];
  }

  private emitLong(sink: LineSink, hasLF: boolean, crlf: boolean): void {
    const long = this.long!;
    this.long = undefined;
    sink.line(this.longHead!, 0, long.headLength, long.offset, long.length, hasLF, crlf);
  }
}
