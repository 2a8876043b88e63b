/**
 * connect → greeting, one connection at a time (each reads the greeting, sends QUIT and waits
 * for the close before the next): `runs` runs of `count` connections; the figure is the median
 * of the runs' medians. On a master service started with -U 1 every connection is served by a
 * process master has just forked, so the same measure gives the fresh-process latency and, its
 * inverse, master's fork-to-greeting rate.
 */
import { timeToFirstLine } from "../scenarios/stdio-greeting.ts";
import { median, summary } from "../stats.ts";

export interface GreetingFigure {
  runs: { median: number; p90: number; max: number; failures: number }[];
  medianMs: number;
  p90Ms: number;
  failures: number;
}

export async function measureGreeting(port: number, opts: { runs: number; count: number; warmup: number }): Promise<GreetingFigure> {
  for (let i = 0; i < opts.warmup; i++) await timeToFirstLine(port).catch(() => undefined);
  const runs: GreetingFigure["runs"] = [];
  for (let r = 0; r < opts.runs; r++) {
    const samples: number[] = [];
    let failures = 0;
    for (let i = 0; i < opts.count; i++) {
      try {
        samples.push((await timeToFirstLine(port)).ms);
      } catch {
        failures++;
      }
    }
    const s = summary(samples);
    runs.push({ median: s.median, p90: s.p90, max: s.max, failures });
  }
  return {
    runs,
    medianMs: median(runs.map((r) => r.median)),
    p90Ms: median(runs.map((r) => r.p90)),
    failures: runs.reduce((n, r) => n + r.failures, 0),
  };
}
