/**
 * One message of an mbox, read straight from its byte range in the file with quoted From_ lines
 * unquoted on the way (mbox-format.ts); the session then turns line ends into CRLF and dot-stuffs.
 * Nothing but the caller's buffer and a small look-ahead is held, whatever the message size.
 */
import { readSync } from "node:fs";
import { StoreError, type MessageSource } from "../maildrop.ts";
import { isQuotedFromLine, QUOTE_LOOKAHEAD_BYTES, type FromQuoting } from "./mbox-format.ts";

const LF = 10;
const GT = 62;
const NEWLINE_QUOTE = Buffer.from("\n>", "latin1");

const lookahead = Buffer.allocUnsafe(QUOTE_LOOKAHEAD_BYTES);

export class MboxMessageSource implements MessageSource {
  private position: number;
  private atLineStart = true;
  private closed = false;

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number,
    /** "none" for messages that are sent as stored (Content-Length-delimited ones). */
    private readonly quoting: FromQuoting,
    private readonly describe: string,
  ) {
    this.position = start;
  }

  read(into: Buffer): number {
    for (;;) {
      if (this.closed || this.position >= this.end || into.length === 0) return 0;
      const n = this.readChunk(into, Math.min(into.length, this.end - this.position));
      const endsLine = into[n - 1] === LF;
      const kept = this.quoting === "none" ? n : this.unquote(into, n);
      this.atLineStart = endsLine;
      this.position += n;
      // A chunk that was a lone dropped `>` yields nothing; 0 would read as the end of the message.
      if (kept > 0) return kept;
    }
  }

  close(): void {
    this.closed = true;
  }

  private readChunk(into: Buffer, want: number): number {
    try {
      const n = readSync(this.fd, into, 0, want, this.position);
      if (n > 0) return n;
    } catch (error) {
      throw new StoreError("perm", "Could not read message file", `${this.describe}: ${error instanceof Error ? error.message : String(error)}`);
    }
    throw new StoreError("perm", "Could not read message file", `${this.describe}: the file ends at ${this.position}, before the message (to ${this.end})`);
  }

  /** Whether the line starting at chunk offset `at` (file position position + at) is a quoted From_ line. */
  private quotedAt(chunk: Buffer, at: number, n: number): boolean {
    if (chunk[at] !== GT) return false;
    const available = this.end - (this.position + at);
    if (n - at >= Math.min(QUOTE_LOOKAHEAD_BYTES, available)) return isQuotedFromLine(chunk, at, n, this.quoting);
    // The line start is near the end of this chunk: decide from the file, as the parser did.
    const want = Math.min(QUOTE_LOOKAHEAD_BYTES, available);
    let got = 0;
    while (got < want) {
      const r = readSync(this.fd, lookahead, got, want - got, this.position + at + got);
      if (r === 0) break;
      got += r;
    }
    return isQuotedFromLine(lookahead, 0, got, this.quoting);
  }

  /** Drops one `>` from every quoted From_ line starting in chunk[0, n); returns the bytes kept. */
  private unquote(chunk: Buffer, n: number): number {
    const data = chunk.subarray(0, n);
    let write = 0;
    let read = 0;
    if (this.atLineStart && this.quotedAt(chunk, 0, n)) read = 1;
    for (let at = data.indexOf(NEWLINE_QUOTE, 0); at >= 0; at = data.indexOf(NEWLINE_QUOTE, at + 1)) {
      if (!this.quotedAt(chunk, at + 1, n)) continue;
      if (write !== read) chunk.copy(chunk, write, read, at + 1);
      write += at + 1 - read;
      read = at + 2;
    }
    if (read === 0) return n;
    if (write !== read) chunk.copy(chunk, write, read, n);
    return write + n - read;
  }
}
