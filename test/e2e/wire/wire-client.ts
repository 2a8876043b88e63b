/**
 * A byte-exact POP3 client for wire tests: it sends raw bytes and hands back exactly what the server
 * wrote, so tests can check every octet (CRLF, trailing spaces, dot-stuffing) rather than parsed values.
 */
import type { Socket } from "bun";

/** Guard against a server that never answers: a read fails with what was received so far, instead of
 *  hanging until the test runner's timeout. Generous on purpose; no test measures time. */
const READ_GUARD_MS = 20_000;

/** The multi-line terminator as it follows the CRLF of the last data line (RFC 1939 section 3). */
const TERMINATOR_AFTER_LINE = Buffer.from("\r\n.\r\n", "latin1");
const TERMINATOR_ALONE = Buffer.from(".\r\n", "latin1");

export interface MultiLine {
  /** Everything between the status line and the terminating ".\r\n", exactly as sent (dot-stuffed). */
  wire: Buffer;
  /** `wire` with one leading "." removed from every line that starts with "." (RFC 1939 section 3). */
  body: Buffer;
  /** The lines of `wire` without their CRLF, decoded as UTF-8. */
  lines: string[];
}

export class WireClient {
  greeting = "";
  private buf = Buffer.alloc(64 * 1024);
  private start = 0;
  private end = 0;
  private eof = false;
  private waiter: (() => void) | undefined;
  private socket!: Socket<undefined>;
  private outQueue: Uint8Array[] = [];
  private shutdownPending = false;
  private closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  private constructor() {
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Connect to 127.0.0.1:`port` and read the greeting line. */
  static async connect(port: number): Promise<WireClient> {
    const client = new WireClient();
    client.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      allowHalfOpen: true,
      socket: {
        data: (_s, chunk) => client.push(chunk),
        drain: () => client.flushOut(),
        end: () => client.markEof(),
        close: () => client.markEof(),
        error: () => client.markEof(),
      },
    });
    client.greeting = await client.readLine();
    return client;
  }

  /** Raw bytes, exactly as given (strings as latin1): the caller adds CRLF. Order is kept; what the
   *  kernel does not take now is written on drain. */
  send(raw: string | Uint8Array): void {
    const bytes = typeof raw === "string" ? Buffer.from(raw, "latin1") : raw;
    this.outQueue.push(bytes);
    this.flushOut();
  }

  private flushOut(): void {
    while (this.outQueue.length > 0) {
      const head = this.outQueue[0]!;
      const n = this.socket.write(head);
      if (n < 0) throw new Error("write on a closed connection");
      if (n < head.length) {
        this.outQueue[0] = head.subarray(n);
        return;
      }
      this.outQueue.shift();
    }
    if (this.shutdownPending) {
      this.shutdownPending = false;
      this.socket.shutdown();
    }
  }

  /** `line` + CRLF, then the first response line. */
  async cmd(line: string): Promise<string> {
    this.send(line + "\r\n");
    return this.readLine();
  }

  /** One line without its CRLF (latin1, so every byte survives). A line not ending in CRLF is an error. */
  async readLine(): Promise<string> {
    const raw = await this.readRawLine();
    if (raw.length < 2 || raw[raw.length - 2] !== 13) {
      throw new Error(`server line does not end in CRLF: ${JSON.stringify(raw.toString("latin1"))}`);
    }
    return raw.subarray(0, raw.length - 2).toString("latin1");
  }

  /** A multi-line block after its status line, up to and including the ".\r\n" terminator. */
  async readMultiline(): Promise<MultiLine> {
    // Offsets relative to `start`: push() may move the unread bytes to the front of the buffer.
    let scanned = 0;
    for (;;) {
      if (this.end - this.start >= 3 && this.buf.subarray(this.start, this.start + 3).equals(TERMINATOR_ALONE)) {
        this.start += 3;
        return { wire: Buffer.alloc(0), body: Buffer.alloc(0), lines: [] };
      }
      const at = this.buf.subarray(this.start, this.end).indexOf(TERMINATOR_AFTER_LINE, scanned);
      if (at >= 0) {
        const wire = Buffer.from(this.buf.subarray(this.start, this.start + at + 2));
        this.start += at + TERMINATOR_AFTER_LINE.length;
        return { wire, body: unstuff(wire), lines: splitLines(wire) };
      }
      scanned = Math.max(0, this.end - this.start - TERMINATOR_AFTER_LINE.length);
      await this.more("a multi-line terminator");
    }
  }

  /** Status line and block together, for the common "+OK ...\r\n<block>.\r\n" response. */
  async multiline(command: string): Promise<{ status: string } & MultiLine> {
    const status = await this.cmd(command);
    if (!status.startsWith("+OK")) return { status, wire: Buffer.alloc(0), body: Buffer.alloc(0), lines: [] };
    return { status, ...(await this.readMultiline()) };
  }

  /**
   * Wait for the server to close the connection and return whatever it sent before closing
   * (latin1). Tests use it to check that nothing unexpected was written.
   */
  async readToEnd(): Promise<string> {
    while (!this.eof) await this.more("the server closing the connection");
    const rest = this.buf.subarray(this.start, this.end).toString("latin1");
    this.start = this.end;
    return rest;
  }

  /** Resolves once the server has closed (FIN or reset). */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  get isClosed(): boolean {
    return this.eof;
  }

  /** shutdown(SHUT_WR): the server sees EOF but can still answer. */
  halfClose(): void {
    this.shutdownPending = true;
    this.flushOut();
  }

  /** Drop the connection without QUIT. */
  close(): void {
    this.socket.end();
  }

  private async readRawLine(): Promise<Buffer> {
    let scanned = 0;
    for (;;) {
      const nl = this.buf.subarray(this.start, this.end).indexOf(10, scanned);
      if (nl >= 0) {
        const line = Buffer.from(this.buf.subarray(this.start, this.start + nl + 1));
        this.start += nl + 1;
        return line;
      }
      scanned = this.end - this.start;
      await this.more("a line");
    }
  }

  private more(what: string): Promise<void> {
    if (this.eof) {
      const pending = this.buf.subarray(this.start, this.end).toString("latin1");
      return Promise.reject(new Error(`connection closed while waiting for ${what}; unread: ${JSON.stringify(pending.slice(0, 300))}`));
    }
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        this.waiter = undefined;
        const pending = this.buf.subarray(this.start, this.end).toString("latin1");
        reject(new Error(`no ${what} from the server; unread: ${JSON.stringify(pending.slice(0, 300))}`));
      }, READ_GUARD_MS);
      this.waiter = () => {
        clearTimeout(guard);
        resolve();
      };
    });
  }

  private push(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      const needed = live + chunk.length;
      const next = needed * 2 > this.buf.length ? Buffer.alloc(Math.max(needed * 2, this.buf.length)) : this.buf;
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    this.wake();
  }

  private markEof(): void {
    if (!this.eof) {
      this.eof = true;
      this.resolveClosed();
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

function splitLines(wire: Buffer): string[] {
  if (wire.length === 0) return [];
  const text = wire.toString("utf8");
  return text.slice(0, -2).split("\r\n");
}

/** Remove the dot-stuffing: one "." from the start of every line that begins with ".". */
export function unstuff(wire: Buffer): Buffer {
  const out = Buffer.alloc(wire.length);
  let o = 0;
  let lineStart = true;
  for (let i = 0; i < wire.length; i++) {
    const b = wire[i]!;
    if (lineStart && b === 0x2e) {
      lineStart = false;
      continue;
    }
    out[o++] = b;
    lineStart = b === 10;
  }
  return out.subarray(0, o);
}
