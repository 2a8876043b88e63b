/**
 * A TCP (optionally TLS) connection from the frontend to a backend: line reads for the login
 * dialogue, STARTTLS, then raw relaying with backpressure. Bun sockets drop what write() does not
 * accept, so every byte goes through one queue that is resumed on drain; TLS writes return all or
 * nothing, plain TCP writes may be partial.
 */
import type { Socket, SocketHandler } from "bun";
import type { RelaySink } from "../pop3/backend-link.ts";
import { MAX_BACKEND_LINE } from "../limits.ts";

/** Bun's TLS options for the client side (certificate, key, CA, verification). */
export type ClientTlsOptions = Record<string, unknown>;

export class BackendSocketError extends Error {}

type AnySocket = Socket<undefined>;

export class BackendSocket {
  private socket!: AnySocket;
  private inbox = Buffer.alloc(0);
  private wakeReader: (() => void) | undefined;
  private sink: RelaySink | undefined;
  private queue: Buffer[] = [];
  private drainWaiters: (() => void)[] = [];
  private closing = false;
  private gone = false;
  private goneReason: string | undefined;
  /**
   * Bumped by STLS: the plaintext socket keeps getting events (its bytes are the TLS records), and
   * only the handlers of the current generation may act.
   */
  private generation = 0;
  private handshakeDone: ((error: string | undefined) => void) | undefined;
  tlsActive = false;

  private constructor() {}

  /** Connects (and completes the TLS handshake with `tls`) within `timeoutMs`, or throws BackendSocketError. */
  static async connect(host: string, port: number, tls: ClientTlsOptions | undefined, timeoutMs: number): Promise<BackendSocket> {
    const conn = new BackendSocket();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BackendSocketError(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const handshake = tls ? new Promise<string | undefined>((resolve) => (conn.handshakeDone = resolve)) : undefined;
    const opening = Bun.connect({ hostname: host, port, tls: tls as never, socket: conn.handlers() });
    try {
      conn.socket = (await Promise.race([opening, timeout])) as AnySocket;
      if (handshake) {
        const error = await Promise.race([handshake, timeout]);
        if (error !== undefined) throw new BackendSocketError(`TLS handshake failed: ${error}`);
        conn.tlsActive = true;
      }
      return conn;
    } catch (error) {
      // a connect that completes after the timeout must not leave a socket behind
      void opening.then((s) => s.terminate()).catch(() => {});
      if (error instanceof BackendSocketError) throw error;
      const e = error as NodeJS.ErrnoException;
      // the errno name (ECONNREFUSED, EHOSTUNREACH ...) is what an operator greps for
      throw new BackendSocketError(e.code ?? String(e.message ?? e));
    } finally {
      clearTimeout(timer);
    }
  }

  private handlers(): SocketHandler<undefined> {
    const mine = this.generation;
    const current = () => mine === this.generation;
    return {
      data: (_s, chunk) => {
        if (!current()) return;
        if (this.sink) this.sink.data(chunk);
        else {
          this.inbox = this.inbox.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.inbox, chunk]);
          this.wake();
        }
      },
      drain: () => {
        if (current()) this.onDrain();
      },
      handshake: (_s, ok, error) => {
        const done = this.handshakeDone;
        this.handshakeDone = undefined;
        done?.(ok ? undefined : (error?.message ?? "no details"));
      },
      end: () => {
        if (current()) this.markGone("closed by the backend");
      },
      close: (_s, error) => {
        if (current()) this.markGone(error ? `connection error: ${(error as Error).message ?? error}` : "closed by the backend");
      },
      error: (_s, error) => {
        if (current()) this.markGone(`connection error: ${error.message}`);
      },
    };
  }

  /** The next line without its CRLF (at most MAX_BACKEND_LINE bytes), or null at EOF or timeout. */
  async readLine(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lf = this.inbox.indexOf(10);
      if (lf >= 0 || this.inbox.length >= MAX_BACKEND_LINE) {
        const cut = lf >= 0 ? lf + 1 : MAX_BACKEND_LINE;
        const line = this.inbox.subarray(0, cut).toString("latin1");
        this.inbox = Buffer.from(this.inbox.subarray(cut));
        return line.replace(/\r?\n$/, "");
      }
      if (this.gone) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Why the connection is gone, once it is. */
  get endReason(): string | undefined {
    return this.goneReason;
  }

  /** STARTTLS after the backend said +OK to STLS; resolves with an error text, or undefined. */
  async startTls(tls: ClientTlsOptions, timeoutMs: number): Promise<string | undefined> {
    const handshake = new Promise<string | undefined>((resolve) => (this.handshakeDone = resolve));
    this.generation++;
    // bytes sent before the switch are plaintext the backend may not have sent (STARTTLS injection)
    this.inbox = Buffer.alloc(0);
    const upgraded = (this.socket as unknown as { upgradeTLS(o: unknown): [AnySocket, AnySocket] }).upgradeTLS({
      data: undefined,
      tls,
      socket: this.handlers(),
    });
    this.socket = upgraded[1];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const error = await Promise.race([
      handshake,
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`timed out after ${timeoutMs} ms`), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (error === undefined) this.tlsActive = true;
    return error;
  }

  /** Relay from now on: what arrived after the last line read is handed over first. */
  attach(sink: RelaySink): void {
    this.sink = sink;
    const early = this.inbox;
    this.inbox = Buffer.alloc(0);
    if (early.length > 0) sink.data(early);
    if (this.gone) sink.end(this.goneReason);
  }

  write(data: Uint8Array): boolean {
    if (this.gone) return true;
    if (this.queue.length > 0) {
      this.queue.push(Buffer.from(data));
      return false;
    }
    const sent = this.socket.write(data);
    if (sent === data.length) return true;
    if (sent < 0) {
      this.markGone("write failed");
      return true;
    }
    this.queue.push(Buffer.from(data.subarray(Math.max(sent, 0))));
    return false;
  }

  drained(): Promise<void> {
    if (this.queue.length === 0 || this.gone) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  pauseInput(): void {
    if (!this.gone) this.socket.pause();
  }

  resumeInput(): void {
    if (!this.gone) this.socket.resume();
  }

  close(): void {
    if (this.closing || this.gone) return;
    this.closing = true;
    if (this.queue.length === 0) this.socket.end();
  }

  private onDrain(): void {
    while (this.queue.length > 0 && !this.gone) {
      const head = this.queue[0]!;
      const sent = this.socket.write(head);
      if (sent < 0) return this.markGone("write failed");
      if (sent < head.length) {
        this.queue[0] = head.subarray(Math.max(sent, 0));
        return;
      }
      this.queue.shift();
    }
    this.settled();
  }

  private settled(): void {
    if (this.queue.length > 0 && !this.gone) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
    if (this.closing && !this.gone) this.socket.end();
  }

  private markGone(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.goneReason = reason;
    this.queue = [];
    this.settled();
    this.handshakeDone?.(reason);
    this.handshakeDone = undefined;
    this.wake();
    this.sink?.end(reason);
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }
}
