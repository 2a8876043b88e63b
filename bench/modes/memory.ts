/**
 * Memory per connection: N connections opened (greeting read, then silence) on a freshly started
 * service, and the summed PSS of the service's processes divided by N. Then logged-in sessions
 * (USER, PASS, STAT, silence): for one-session-a-process modes the same processes log in (each
 * holds exactly one connection either way); for multi-session modes a fresh service takes M new
 * logged-in sessions, so memory left behind by the closed idle ones does not count. Every run
 * starts its own service: a master that already has processes would not fork, and the figure
 * would not be the one an operator sees after a restart.
 *
 * Each reading is also split into its anonymous part (heap, stacks: what the processes hold of
 * their own) and its file-backed part (the mapped executable, shared by every process of the
 * program and so counted about once in the sum): with a few processes holding many connections,
 * the per-connection figure is mostly what those processes cost before their first connection.
 */
import { closeAll, loginAll, openMany } from "../connections.ts";
import type { Credentials } from "../loadgen.ts";
import { withService, type ModeSpec, type Programs, type Service } from "../modes.ts";
import type { ModesEnv } from "../modes-env.ts";
import { sumPss, type PssSum } from "../proc-tree.ts";
import { median, percentile } from "../stats.ts";

/** Time for allocators and collectors to settle before a PSS reading. */
export const SETTLE_MS = 2_000;

export interface MemoryRun {
  wanted: number;
  opened: number;
  failures: number;
  timedOut: boolean;
  openSeconds: number;
  greetP90Ms: number;
  processes: number;
  pssBeforeKb: number;
  pssTotalKb: number;
  perConnectionKb: number;
  /** (total − before) / opened: what one more connection costs. */
  marginalKb: number;
  /** Summed Pss_Anon and Pss_File of the service's processes. */
  anonKb: number;
  fileKb: number;
  anonPerConnectionKb: number;
  filePerConnectionKb: number;
  /** (anon − anon before) / opened. */
  marginalAnonKb: number;
  /** The service before the first connection: its processes and their summed Pss_Anon. */
  processesBefore: number;
  anonBeforeKb: number;
  errorSamples: string[];
}

export interface MemoryFigures {
  idle: MemoryRun[];
  loggedIn: MemoryRun[];
}

export interface MemoryPlan {
  runs: number;
  idleCount: number;
  loggedInCount: number;
  timeoutMs: number;
}

function reading(wanted: number, opened: { wires: unknown[]; failures: number; timedOut: boolean; seconds: number; greetMs: number[]; errorSamples: string[] }, svc: Service, before: PssSum): MemoryRun {
  const pss = sumPss(svc.servicePids());
  const n = Math.max(opened.wires.length, 1);
  return {
    wanted,
    opened: opened.wires.length,
    failures: opened.failures,
    timedOut: opened.timedOut,
    openSeconds: opened.seconds,
    greetP90Ms: percentile([...opened.greetMs].sort((a, b) => a - b), 90),
    processes: pss.processes,
    pssBeforeKb: before.totalKb,
    pssTotalKb: pss.totalKb,
    perConnectionKb: pss.totalKb / n,
    marginalKb: (pss.totalKb - before.totalKb) / n,
    anonKb: pss.anonKb,
    fileKb: pss.fileKb,
    anonPerConnectionKb: pss.anonKb / n,
    filePerConnectionKb: pss.fileKb / n,
    marginalAnonKb: (pss.anonKb - before.anonKb) / n,
    processesBefore: before.processes,
    anonBeforeKb: before.anonKb,
    errorSamples: opened.errorSamples,
  };
}

export function describeMemoryRun(kind: string, r: MemoryRun): string {
  return (
    `   ${kind}: ${r.opened}/${r.wanted} open in ${r.openSeconds.toFixed(1)} s (greeting p90 ${r.greetP90Ms.toFixed(0)} ms, ${r.failures} failed${r.timedOut ? ", time bound hit" : ""}); ` +
    `${r.processes} processes, PSS ${(r.pssTotalKb / 1024).toFixed(1)} MB = ${r.perConnectionKb.toFixed(1)} kB/connection (marginal ${r.marginalKb.toFixed(1)} kB; ` +
    `anonymous ${r.anonPerConnectionKb.toFixed(1)} kB, marginal ${r.marginalAnonKb.toFixed(1)}; file-backed ${r.filePerConnectionKb.toFixed(1)} kB)` +
    (r.errorSamples[0] ? `; e.g. ${r.errorSamples[0]}` : "")
  );
}

export async function measureMemory(env: ModesEnv, spec: ModeSpec, programs: Programs, users: Credentials[], plan: MemoryPlan, log: (line: string) => void): Promise<MemoryFigures> {
  const out: MemoryFigures = { idle: [], loggedIn: [] };
  for (let run = 0; run < plan.runs; run++) {
    if (spec.sessionsPerProcess === 1) {
      await withService(env, spec, programs, {}, async (svc) => {
        const before = sumPss(svc.servicePids());
        const opened = await openMany(svc.port, plan.idleCount, { timeoutMs: plan.timeoutMs });
        await Bun.sleep(SETTLE_MS);
        const idle = reading(plan.idleCount, opened, svc, before);
        log(describeMemoryRun("idle", idle));
        out.idle.push(idle);
        const login = await loginAll(opened.wires, users, 30_000);
        await Bun.sleep(SETTLE_MS);
        const logged = reading(opened.wires.length, { ...opened, failures: login.failures, seconds: login.seconds, errorSamples: login.errorSamples }, svc, before);
        log(describeMemoryRun("logged in", logged));
        out.loggedIn.push(logged);
        closeAll(opened.wires);
      });
      continue;
    }
    await withService(env, spec, programs, {}, async (svc) => {
      // the empty service as it runs, not the garbage its start-up left for the collector
      await Bun.sleep(SETTLE_MS);
      const before = sumPss(svc.servicePids());
      const opened = await openMany(svc.port, plan.idleCount, { timeoutMs: plan.timeoutMs });
      await Bun.sleep(SETTLE_MS);
      const idle = reading(plan.idleCount, opened, svc, before);
      log(describeMemoryRun("idle", idle));
      out.idle.push(idle);
      closeAll(opened.wires);
    });
    await withService(env, spec, programs, {}, async (svc) => {
      // the empty service as it runs, not the garbage its start-up left for the collector
      await Bun.sleep(SETTLE_MS);
      const before = sumPss(svc.servicePids());
      const opened = await openMany(svc.port, plan.loggedInCount, { timeoutMs: plan.timeoutMs, login: users });
      await Bun.sleep(SETTLE_MS);
      const logged = reading(plan.loggedInCount, opened, svc, before);
      log(describeMemoryRun("logged in", logged));
      out.loggedIn.push(logged);
      closeAll(opened.wires);
    });
  }
  return out;
}

export function medianOf(runs: MemoryRun[], pick: (r: MemoryRun) => number): number {
  return median(runs.map(pick));
}
