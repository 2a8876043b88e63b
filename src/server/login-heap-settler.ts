/**
 * A full collection soon after a login, in a process that serves many sessions. A login leaves
 * garbage all over the heap (the uid list read and parsed, promises, log lines), and
 * JavaScriptCore never moves a live object: the long-lived objects of sessions placed among that
 * garbage keep its blocks resident once it is freed, and no later collection or Bun.shrink()
 * gives them back. Collecting before much more is allocated lets later sessions' objects fill the
 * freed cells instead. Measured with 200 logged-in idle sessions in one process: ~8 MB of heap
 * blocks for ~2 MB of live objects without it, ~4 MB with a collection after every login.
 * At most one per LOGIN_GC_INTERVAL_MS, so a burst of logins costs a few collections a second.
 */
import { LOGIN_GC_INTERVAL_MS } from "../limits.ts";

export interface SettlerOptions {
  intervalMs?: number;
  collect?: () => void;
  now?: () => number;
}

export class LoginHeapSettler {
  private scheduled = false;
  private last = -Infinity;
  private readonly intervalMs: number;
  private readonly collect: () => void;
  private readonly now: () => number;

  constructor(o: SettlerOptions = {}) {
    this.intervalMs = o.intervalMs ?? LOGIN_GC_INTERVAL_MS;
    this.collect = o.collect ?? (() => Bun.gc(true));
    this.now = o.now ?? Date.now;
  }

  /** A session logged in: collect once the current turn is over, or when the interval allows. */
  loggedIn(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = Math.max(0, this.last + this.intervalMs - this.now());
    // never what keeps the process alive
    setTimeout(() => this.run(), wait).unref();
  }

  private run(): void {
    this.scheduled = false;
    this.last = this.now();
    try {
      this.collect();
    } catch {
      // an optimisation: it must never take a session down
    }
  }
}

/** The one settler of this process: its interval bounds the process's collections, whatever the listeners. */
export const processLoginSettler = new LoginHeapSettler();
