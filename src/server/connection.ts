/**
 * A Bun socket seen as a SessionIO. Bun sockets drop whatever write() does not accept
 * (bun-findings §1), so every byte goes through this one writer: it keeps the unsent tail,
 * resumes on drain, and only then lets the session produce more.
 */
import type { Socket } from "bun";
import type { SessionIO } from "../pop3/session-io.ts";

export interface SocketEvents {
  data(chunk: Uint8Array): void;
  end(): void;
  closed(): void;
}

export class Connection implements SessionIO {
  private queue: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private closing = false;
  private gone = false;
  tlsActive: boolean;
  /** Receives the socket's events; set by whoever owns the session. */
  events: SocketEvents | undefined;
  /** While set, raw socket data is ignored (the TLS layer owns the bytes, bun-findings §2). */
  upgrading = false;

  /** The TLS socket once STLS or -s succeeded (certificate, cipher, keying material). */
  tlsSocket: Socket<any> | undefined;
  /** Set by the transport when STLS can be offered; the session calls it through startTls(). */
  tlsUpgrade: (() => Promise<boolean>) | undefined;

  constructor(
    private socket: Socket<any>,
    /** Rewritten once when a PROXY header names the real client. */
    public clientHost: string,
    tlsActive = false,
  ) {
    this.tlsActive = tlsActive;
    if (tlsActive) this.tlsSocket = socket;
  }

  startTls(): Promise<boolean> {
    return this.tlsUpgrade ? this.tlsUpgrade() : Promise.resolve(false);
  }

  get isClosed(): boolean {
    return this.gone;
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
      this.markGone();
      return true;
    }
    this.queue.push(Buffer.from(data.subarray(Math.max(sent, 0))));
    return false;
  }

  /** Socket drain event: push out the queue, then wake whoever waits. */
  onDrain(): void {
    while (this.queue.length > 0 && !this.gone) {
      const head = this.queue[0]!;
      const sent = this.socket.write(head);
      if (sent < 0) return this.markGone();
      if (sent < head.length) {
        this.queue[0] = head.subarray(Math.max(sent, 0));
        return;
      }
      this.queue.shift();
    }
    this.settled();
  }

  drained(): Promise<void> {
    if (this.queue.length === 0 || this.gone) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    if (this.closing || this.gone) return;
    this.closing = true;
    if (this.queue.length === 0) this.socket.end();
  }

  pauseInput(): void {
    this.socket.pause();
  }

  resumeInput(): void {
    this.socket.resume();
  }

  /** The socket closed (either side): nothing more can be written. */
  markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.queue = [];
    this.settled();
  }

  /** Swap in the TLS socket after a successful upgrade. */
  replaceSocket(socket: Socket<any>): void {
    this.socket = socket;
  }

  private settled(): void {
    if (this.queue.length > 0 && !this.gone) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    if (this.closing && !this.gone) this.socket.end();
  }
}

/** Cyrus's client host string without reverse DNS (§2.8): "[ip]"; IPv4-mapped IPv6 shown as IPv4. */
export function clientHostOf(address: string | undefined): string {
  if (!address) return "[unix socket]";
  return `[${address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address}]`;
}
