/**
 * Markdown tables of the launch-mode comparison: every figure per mode side by side (Cyrus's
 * pop3d from the same run), the targets with verdicts, before/after for one-session processes,
 * and the hostile-client figures. Every figure is a median over runs; nothing here asserts.
 */
import type { ModeId, ModeSpec } from "./modes.ts";
import type { PipeliningRun } from "./hostile/pipelining.ts";
import type { CpuWindow, FdLimitRun } from "./hostile/stalls.ts";
import type { GreetingFigure } from "./modes/greeting.ts";
import type { LoadPoint } from "./modes/load.ts";
import type { MemoryFigures, MemoryRun } from "./modes/memory.ts";
import type { ProbeRun } from "./modes/probe.ts";
import type { FloorCase, RuntimeFloor } from "./modes/runtime-floor.ts";
import { median } from "./stats.ts";

export interface ModeFigures {
  spec: ModeSpec;
  load?: LoadPoint[];
  greeting?: GreetingFigure;
  fresh?: GreetingFigure;
  memory?: MemoryFigures;
  probe?: ProbeRun[];
  pipelining?: PipeliningRun[];
  proxyStall?: CpuWindow[];
  fdLimit?: FdLimitRun[];
}

export type AllFigures = Partial<Record<ModeId, ModeFigures>>;

const med = (xs: number[] | undefined): number | undefined => (xs && xs.length > 0 ? median(xs) : undefined);

export const pick = {
  sessionsPerMinute: (m: ModeFigures | undefined, clients: number) => m?.load?.find((p) => p.clients === clients)?.sessionsPerMinute,
  cpuMs: (m: ModeFigures | undefined, clients: number) => m?.load?.find((p) => p.clients === clients)?.cpuMsPerSession,
  idle: (m: ModeFigures | undefined, f: (r: MemoryRun) => number) => med(m?.memory?.idle.map(f)),
  logged: (m: ModeFigures | undefined, f: (r: MemoryRun) => number) => med(m?.memory?.loggedIn.map(f)),
  greeting: (m: ModeFigures | undefined) => m?.greeting?.medianMs,
  fresh: (m: ModeFigures | undefined) => m?.fresh?.medianMs,
  probeP99: (m: ModeFigures | undefined) => med(m?.probe?.map((r) => r.p99Ms)),
  pipe: (m: ModeFigures | undefined, variant: PipeliningRun["variant"], f: (r: PipeliningRun) => number) =>
    med(m?.pipelining?.filter((r) => r.variant === variant).map(f)),
};

function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || Number.isNaN(v)) return "n/a";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** kB with a decimal while it is small enough for one to matter. */
const fmtKb = (v: number | undefined) => fmt(v, v !== undefined && Math.abs(v) < 100 ? 1 : 0);

/** Anonymous PSS per process of the service before its first connection (n/a if it had none). */
const anonPerProcessBefore = (r: MemoryRun) => (r.processesBefore > 0 ? r.anonBeforeKb / r.processesBefore : Number.NaN);

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

export function modesTable(all: AllFigures, order: ModeId[]): string {
  const cols = order.filter((id) => all[id]);
  const row = (name: string, f: (m: ModeFigures) => string) => [name, ...cols.map((id) => f(all[id]!))];
  const rows: string[][] = [];
  for (const c of [4, 16, 64]) rows.push(row(`sessions/min, ${c} clients`, (m) => fmt(pick.sessionsPerMinute(m, c))));
  for (const c of [4, 16, 64]) rows.push(row(`server CPU per session, ${c} clients (ms)`, (m) => fmt(pick.cpuMs(m, c), 1)));
  rows.push(row("one session's wall time at 4 clients (p50, ms)", (m) => fmt(med(m.load?.find((p) => p.clients === 4)?.rounds.map((r) => r.latencyMs.p50)))));
  rows.push(row("other processes' CPU during the load rounds (% of a core)", (m) => fmt(med(m.load?.flatMap((p) => p.rounds.map((r) => (r.otherCpu ?? NaN) * 100))))));
  rows.push(row("load generator's CPU at 64 clients (% of a core)", (m) => fmt(med(m.load?.find((p) => p.clients === 64)?.rounds.map((r) => r.clientCpu * 100)))));
  rows.push(row("idle connections measured", (m) => fmt(pick.idle(m, (r) => r.opened))));
  rows.push(row("time to open them (s)", (m) => fmt(pick.idle(m, (r) => r.openSeconds), 1)));
  rows.push(row("connections opened per second", (m) => fmt(pick.idle(m, (r) => r.opened / r.openSeconds), 1)));
  rows.push(row("greeting p90 while opening (ms)", (m) => fmt(pick.idle(m, (r) => r.greetP90Ms))));
  rows.push(row("processes", (m) => fmt(pick.idle(m, (r) => r.processes))));
  // one session a process: no process waits before the first connection (prefork=0); one caught
  // between master's fork and its exec would read as a tiny figure, so none is shown
  rows.push(row("anonymous PSS per process before the first connection (kB)", (m) => (m.spec.sessionsPerProcess === 1 ? "n/a" : fmt(pick.idle(m, anonPerProcessBefore)))));
  rows.push(row("PSS per idle connection (kB)", (m) => fmt(pick.idle(m, (r) => r.perConnectionKb))));
  rows.push(row("… of which mapped program code (file-backed, kB)", (m) => fmtKb(pick.idle(m, (r) => r.filePerConnectionKb))));
  rows.push(row("… anonymous (kB)", (m) => fmtKb(pick.idle(m, (r) => r.anonPerConnectionKb))));
  rows.push(row("… marginal, above the empty service (kB)", (m) => fmt(pick.idle(m, (r) => r.marginalKb))));
  rows.push(row("… marginal anonymous (kB)", (m) => fmtKb(pick.idle(m, (r) => r.marginalAnonKb))));
  rows.push(row("logged-in sessions measured", (m) => fmt(pick.logged(m, (r) => r.opened))));
  rows.push(row("processes, logged in", (m) => fmt(pick.logged(m, (r) => r.processes))));
  rows.push(row("PSS per logged-in session (kB)", (m) => fmt(pick.logged(m, (r) => r.perConnectionKb))));
  rows.push(row("… of which mapped program code (file-backed, kB)", (m) => fmtKb(pick.logged(m, (r) => r.filePerConnectionKb))));
  rows.push(row("… anonymous (kB)", (m) => fmtKb(pick.logged(m, (r) => r.anonPerConnectionKb))));
  rows.push(row("… marginal (kB)", (m) => fmt(pick.logged(m, (r) => r.marginalKb))));
  rows.push(row("… marginal anonymous (kB)", (m) => fmtKb(pick.logged(m, (r) => r.marginalAnonKb))));
  rows.push(row("connect → greeting, running service (ms, median)", (m) => fmt(pick.greeting(m), 2)));
  rows.push(row("connect → greeting, freshly forked process (ms, median)", (m) => fmt(pick.fresh(m), 1)));
  rows.push(row("probe NOOP p99 during 100k login + slow 100 MiB RETR (ms)", (m) => fmt(pick.probeP99(m), 1)));
  rows.push(row("… probe in the same process as both", (m) => (m.probe ? (m.probe.every((r) => r.sameProcess) ? "yes" : m.probe.some((r) => r.sameProcess) ? "some runs" : "no") : "n/a")));
  rows.push(row("… 100k-message first login, PASS → +OK (ms)", (m) => fmt(med(m.probe?.map((r) => r.hugeLoginMs)))));
  return table(["figure (median of runs)", ...cols.map((id) => all[id]!.spec.label)], rows);
}

interface Target {
  figure: string;
  value: number | undefined;
  target: string;
  ok: boolean | undefined;
  cyrus?: string;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "n/a" : ok ? "meets" : "**misses**";
}

export function targetsTable(all: AllFigures, floor?: RuntimeFloor): string {
  const multi = all.spp200;
  const one = all.spp1;
  const cyrus = all.cyrus;
  const le = (v: number | undefined, t: number | undefined) => (v === undefined || t === undefined || Number.isNaN(v) ? undefined : v <= t);
  const ge = (v: number | undefined, t: number | undefined) => (v === undefined || t === undefined || Number.isNaN(v) ? undefined : v >= t);
  const idleN = pick.idle(multi, (r) => r.opened);
  const loggedN = pick.logged(multi, (r) => r.opened);
  const cyrus64 = pick.sessionsPerMinute(cyrus, 64);
  const cyrusPss = pick.idle(cyrus, (r) => r.perConnectionKb);
  const onePss = pick.idle(one, (r) => r.perConnectionKb);
  const cyrusRate = cyrus?.fresh ? 1000 / cyrus.fresh.medianMs : undefined;
  const oneRate = one?.fresh ? 1000 / one.fresh.medianMs : undefined;
  const cyrusOpenRate = pick.idle(cyrus, (r) => r.opened / r.openSeconds);
  const oneOpenRate = pick.idle(one, (r) => r.opened / r.openSeconds);
  const rows: Target[] = [
    { figure: `200/process: PSS per idle connection (${fmt(idleN)} open)`, value: pick.idle(multi, (r) => r.perConnectionKb), target: "≤ 30 kB", ok: le(pick.idle(multi, (r) => r.perConnectionKb), 30), cyrus: fmt(cyrusPss) },
    { figure: `200/process: time to open the ${fmt(idleN)}`, value: pick.idle(multi, (r) => r.openSeconds), target: "≤ 5 s", ok: le(pick.idle(multi, (r) => r.openSeconds), 5), cyrus: `${fmt(pick.idle(cyrus, (r) => r.openSeconds), 1)} for ${fmt(pick.idle(cyrus, (r) => r.opened))}` },
    { figure: `200/process: PSS per logged-in session (${fmt(loggedN)})`, value: pick.logged(multi, (r) => r.perConnectionKb), target: "≤ 100 kB", ok: le(pick.logged(multi, (r) => r.perConnectionKb), 100), cyrus: fmt(pick.logged(cyrus, (r) => r.perConnectionKb)) },
    { figure: "200/process: connect → greeting (median, ms)", value: pick.greeting(multi), target: "≤ 2 ms", ok: le(pick.greeting(multi), 2), cyrus: `${fmt(pick.greeting(cyrus), 2)} (process waiting) / ${fmt(pick.fresh(cyrus), 1)} (fresh fork)` },
    { figure: "200/process: CPU per session at 64 clients (ms)", value: pick.cpuMs(multi, 64), target: "≤ 10 ms", ok: le(pick.cpuMs(multi, 64), 10), cyrus: fmt(pick.cpuMs(cyrus, 64), 1) },
    { figure: "200/process: sessions/min at 64 clients", value: pick.sessionsPerMinute(multi, 64), target: `≥ 3× Cyrus = ${fmt(cyrus64 && cyrus64 * 3)}`, ok: ge(pick.sessionsPerMinute(multi, 64), cyrus64 && cyrus64 * 3), cyrus: fmt(cyrus64) },
    { figure: "1/process: PSS per process (idle connection, kB)", value: onePss, target: `≤ Cyrus (${fmt(cyrusPss)})`, ok: le(onePss, cyrusPss), cyrus: fmt(cyrusPss) },
    { figure: "1/process: master fork → greeting rate, one at a time (/s)", value: oneRate, target: `≥ Cyrus (${fmt(cyrusRate, 1)})`, ok: ge(oneRate, cyrusRate), cyrus: fmt(cyrusRate, 1) },
    { figure: "1/process: connections opened per second, 32 in flight", value: oneOpenRate, target: `≥ Cyrus (${fmt(cyrusOpenRate, 1)})`, ok: ge(oneOpenRate, cyrusOpenRate), cyrus: fmt(cyrusOpenRate, 1) },
  ];
  for (const c of floor?.cases ?? []) {
    const after = rows.findIndex((r) => r.figure.startsWith(c.label === "idle" ? "200/process: PSS per idle" : "200/process: PSS per logged-in"));
    rows.splice(after + 1, 0, {
      figure: `… reference: ${c.processes} bare Bun listener processes holding the same ${fmt(c.opened)} (no code of ours)`,
      value: c.perConnectionKb,
      target: "",
      ok: undefined,
      cyrus: "",
    });
  }
  for (const id of ["spp200", "workers1", "workers2"] as const) {
    const p = pick.probeP99(all[id]);
    if (all[id]?.probe) rows.push({ figure: `probe NOOP p99, ${all[id]!.spec.label} (ms)`, value: p, target: "≤ 20 ms", ok: le(p, 20), cyrus: "n/a (a process per session)" });
  }
  return table(
    ["figure", "measured", "target", "verdict", "Cyrus, same run"],
    rows.map((r) => [r.figure, fmt(r.value, r.value !== undefined && r.value < 20 ? 1 : 0), r.target, r.target ? verdict(r.ok) : "", r.cyrus ?? ""]),
  );
}

export function beforeAfterTable(all: AllFigures, baselineName: string): string {
  const cols = (["baseline", "spp1", "cyrus"] as const).filter((id) => all[id]);
  const row = (name: string, f: (m: ModeFigures) => string) => [name, ...cols.map((id) => f(all[id]!))];
  return table(
    ["one session a process, under master", ...cols.map((id) => (id === "baseline" ? `before (${baselineName})` : id === "spp1" ? "after (this tree)" : "Cyrus 3.6 pop3d"))],
    [
      row("PSS per process, idle connection (kB)", (m) => fmt(pick.idle(m, (r) => r.perConnectionKb))),
      row("PSS per process, logged in (kB)", (m) => fmt(pick.logged(m, (r) => r.perConnectionKb))),
      row("fresh fork → greeting (ms, median)", (m) => fmt(pick.fresh(m), 1)),
      row("… as master's fork rate, one at a time (/s)", (m) => fmt(m.fresh ? 1000 / m.fresh.medianMs : undefined, 1)),
      row("connections opened per second, 32 in flight", (m) => fmt(pick.idle(m, (r) => r.opened / r.openSeconds), 1)),
      row("connections measured", (m) => fmt(pick.idle(m, (r) => r.opened))),
    ],
  );
}

export function hostileTable(all: AllFigures, order: ModeId[]): string {
  const rows: string[][] = [];
  for (const id of order) {
    const m = all[id];
    if (!m) continue;
    for (const variant of ["CAPA before login", "STAT after login"] as const) {
      if (!m.pipelining?.some((r) => r.variant === variant)) continue;
      // a greeting that never came (the 10 s client bound) counts as late
      const within = pick.pipe(m, variant, (r) => (100 * r.greetingsWithin100ms) / Math.max(r.greetings + r.otherFailures, 1));
      rows.push([
        m.spec.label,
        `non-reader pipelining ${variant}`,
        `${fmt(pick.pipe(m, variant, (r) => r.growthPerClientKb))} kB per client at the peak (${fmt(pick.pipe(m, variant, (r) => r.settledGrowthPerClientKb))} at the end, ${fmt(pick.pipe(m, variant, (r) => r.heldGrowthPerClientKb ?? NaN))} held)`,
        "≤ 256 kB",
        `${fmt(within, 1)} % of others' greetings ≤ 100 ms (p99 ${fmt(pick.pipe(m, variant, (r) => r.greetingP99Ms), 1)} ms; ${fmt(
          pick.pipe(m, variant, (r) => (100 * r.beforeWithin100ms) / Math.max(r.beforeGreetings, 1)),
          1,
        )} % in the second before)`,
      ]);
    }
    if (m.proxyStall?.length) {
      rows.push([m.spec.label, `${fmt(med(m.proxyStall.map((r) => r.connections)))} connections stalled in a PROXY header`, `${fmt(med(m.proxyStall.map((r) => r.cpuPercent)), 1)} % CPU`, "no polling (≈ 0 %)", ""]);
    }
    if (m.fdLimit?.length) {
      const f = m.fdLimit;
      rows.push([
        m.spec.label,
        `fd limit ${f[0]!.nofile}, ${fmt(med(f.map((r) => r.connections)))} connections`,
        `${fmt(med(f.map((r) => r.cpuPercent)), 1)} % CPU`,
        "back off, no spin",
        `greeted ${fmt(med(f.map((r) => r.greeted)))}, -ERR ${fmt(med(f.map((r) => r.refused)))}, closed ${fmt(med(f.map((r) => r.closedSilently)))}, silent ${fmt(med(f.map((r) => r.silent)))}`,
      ]);
    }
  }
  return table(["mode", "hostile load", "figure", "target", "meanwhile"], rows);
}

/**
 * The runtime floor beside the 200-a-process mode: a bare compiled Bun listener, alone, then as
 * many processes as the mode ended with, holding the same connections; the difference per
 * connection is what pop3d adds to what Bun costs.
 */
export function floorTable(floor: RuntimeFloor, all: AllFigures): string {
  const multi = all.spp200;
  const ours = (c: FloorCase, f: (r: MemoryRun) => number) => (c.label === "idle" ? pick.idle(multi, f) : pick.logged(multi, f));
  const rows: string[][] = [
    ["one process, no connection: PSS (kB)", fmt(floor.lone.pssKb), "n/a (processes share their code)"],
    ["… anonymous (kB)", fmt(floor.lone.anonKb), fmt(pick.idle(multi, anonPerProcessBefore))],
    ["… file-backed: mapped program code (kB)", fmt(floor.lone.fileKb), "n/a"],
  ];
  if (floor.held) {
    const h = floor.held;
    rows.push([`one process holding ${fmt(h.opened)} idle connections: anonymous per connection (kB)`, fmt(h.marginalAnonKb, 1), ""]);
    rows.push(["… file-backed paged in by serving, once (kB)", fmt(h.after.fileKb - h.before.fileKb), ""]);
  }
  for (const c of floor.cases) {
    const what = c.label === "idle" ? "idle connections" : "connections (ours: logged-in sessions)";
    rows.push([`${c.processes} processes, ${fmt(c.opened)} ${what}: PSS per connection (kB)`, fmtKb(c.perConnectionKb), fmtKb(ours(c, (r) => r.perConnectionKb))]);
    rows.push(["… file-backed (kB)", fmtKb(c.filePerConnectionKb), fmtKb(ours(c, (r) => r.filePerConnectionKb))]);
    rows.push(["… anonymous (kB)", fmtKb(c.anonPerConnectionKb), fmtKb(ours(c, (r) => r.anonPerConnectionKb))]);
    rows.push(["… ours above the floor (kB per connection)", "", fmtKb(ours(c, (r) => r.perConnectionKb - c.perConnectionKb))]);
  }
  const note = floor.flagsNotInMakefile.length > 0 ? `\n\n(The Makefile no longer builds pop3d with ${floor.flagsNotInMakefile.join(" ")}: the floor was built differently.)` : "";
  return table(["runtime floor (bare Bun listener, pop3d's build flags)", "bare Bun", multi ? multi.spec.label : "ours, 200/process (not measured)"], rows) + note;
}
