/**
 * A Bun socket seen as a SessionIO. A Bun socket's write() returns how many bytes it accepted and
 * drops the rest, so every byte goes through this one writer: it keeps the unsent tail, resumes on
 * drain, and only then lets the session produce more. The tail is bounded
 * (MAX_QUEUED_OUTPUT), and a close waits for it at most CLOSE_DRAIN_DEADLINE_MS.
 */
import type { Socket } from "bun";
import type { SessionIO } from "../pop3/session-io.ts";
import { CLOSE_DRAIN_DEADLINE_MS, KERNEL_UNSENT_BYTES, MAX_QUEUED_OUTPUT } from "../limits.ts";
import { limitUnsentBytes } from "../sys/libc.ts";

export class Connection implements SessionIO {
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private waiters: (() => void)[] = [];
  private closing = false;
  private closeDeadline: ReturnType<typeof setTimeout> | undefined;
  private gone = false;
  tlsActive: boolean;
  /** While set, raw socket data is ignored (after upgradeTLS the TLS layer owns the bytes). */
  upgrading = false;

  /** The TLS socket once STLS or -s succeeded (certificate, cipher, keying material). */
  tlsSocket: Socket<any> | undefined;
  /** Settles when the reverse lookup of the client's name is done (log/client-host.ts). */
  clientHostReady: Promise<void> | undefined;
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
    // backpressure after KERNEL_UNSENT_BYTES, not after the megabytes of an autotuned send buffer
    const fd = (socket as unknown as { fd?: number }).fd;
    if (typeof fd === "number" && fd >= 0) limitUnsentBytes(fd, KERNEL_UNSENT_BYTES);
  }

  startTls(): Promise<boolean> {
    return this.tlsUpgrade ? this.tlsUpgrade() : Promise.resolve(false);
  }

  get isClosed(): boolean {
    return this.gone;
  }

  /** Bytes accepted from the session but not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  write(data: Uint8Array): boolean {
    if (this.gone) return true;
    if (this.queue.length > 0) return this.enqueue(data);
    const sent = this.socket.write(data);
    if (sent === data.length) return true;
    if (sent < 0) {
      this.markGone();
      return true;
    }
    return this.enqueue(data.subarray(Math.max(sent, 0)));
  }

  private enqueue(data: Uint8Array): boolean {
    if (this.queuedBytes + data.length > MAX_QUEUED_OUTPUT) {
      // the session writes more only after a drain; getting here means a writer ignored that
      this.terminate();
      return true;
    }
    this.queue.push(Buffer.from(data));
    this.queuedBytes += data.length;
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
        this.queuedBytes -= Math.max(sent, 0);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.length;
    }
    this.settled();
  }

  drained(): Promise<void> {
    if (this.queue.length === 0 || this.gone) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(mode: "drain" | "now" = "drain"): void {
    if (this.gone) return;
    if (mode === "now") return this.terminate();
    if (this.closing) return;
    this.closing = true;
    if (this.queue.length === 0) this.socket.end();
    // a client that does not read keeps neither its queue nor the socket beyond the deadline;
    // end() alone waits for the peer's FIN
    this.closeDeadline = setTimeout(() => this.terminate(), CLOSE_DRAIN_DEADLINE_MS);
  }

  /** Drop the connection now, whatever is queued (pop3d.c:shut_down on a signal). */
  terminate(): void {
    if (this.gone) return;
    const socket = this.socket;
    this.markGone();
    socket.terminate();
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
    this.queuedBytes = 0;
    if (this.closeDeadline) clearTimeout(this.closeDeadline);
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

/** Cyrus's client host string without reverse DNS (pop3d.c:service_main, get_clienthost): "[ip]"; IPv4-mapped IPv6 shown as IPv4. */
export function clientHostOf(address: string | undefined): string {
  if (!address) return "[unix socket]";
  return `[${address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address}]`;
}
