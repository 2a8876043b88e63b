/**
 * Spare memory given back by a process that serves many sessions, once it goes quiet after a
 * burst. A burst of connections or logins leaves the JavaScript heap larger than what stays live
 * (garbage, partly used blocks, compiled code), and neither an ordinary collection nor the
 * allocator returns those pages while nothing allocates: 200 fresh logins left ~20 MB resident
 * where ~14 MB remained after Bun.shrink(), which drops compiled code, collects, and releases
 * the allocator's free pages. It blocks the event loop for a few ms, so it runs only when the
 * process has been quiet for a tick (no session is working), and only after the resident size
 * grew (see SHRINK_AFTER_GROWTH_BYTES): a steadily loaded process keeps its compiled code. See
 * docs/launch-modes.md.
 */
import { QUIET_CPU_MS, QUIET_TICK_MS, SHRINK_AFTER_GROWTH_BYTES } from "../limits.ts";

export interface ShrinkerOptions {
  tickMs?: number;
  quietCpuMs?: number;
  growthBytes?: number;
  /** Microseconds of CPU the process has used (process.cpuUsage, user + system). */
  cpuMicros?: () => number;
  residentBytes?: () => number;
  shrink?: () => void;
}

/** Bun.shrink() where this Bun has it (its typings call it deprecated), else a full collection. */
function shrinkHeap(): void {
  const shrink = (Bun as { shrink?: () => void }).shrink;
  if (typeof shrink === "function") shrink.call(Bun);
  else Bun.gc(true);
}

export class MemoryShrinker {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastCpu: number;
  /** Resident size right after the last shrink; undefined until the first (start-up leaves garbage too). */
  private baseline: number | undefined;
  private measureBaseline = false;
  private readonly tickMs: number;
  private readonly quietCpuMicros: number;
  private readonly growthBytes: number;
  private readonly cpuMicros: () => number;
  private readonly residentBytes: () => number;
  private readonly doShrink: () => void;

  constructor(o: ShrinkerOptions = {}) {
    this.tickMs = o.tickMs ?? QUIET_TICK_MS;
    this.quietCpuMicros = (o.quietCpuMs ?? QUIET_CPU_MS) * 1000;
    this.growthBytes = o.growthBytes ?? SHRINK_AFTER_GROWTH_BYTES;
    this.cpuMicros = o.cpuMicros ?? (() => {
      const u = process.cpuUsage();
      return u.user + u.system;
    });
    this.residentBytes = o.residentBytes ?? (() => process.memoryUsage.rss());
    this.doShrink = o.shrink ?? shrinkHeap;
    this.lastCpu = this.cpuMicros();
  }

  start(): void {
    if (this.timer) return;
    this.lastCpu = this.cpuMicros();
    // never what keeps the process alive
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick: shrink when the last one was quiet and the process grew since the last shrink. */
  tick(): boolean {
    const cpu = this.cpuMicros();
    const used = cpu - this.lastCpu;
    this.lastCpu = cpu;
    if (this.measureBaseline) {
      // Bun.shrink() does its work once the timer callback returns: the next tick sees the result
      this.measureBaseline = false;
      this.baseline = this.residentBytes();
      return false;
    }
    if (used >= this.quietCpuMicros) return false;
    if (this.baseline !== undefined && this.residentBytes() - this.baseline < this.growthBytes) return false;
    try {
      this.doShrink();
    } catch {
      // giving memory back is an optimisation: it must never take a session down
    }
    this.measureBaseline = true;
    return true;
  }
}
