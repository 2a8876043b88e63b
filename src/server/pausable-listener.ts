/**
 * A listening socket whose accepting can stop and start again without giving the socket up: Bun
 * listens on a duplicate of the fd, and stopping closes only the duplicate (Bun's listener.stop()
 * closes the fd it was given). Closing it inside Bun's open handler ends Bun's accept loop before
 * the next accept, so a stop takes effect at once. Used where a process must take no more
 * connections for a while: a full master(8) process, and a process at its descriptor budget
 * between two bursts of refusals (standalone.ts).
 */
import type { SocketHandler, SocketListener } from "bun";
import { closeFd, descriptorLimit, duplicateFd, errnoName } from "../sys/libc.ts";
import { DESCRIPTOR_RESERVE } from "../limits.ts";

/**
 * How many connections a process may hold before it must stop accepting: beyond this, accept(2)
 * would fail with EMFILE, and a listener that stays readable while accept fails spins the CPU.
 */
export function connectionBudget(): number {
  return Math.max(1, descriptorLimit() - DESCRIPTOR_RESERVE);
}

export class PausableListener<Data> {
  private listener: SocketListener<Data> | undefined;

  constructor(
    private readonly fd: number,
    private readonly handlers: SocketHandler<Data>,
  ) {}

  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Accept again (a no-op while accepting). Throws when the fd is not a listening socket. */
  resume(): void {
    if (this.listener) return;
    const copy = duplicateFd(this.fd);
    if (copy < 0) throw new Error(`dup(${this.fd}): ${errnoName(-copy)}`);
    try {
      this.listener = Bun.listen<Data>({ fd: copy, allowHalfOpen: true, socket: this.handlers } as Parameters<typeof Bun.listen<Data>>[0]);
    } catch (error) {
      closeFd(copy);
      throw error;
    }
  }

  /** Take no more connections; the socket itself stays open for resume(). */
  pause(): void {
    const listener = this.listener;
    this.listener = undefined;
    listener?.stop(false);
  }

  /** Stop for good: the original fd is closed too. */
  close(): void {
    this.pause();
    closeFd(this.fd);
  }
}
