/**
 * Sessions/min and server CPU per session at several client counts, on one started service:
 * a warm-up (master forks its processes, first logins build each Maildir's uid list), then
 * `rounds` timed rounds per client count. The figure is the median round, never the best.
 */
import { describeLoad, runLoad, type Credentials, type LoadResult } from "../loadgen.ts";
import type { Service } from "../modes.ts";
import { median } from "../stats.ts";

export interface LoadPoint {
  clients: number;
  rounds: LoadResult[];
  sessionsPerMinute: number;
  /** Server CPU (master and all its children, or the standalone tree) per session, ms. */
  cpuMsPerSession: number;
  errors: number;
}

export async function measureLoad(
  svc: Service,
  users: Credentials[],
  opts: { clients: number[]; rounds: number; seconds: number; warmupSeconds: number },
  log: (line: string) => void,
): Promise<LoadPoint[]> {
  const base = { host: "127.0.0.1", port: svc.port, users, serverCpuSeconds: () => svc.cpuSeconds() };
  const warm = await runLoad({ ...base, clients: Math.max(...opts.clients), seconds: opts.warmupSeconds });
  log(`   warm-up: ${warm.sessions} sessions, ${warm.errors} errors${warm.errorSamples[0] ? ` (${warm.errorSamples[0]})` : ""}`);
  const points: LoadPoint[] = [];
  for (const clients of opts.clients) {
    const rounds: LoadResult[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const result = await runLoad({ ...base, clients, seconds: opts.seconds });
      log(describeLoad(result).replace(/^/gm, "   "));
      rounds.push(result);
    }
    points.push({
      clients,
      rounds,
      sessionsPerMinute: median(rounds.map((r) => r.sessionsPerMinute)),
      cpuMsPerSession: median(rounds.map((r) => ((r.serverCpuSecondsUsed ?? NaN) * 1000) / Math.max(r.sessions, 1))),
      errors: rounds.reduce((n, r) => n + r.errors, 0),
    });
  }
  return points;
}
