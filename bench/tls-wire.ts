/**
 * A lean POP3 client for the TLS benchmark, over pop3s (Bun.connect with tls) or plain TCP for
 * the same-run comparison. Lines are framed on CRLF; a multi-line body is only counted (each chunk
 * scanned for CRLF.CRLF, carrying the last bytes across chunks), so the client stays cheap.
 */
import type { Socket } from "bun";

const TERMINATOR = Buffer.from("\r\n.\r\n");
const CARRY = TERMINATOR.length - 1;

type Waiter =
  | { kind: "line"; resolve(line: string): void; reject(e: Error): void }
  | { kind: "body"; bytes: number; carry: Buffer; resolve(bytes: number): void; reject(e: Error): void };

export class TlsWire {
  private pending = Buffer.alloc(0);
  private waiter: Waiter | undefined;
  private socket: Socket<TlsWire> | undefined;
  private failure: Error | undefined;
  private closeWaiters: (() => void)[] = [];

  /** `tls: false` for a plain connection; pop3s clients skip verification (the figure is the server's). */
  static async connect(port: number, tls: boolean): Promise<TlsWire> {
    const wire = new TlsWire();
    wire.socket = await Bun.connect<TlsWire>({
      hostname: "127.0.0.1",
      port,
      data: wire,
      ...(tls ? { tls: { rejectUnauthorized: false } } : {}),
      socket: {
        data: (s, chunk) => s.data.onData(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)),
        close: (s) => s.data.onClose(new Error("connection closed by server")),
        end: (s) => s.data.onClose(new Error("connection closed by server")),
        error: (s, e) => s.data.onClose(e),
        connectError: (s, e) => s.data.onClose(e),
      },
    });
    return wire;
  }

  send(line: string): void {
    const n = this.socket!.write(line + "\r\n");
    if (n !== line.length + 2) throw new Error(`short write of "${line.split(" ")[0]}" (${n})`);
  }

  readLine(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiter = { kind: "line", resolve, reject };
      this.pump();
    });
  }

  async command(line: string): Promise<string> {
    this.send(line);
    const reply = await this.readLine();
    if (!reply.startsWith("+OK")) throw new Error(`${line.split(" ")[0]}: ${reply}`);
    return reply;
  }

  /** Sends a multi-line command and returns the body's wire bytes (terminator excluded). */
  async multiline(line: string): Promise<number> {
    await this.command(line);
    return new Promise((resolve, reject) => {
      this.waiter = { kind: "body", bytes: 0, carry: Buffer.from("\r\n"), resolve, reject };
      this.pump();
    });
  }

  closed(): Promise<void> {
    if (this.failure) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  close(): void {
    this.socket?.end();
  }

  private onData(chunk: Buffer): void {
    const w = this.waiter;
    if (w?.kind === "body" && this.pending.length === 0) return this.feedBody(w, chunk);
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    this.pump();
  }

  private onClose(error: Error): void {
    if (this.failure) return;
    this.failure = error;
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
    const eol = this.pending.indexOf("\r\n");
    if (eol < 0) return this.failIfClosed(w);
    const line = this.pending.toString("latin1", 0, eol);
    this.pending = this.pending.subarray(eol + 2);
    this.waiter = undefined;
    w.resolve(line);
  }

  private failIfClosed(w: Waiter): void {
    if (!this.failure) return;
    this.waiter = undefined;
    w.reject(this.failure);
  }

  private feedBody(w: Extract<Waiter, { kind: "body" }>, chunk: Buffer): void {
    const head = Buffer.concat([w.carry, chunk.subarray(0, CARRY)]);
    let end = head.indexOf(TERMINATOR);
    if (end >= 0) end = end + TERMINATOR.length - w.carry.length;
    else {
      const at = chunk.indexOf(TERMINATOR);
      end = at < 0 ? -1 : at + TERMINATOR.length;
    }
    if (end < 0) {
      w.bytes += chunk.length;
      w.carry = chunk.length >= CARRY ? chunk.subarray(chunk.length - CARRY) : Buffer.concat([w.carry, chunk]).subarray(-CARRY);
      return;
    }
    w.bytes += end - 3;
    this.pending = Buffer.from(chunk.subarray(end));
    this.waiter = undefined;
    w.resolve(w.bytes);
  }
}
