/**
 * A lean POP3 client connection for load generation. Single-line replies are framed on CRLF;
 * multi-line bodies are never split into lines: each chunk is scanned for the terminating
 * "CRLF.CRLF" with Buffer.indexOf (the last four bytes of the previous chunk are carried so a
 * terminator split across chunks is still found) and only its byte count is kept, unless the
 * caller asks for the body. The client must not be the bottleneck of what it measures.
 */
import type { Socket } from "bun";

const CRLF = Buffer.from("\r\n");
const TERMINATOR = Buffer.from("\r\n.\r\n");
/** Bytes kept from the end of one chunk to find a terminator that straddles two chunks. */
const CARRY = TERMINATOR.length - 1;

export interface BodyResult {
  /** Wire bytes of the body, dot-stuffing included, the terminating ".\r\n" excluded. */
  bytes: number;
  /** The raw (still dot-stuffed) body, only when it was asked for. */
  body?: Buffer;
}

type Waiter =
  | { kind: "line"; resolve(line: string): void; reject(e: Error): void }
  | { kind: "body"; keep: boolean; bytes: number; parts: Buffer[]; carry: Buffer; resolve(r: BodyResult): void; reject(e: Error): void };

export class PopWire {
  private pending: Buffer = Buffer.alloc(0);
  private waiter: Waiter | undefined;
  private socket: Socket<PopWire> | undefined;
  private closedError: Error | undefined;
  private closeWaiters: (() => void)[] = [];
  /** Bytes received over the connection's lifetime. */
  received = 0;

  /** `tls`: pop3s, without certificate verification (the figures are the server's). */
  static async connect(hostname: string, port: number, options: { tls?: boolean } = {}): Promise<PopWire> {
    const wire = new PopWire();
    wire.socket = await Bun.connect<PopWire>({
      hostname,
      port,
      data: wire,
      ...(options.tls ? { tls: { rejectUnauthorized: false } } : {}),
      socket: {
        data: (s, chunk) => s.data.onData(chunk),
        close: (s) => s.data.onClose(new Error("connection closed by server")),
        end: (s) => s.data.onClose(new Error("connection closed by server")),
        error: (s, e) => s.data.onClose(e),
        drain: () => {},
      },
    });
    return wire;
  }

  /** Our end's port: with the server's port it names the connection in /proc/net/tcp. */
  get localPort(): number {
    return this.socket?.localPort ?? 0;
  }

  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  /** Commands are a few bytes: one write always takes them whole on a fresh socket buffer. */
  send(line: string): void {
    const n = this.socket!.write(line + "\r\n");
    if (n !== line.length + 2) throw new Error(`short write of "${line.split(" ")[0]}" (${n} bytes)`);
  }

  readLine(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiter = { kind: "line", resolve, reject };
      this.pump();
    });
  }

  /** Read a multi-line body after its +OK line was read; `keep` retains the bytes. */
  readBody(keep = false): Promise<BodyResult> {
    return new Promise((resolve, reject) => {
      // The status line's CRLF counts as the start of the body, so an empty body ".\r\n" matches too.
      this.waiter = { kind: "body", keep, bytes: 0, parts: [], carry: CRLF, resolve, reject };
      this.pump();
    });
  }

  /** Send a command and return its first reply line; throws on -ERR. */
  async command(line: string): Promise<string> {
    this.send(line);
    const reply = await this.readLine();
    if (!reply.startsWith("+")) throw new Error(`${line.split(" ")[0]}: ${reply}`);
    return reply;
  }

  async multiline(line: string, keep = false): Promise<BodyResult> {
    await this.command(line);
    return this.readBody(keep);
  }

  close(): void {
    this.socket?.end();
  }

  /** Resolves once the server has closed the connection (after QUIT). */
  closed(): Promise<void> {
    if (this.closedError) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    const w = this.waiter;
    if (w?.kind === "body" && this.pending.length === 0) return this.feedBody(w, chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pump();
  }

  private onClose(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(error);
    for (const wake of this.closeWaiters.splice(0)) wake();
  }

  private pump(): void {
    const w = this.waiter;
    if (!w) return;
    if (w.kind === "body") {
      if (this.pending.length === 0) return this.failIfClosed(w);
      const chunk = this.pending;
      this.pending = Buffer.alloc(0);
      return this.feedBody(w, chunk);
    }
    const eol = this.pending.indexOf(CRLF);
    if (eol < 0) return this.failIfClosed(w);
    const line = this.pending.toString("latin1", 0, eol);
    this.pending = this.pending.subarray(eol + 2);
    this.waiter = undefined;
    w.resolve(line);
  }

  private failIfClosed(w: Waiter): void {
    if (!this.closedError) return;
    this.waiter = undefined;
    w.reject(this.closedError);
  }

  private feedBody(w: Extract<Waiter, { kind: "body" }>, chunk: Buffer): void {
    const end = findTerminator(w.carry, chunk);
    if (end === NOT_FOUND) {
      w.bytes += chunk.length;
      if (w.keep) w.parts.push(chunk);
      w.carry = chunk.length >= CARRY ? chunk.subarray(chunk.length - CARRY) : Buffer.concat([w.carry, chunk]).subarray(-CARRY);
      return;
    }
    // `end` is the offset in `chunk` just past ".\r\n"; the body proper ends 3 bytes earlier
    // (it may end inside the carried bytes when the terminator straddles the chunks).
    const bodyPart = end - 3;
    w.bytes += bodyPart;
    if (w.keep && bodyPart > 0) w.parts.push(chunk.subarray(0, bodyPart));
    this.pending = chunk.subarray(end);
    this.waiter = undefined;
    if (!w.keep) return w.resolve({ bytes: w.bytes });
    const body = Buffer.concat(w.parts);
    w.resolve({ bytes: w.bytes, body: bodyPart < 0 ? body.subarray(0, body.length + bodyPart) : body });
  }
}

const NOT_FOUND = -1;

/**
 * Offset in `chunk` just past the first "\r\n.\r\n" found in carry+chunk, or NOT_FOUND. The
 * boundary region (carry plus the chunk's first bytes) is searched in a small copy; the chunk
 * itself is searched in place.
 */
function findTerminator(carry: Buffer, chunk: Buffer): number {
  if (carry.length > 0) {
    const head = Buffer.concat([carry, chunk.subarray(0, CARRY)]);
    const at = head.indexOf(TERMINATOR);
    if (at >= 0) return at + TERMINATOR.length - carry.length;
  }
  const at = chunk.indexOf(TERMINATOR);
  return at < 0 ? NOT_FOUND : at + TERMINATOR.length;
}
