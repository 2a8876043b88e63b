/**
 * Streaming RETR/TOP body encoder (pop3d.c:blat): turns raw message bytes into wire bytes chunk by chunk —
 * bare LF becomes CRLF, a line starting with "." gets another ".", and a final line without LF gets
 * CRLF. TOP mode stops after the header block plus `bodyLines` body lines. It keeps only a few
 * flags between chunks, so memory does not grow with message size.
 */
const LF = 10;
const CR = 13;
const DOT = 46;

export class DotStuffer {
  private atLineStart = true;
  private lastWasCR = false;
  /** TOP: bytes of the current line so far (to recognise the blank header/body separator). */
  private lineLength = 0;
  private inHeaders: boolean;
  private bodyLinesLeft: number;
  /** True once TOP has sent everything it should; further input is ignored. */
  done = false;

  /** `bodyLines` < 0 means the whole message (RETR). */
  constructor(bodyLines = -1) {
    this.inHeaders = bodyLines >= 0;
    this.bodyLinesLeft = bodyLines;
  }

  /**
   * Encode `input` into `out` (which must hold 2 * input.length + 2 bytes) and return the number
   * of bytes written. `out` may be a buffer shared by every session: use the bytes before the next call.
   */
  push(input: Buffer, out: Buffer): number {
    if (this.done) return 0;
    return this.inHeaders || this.bodyLinesLeft >= 0 ? this.pushCounting(input, out) : this.pushFast(input, out);
  }

  /** Bytes to send after the last chunk: CRLF when the message did not end with a line break. */
  finish(): string {
    return !this.done && !this.atLineStart ? "\r\n" : "";
  }

  private pushFast(input: Buffer, out: Buffer): number {
    let o = 0;
    let i = 0;
    const n = input.length;
    while (i < n) {
      const lf = input.indexOf(LF, i);
      const end = lf < 0 ? n : lf;
      if (this.atLineStart && end > i && input[i] === DOT) out[o++] = DOT;
      if (end > i) {
        o += input.copy(out, o, i, end);
        this.lastWasCR = input[end - 1] === CR;
      }
      if (lf < 0) {
        this.atLineStart = false;
        break;
      }
      // lastWasCR is false at a line start, so an LF right after an LF gets its CR too
      if (!this.lastWasCR) out[o++] = CR;
      out[o++] = LF;
      this.atLineStart = true;
      this.lastWasCR = false;
      i = lf + 1;
    }
    return o;
  }

  /** TOP path: the same encoding, line by line, tracking the header block and the body budget. */
  private pushCounting(input: Buffer, out: Buffer): number {
    let o = 0;
    let i = 0;
    const n = input.length;
    while (i < n && !this.done) {
      const lf = input.indexOf(LF, i);
      const end = lf < 0 ? n : lf;
      if (this.atLineStart && end > i && input[i] === DOT) out[o++] = DOT;
      if (end > i) {
        o += input.copy(out, o, i, end);
        this.lastWasCR = input[end - 1] === CR;
        this.lineLength += end - i;
      }
      if (lf < 0) {
        this.atLineStart = false;
        break;
      }
      if (!this.lastWasCR) out[o++] = CR;
      out[o++] = LF;
      const blank = this.lineLength === 0 || (this.lineLength === 1 && this.lastWasCR);
      this.atLineStart = true;
      this.lastWasCR = false;
      this.lineLength = 0;
      i = lf + 1;
      if (this.inHeaders) {
        if (blank) {
          this.inHeaders = false;
          if (this.bodyLinesLeft === 0) this.done = true;
        }
      } else if (--this.bodyLinesLeft === 0) {
        this.done = true;
      }
    }
    return o;
  }
}

/** Output buffer size needed for an input chunk of `inputLength` bytes. */
export const stuffedCapacity = (inputLength: number) => inputLength * 2 + 2;
