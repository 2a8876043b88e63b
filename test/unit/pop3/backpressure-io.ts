/**
 * A SessionIO that behaves like a socket whose peer reads only when the test says so: the "kernel"
 * takes `window` unread bytes, beyond that write() reports held bytes (returns false) and drained()
 * waits until the client reads. Input is offered the way a socket offers it: only while the session
 * has not paused reading. So the session's flow control runs in unit tests, without a network.
 */
import type { SessionIO } from "../../../src/pop3/session-io.ts";

export class BackpressureIO implements SessionIO {
  readonly clientHost = "[192.0.2.7]";
  readonly tlsActive = false;
  /** Bytes written by the session that the client has not read yet. */
  unread = 0;
  /** The most `unread` ever was: what a real transport would have had to hold. */
  maxUnread = 0;
  /** Bytes the session wrote while the transport already held bytes it had not sent. */
  writtenWhileHeld = 0;
  paused = false;
  closedWith: "drain" | "now" | undefined;
  private readonly readByClient: Buffer[] = [];
  private readonly pendingOut: Buffer[] = [];
  private waiters: (() => void)[] = [];

  constructor(private readonly window = 8 * 1024) {}

  write(data: Uint8Array): boolean {
    if (this.unread > this.window) this.writtenWhileHeld += data.length;
    this.pendingOut.push(Buffer.from(data));
    this.unread += data.length;
    this.maxUnread = Math.max(this.maxUnread, this.unread);
    return this.unread <= this.window;
  }

  drained(): Promise<void> {
    if (this.unread <= this.window || this.closedWith) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(mode: "drain" | "now" = "drain"): void {
    this.closedWith ??= mode;
    this.release();
  }

  pauseInput(): void {
    this.paused = true;
  }

  resumeInput(): void {
    this.paused = false;
  }

  /** The client reads everything the session wrote so far. */
  clientReads(): void {
    this.readByClient.push(...this.pendingOut);
    this.pendingOut.length = 0;
    this.unread = 0;
    this.release();
  }

  /** Everything the session wrote, read or not, as text. */
  get written(): string {
    return Buffer.concat([...this.readByClient, ...this.pendingOut]).toString("latin1");
  }

  /** Everything the client has read, as text. */
  get text(): string {
    return Buffer.concat(this.readByClient).toString("latin1");
  }

  private release(): void {
    if (this.unread > this.window && !this.closedWith) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Let the session run as far as it can now: promise continuations, and the macrotasks it yields
 * with between turns (COMMANDS_PER_TURN), as the event loop would run them. Never waits on a timer.
 */
export async function settle(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
