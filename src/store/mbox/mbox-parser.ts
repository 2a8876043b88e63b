/**
 * Splitting an mbox into messages (rules in mbox-format.ts) and measuring each one the way RETR
 * will send it: From_ line left out, quoted From_ lines unquoted, line ends as CRLF, a final CRLF
 * added when the last line has none (crlf-size.ts).
 *
 * With `contentLength` on, a `Content-Length:` header is trusted when the byte it points at ends a
 * line and is followed by a From_ line (or a blank line and one, or the end of the file). Such a
 * message is read as mboxcl2 (Solaris mail): its body may hold unquoted From_ lines and is not
 * unquoted. Off (the default), Content-Length is ignored, as a sender can forge it.
 */
import { readSync } from "node:fs";
import { TimeSlicer } from "../fs/time-slice.ts";
import { isBlankLine, isFromLine, isQuotedFromLine, MAX_FROM_LINE_BYTES, type FromQuoting } from "./mbox-format.ts";
import { LineSplitter, type LineSink } from "./line-splitter.ts";
import { messageIdentity } from "./message-identity.ts";

/** Header bytes kept per message for the identity digest; fields further down do not count. */
const MAX_HEADER_BYTES = 64 * 1024;
const LF = 10;
const CR = 13;

export interface ParseOptions {
  readonly quoting: FromQuoting;
  readonly contentLength: boolean;
}

export interface ScannedMessage {
  /** Offset of the From_ line. */
  readonly offset: number;
  /** First byte after the From_ line. */
  readonly contentStart: number;
  /** End of the message, before the blank separator line. */
  readonly contentEnd: number;
  /** Octets RETR sends before dot-stuffing. */
  readonly wireSize: number;
  /** Body size as sent (CRLF-counted, before unquoting): part of the identity, unaffected by header edits. */
  readonly bodySize: number;
  /** crc32 of the From_ line, to check that a message is still where the index says. */
  readonly fromCrc: number;
  readonly key: string;
  readonly xUidl: string | undefined;
  /** Whether RETR drops a `>` from quoted From_ lines (false for Content-Length-delimited messages). */
  readonly unquote: boolean;
}

export interface ScanResult {
  readonly messages: ScannedMessage[];
  /** Non-blank text before the first From_ line: not an mbox. */
  readonly junkBeforeFirstMessage: boolean;
  /** Where the scan ended (the file size it saw). */
  readonly end: number;
}

/** Reads `length` bytes at `position` (fewer at the end of the file). */
export type Peek = (position: number, length: number) => Buffer;

interface Building {
  offset: number;
  contentStart: number;
  fromCrc: number;
  fromLine: string;
  rawWire: number;
  quoted: number;
  lastHasLF: boolean;
  inHeaders: boolean;
  headerChunks: Buffer[];
  headerBytes: number;
  headerWire: number;
  contentLength: number | undefined;
  contentLengthDecided: boolean;
  /** End of the body by a trusted Content-Length. */
  contentLengthEnd: number | undefined;
}

interface PendingBlank {
  offset: number;
}

const CONTENT_LENGTH = /^content-length:[ \t]*(\d{1,15})[ \t]*\r?\n?$/i;

export class MboxParser implements LineSink {
  readonly messages: ScannedMessage[] = [];
  junkBeforeFirstMessage = false;
  private current: Building | undefined;
  /** A blank line that separates messages if a From_ line follows, else belongs to the message. */
  private pending: PendingBlank | undefined;
  /** The scan starts at a file start or at a From_ line, both message starts. */
  private afterBlank = true;

  constructor(
    private readonly options: ParseOptions,
    private readonly scanEnd: number,
    private readonly peek: Peek,
  ) {}

  line(head: Buffer, headStart: number, headEnd: number, offset: number, length: number, hasLF: boolean, crlf: boolean): void {
    const cur = this.current;
    const blank = hasLF && isBlankLine(head, headStart, length);
    if (cur !== undefined && this.pending !== undefined && cur.inHeaders && cur.contentLength !== undefined && !cur.contentLengthDecided) {
      this.decideContentLength(cur, offset);
    }
    const clEnd = cur?.contentLengthEnd;
    if (cur !== undefined && clEnd !== undefined && offset < clEnd) {
      this.commitPending(cur);
      this.addLine(cur, head, headStart, headEnd, length, hasLF, crlf);
      this.afterBlank = blank;
      return;
    }
    if ((this.afterBlank || clEnd === offset) && isFromLine(head, headStart, length)) {
      this.finish(offset);
      this.start(head, headStart, offset, length);
      return;
    }
    if (cur === undefined) {
      if (!blank) this.junkBeforeFirstMessage = true;
      this.afterBlank = blank;
      return;
    }
    // Past a trusted end without a From_ line after all (the file changed since the check): the
    // message goes on by the From_ rules. The one blank line at the end may still be the separator.
    if (clEnd !== undefined && !(blank && offset === clEnd)) cur.contentLengthEnd = undefined;
    this.commitPending(cur);
    if (blank) this.pending = { offset };
    else this.addLine(cur, head, headStart, headEnd, length, hasLF, crlf);
    this.afterBlank = blank;
  }

  /** Ends the last message where the scan ended. */
  end(at: number): void {
    this.finish(at);
  }

  private start(head: Buffer, headStart: number, offset: number, length: number): void {
    const fromLine = head.subarray(headStart, headStart + length);
    this.current = {
      offset,
      contentStart: offset + length,
      fromCrc: Bun.hash.crc32(fromLine),
      fromLine: fromLine.toString("latin1"),
      rawWire: 0,
      quoted: 0,
      lastHasLF: true,
      inHeaders: true,
      headerChunks: [],
      headerBytes: 0,
      headerWire: 0,
      contentLength: undefined,
      contentLengthDecided: false,
      contentLengthEnd: undefined,
    };
    this.pending = undefined;
    this.afterBlank = false;
  }

  private commitPending(cur: Building): void {
    if (this.pending === undefined) return;
    this.pending = undefined;
    cur.rawWire += 2;
    cur.lastHasLF = true;
    if (cur.inHeaders) {
      cur.inHeaders = false;
      cur.headerWire = cur.rawWire;
    }
  }

  private addLine(cur: Building, head: Buffer, headStart: number, headEnd: number, length: number, hasLF: boolean, crlf: boolean): void {
    cur.rawWire += length + (hasLF && !crlf ? 1 : 0);
    cur.lastHasLF = hasLF;
    if (isQuotedFromLine(head, headStart, headEnd, this.options.quoting)) cur.quoted++;
    if (!cur.inHeaders || cur.headerBytes >= MAX_HEADER_BYTES) return;
    const take = Math.min(headEnd - headStart, MAX_HEADER_BYTES - cur.headerBytes);
    const bytes = Buffer.from(head.subarray(headStart, headStart + take));
    cur.headerChunks.push(bytes);
    cur.headerBytes += take;
    if (this.options.contentLength && cur.contentLength === undefined && (bytes[0] | 0x20) === 0x63) {
      const match = CONTENT_LENGTH.exec(bytes.toString("latin1"));
      if (match !== null) cur.contentLength = Number(match[1]);
    }
  }

  private finish(nextOffset: number): void {
    const cur = this.current;
    if (cur === undefined) return;
    this.current = undefined;
    // With a trusted Content-Length of 0 the header's blank line is inside the message.
    if (this.pending !== undefined && cur.contentLengthEnd !== undefined && this.pending.offset < cur.contentLengthEnd) this.commitPending(cur);
    const contentEnd = cur.contentLengthEnd ?? this.pending?.offset ?? nextOffset;
    this.pending = undefined;
    const unquote = cur.contentLengthEnd === undefined;
    const headerWire = cur.inHeaders ? cur.rawWire : cur.headerWire;
    const unterminated = cur.rawWire > 0 && !cur.lastHasLF ? 2 : 0;
    const identity = messageIdentity(cur.fromLine, Buffer.concat(cur.headerChunks).toString("latin1"));
    this.messages.push({
      offset: cur.offset,
      contentStart: cur.contentStart,
      contentEnd,
      wireSize: cur.rawWire - (unquote ? cur.quoted : 0) + unterminated,
      bodySize: cur.rawWire - headerWire + unterminated,
      fromCrc: cur.fromCrc,
      key: identity.key,
      xUidl: identity.xUidl,
      unquote,
    });
  }

  /**
   * The header block ended with the blank line before `bodyStart`. Trust Content-Length only if it
   * lands on a line start followed by a From_ line (directly or after a blank line) or the end.
   */
  private decideContentLength(cur: Building, bodyStart: number): void {
    cur.contentLengthDecided = true;
    const end = bodyStart + cur.contentLength!;
    if (end > this.scanEnd) return;
    if (end < this.scanEnd) {
      const bytes = this.peek(end - 1, MAX_FROM_LINE_BYTES + 3);
      if (bytes[0] !== LF) return;
      let at = 1;
      if (bytes[at] === LF) at += 1;
      else if (bytes[at] === CR && bytes[at + 1] === LF) at += 2;
      const reachesEnd = end - 1 + bytes.length === this.scanEnd;
      if (at === bytes.length && reachesEnd) {
        cur.contentLengthEnd = end;
        return;
      }
      const lf = bytes.indexOf(LF, at);
      const lineEnd = lf >= 0 ? lf + 1 : reachesEnd ? bytes.length : -1;
      if (lineEnd < 0 || !isFromLine(bytes, at, lineEnd - at)) return;
    }
    cur.contentLengthEnd = end;
  }
}

/** A Peek reading from `fd`, never past `end`. */
export function filePeek(fd: number, end: number): Peek {
  return (position, length) => {
    const buffer = Buffer.alloc(Math.max(0, Math.min(length, end - position)));
    let got = 0;
    while (got < buffer.length) {
      const n = readSync(fd, buffer, got, buffer.length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return buffer.subarray(0, got);
  };
}

/**
 * Parse `fd` from `start` (the file start or a From_ line) to `end`, one chunk at a time, yielding
 * to the event loop whenever a time slice is used up, so a big first scan does not stall the other
 * sessions of the process.
 */
export async function scanMbox(fd: number, start: number, end: number, options: ParseOptions, chunkBytes?: number): Promise<ScanResult> {
  const splitter = new LineSplitter(fd, start, end, chunkBytes);
  const parser = new MboxParser(options, end, filePeek(fd, end));
  const slicer = new TimeSlicer();
  while (splitter.step(parser)) await slicer.pause();
  return finishScan(parser, splitter);
}

/** The same without yielding (tests). */
export function scanMboxSync(fd: number, start: number, end: number, options: ParseOptions, chunkBytes?: number): ScanResult {
  const splitter = new LineSplitter(fd, start, end, chunkBytes);
  const parser = new MboxParser(options, end, filePeek(fd, end));
  splitter.run(parser);
  return finishScan(parser, splitter);
}

function finishScan(parser: MboxParser, splitter: LineSplitter): ScanResult {
  parser.end(splitter.endOffset);
  return { messages: parser.messages, junkBeforeFirstMessage: parser.junkBeforeFirstMessage, end: splitter.endOffset };
}
