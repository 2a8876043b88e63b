/**
 * `make bench`: every launch mode side by side under the real Cyrus master(8) — Cyrus's own pop3d,
 * our binary one session a process (this tree, and the baseline commit for before/after), our
 * binary with `pop3_sessions_per_process: 200` — and our standalone server with 1 and 2 workers,
 * all measured in one run on one environment with the same sessions (20 messages, 2–200 KiB).
 * Memory is read as summed PSS and split into anonymous and file-backed (mapped program code) parts,
 * and set beside a runtime floor: a bare compiled Bun listener, built with the Makefile's flags,
 * run as many times as the 200-a-process mode needed processes and holding the same connections
 * (step "floor", once, after the modes).
 * Then hostile clients (non-reading pipeliners, stalled PROXY headers, the fd limit).
 * Each figure is the median of several runs, each run bounded in count and time. It never asserts
 * and always exits 0; a figure that could not be taken is n/a and its error is printed.
 *
 *   bun run bench/run.ts [--quick] [--only modes,hostile,single,murder] [--modes cyrus,baseline,spp1,spp200,workers1,workers2,systemd,inetd]
 *                        [--steps load,greeting,memory,floor,probe,pipelining,proxy,fdlimit] [--runs N]
 *                        [--binary PATH] [--baseline PATH] [--json FILE] [--markdown FILE]
 *
 * --baseline: the "before" binary; without it the bench builds commit 1f8c01c from a temporary
 * git worktree. `single` runs bench/single-process.ts (one standalone process: RETR throughput,
 * 20k LIST, TLS, stdio greeting) after the rest; `murder` runs bench/murder.ts (proxy cost on a
 * real Cyrus Murder), 5 s rounds.
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { BASELINE_COMMIT, buildBaseline, type BuiltBaseline } from "./baseline.ts";
import { describePipelining, measurePipelining, type PipeliningRun } from "./hostile/pipelining.ts";
import { measureFdLimit, measureProxyStall, type CpuWindow, type FdLimitRun } from "./hostile/stalls.ts";
import { busiestProcesses, loadAverage, machineDescription } from "./machine.ts";
import { MODES, SESSIONS_PER_PROCESS_MULTI, startService, usersFor, withService, type ModeId, type Programs } from "./modes.ts";
import { ModesEnv } from "./modes-env.ts";
import { beforeAfterTable, floorTable, hostileTable, modesTable, targetsTable, type AllFigures, type ModeFigures } from "./modes-report.ts";
import { measureGreeting } from "./modes/greeting.ts";
import { measureLoad } from "./modes/load.ts";
import { measureMemory } from "./modes/memory.ts";
import { measureProbe } from "./modes/probe.ts";
import { measureRuntimeFloor, type FloorPlan, type RuntimeFloor } from "./modes/runtime-floor.ts";
import { BINARY, ROOT } from "./server.ts";
import { SESSION_BYTES, SESSION_MESSAGES, SESSION_USERS } from "./session-shape.ts";
import { median } from "./stats.ts";

const ALL_MODES: ModeId[] = ["cyrus", "baseline", "spp1", "spp200", "workers1", "workers2", "systemd", "inetd"];

const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", default: "modes,hostile" },
    modes: { type: "string", default: ALL_MODES.join(",") },
    binary: { type: "string", default: BINARY },
    baseline: { type: "string" },
    json: { type: "string" },
    markdown: { type: "string" },
    steps: { type: "string", default: "load,greeting,memory,floor,probe,pipelining,proxy,fdlimit" },
    runs: { type: "string" },
  },
});
const quick = args.quick!;
const binary = resolve(args.binary!);
const wanted = new Set(args.only!.split(","));
const modes = ALL_MODES.filter((id) => args.modes!.split(",").includes(id));
const steps = new Set(args.steps!.split(","));

/** Every count and time bound of the run; --quick is a smoke check of the same steps. */
const PLAN = quick
  ? { runs: 1, clients: [4, 16, 64], loadSeconds: 2, warmupSeconds: 1, greetCount: 10, freshCount: 5, idleMulti: 200, loggedMulti: 50, idleOne: 20, hugeMessages: 10_000, hostileSeconds: 2, stalled: 50, openTimeoutMs: 60_000 }
  : { runs: 3, clients: [4, 16, 64], loadSeconds: 5, warmupSeconds: 3, greetCount: 50, freshCount: 30, idleMulti: 2_000, loggedMulti: 500, idleOne: 300, hugeMessages: 100_000, hostileSeconds: 4, stalled: 200, openTimeoutMs: 120_000 };
if (args.runs) PLAN.runs = Math.max(1, Number(args.runs));
/** Hostile non-reading clients per run. */
const HOSTILE_CLIENTS = 4;
const FD_LIMIT = { standalone: { nofile: 256, connections: 400 }, workers2: { nofile: 256, connections: 600 }, master: { nofile: 128, connections: 400 } };

function log(text: string): void {
  console.log(text);
}

const errors: string[] = [];

async function step<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  log(`\n== ${name}`);
  const t0 = performance.now();
  try {
    const result = await run();
    log(`   (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    return result;
  } catch (error) {
    const message = `${name}: ${(error as Error).stack ?? error}`;
    errors.push(message);
    log(`   FAILED: ${message}`);
    return undefined;
  }
}

async function repeat<T>(runs: number, run: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await run());
  return out;
}

const measures = (id: ModeId, name: string) => steps.has(name) && (MODES[id].steps?.includes(name) ?? true);

async function measureMode(env: ModesEnv, id: ModeId, programs: Programs): Promise<ModeFigures> {
  const spec = MODES[id];
  const users = usersFor(env, spec);
  const m: ModeFigures = { spec };
  const isMaster = spec.kind === "master";
  if (id !== "baseline" && measures(id, "load")) {
    m.load = await step(`${spec.label}: sessions/min and CPU per session at ${PLAN.clients.join("/")} clients (${PLAN.runs} rounds of ${PLAN.loadSeconds} s each)`, () =>
      withService(env, spec, programs, {}, (svc) =>
        measureLoad(svc, users.load, { clients: PLAN.clients, rounds: PLAN.runs, seconds: PLAN.loadSeconds, warmupSeconds: PLAN.warmupSeconds }, log),
      ),
    );
  }
  if (measures(id, "greeting")) await step(`${spec.label}: connect → greeting${isMaster ? " (running service, and freshly forked with -U 1)" : ""}`, () =>
    withService(env, spec, programs, { fresh: isMaster }, async (svc) => {
      m.greeting = await measureGreeting(svc.port, { runs: PLAN.runs, count: PLAN.greetCount, warmup: 5 });
      log(`   running service: median ${m.greeting.medianMs.toFixed(2)} ms, p90 ${m.greeting.p90Ms.toFixed(2)} ms (runs: ${m.greeting.runs.map((r) => r.median.toFixed(2)).join(", ")}), ${m.greeting.failures} failed`);
      if (svc.freshPort) {
        m.fresh = await measureGreeting(svc.freshPort, { runs: PLAN.runs, count: PLAN.freshCount, warmup: 2 });
        log(`   fresh process: median ${m.fresh.medianMs.toFixed(1)} ms, p90 ${m.fresh.p90Ms.toFixed(1)} ms (runs: ${m.fresh.runs.map((r) => r.median.toFixed(1)).join(", ")}), ${m.fresh.failures} failed`);
      }
    }),
  );
  const one = spec.sessionsPerProcess === 1;
  const idleCount = one ? PLAN.idleOne : PLAN.idleMulti;
  const loggedCount = one ? PLAN.idleOne : PLAN.loggedMulti;
  if (measures(id, "memory")) m.memory = await step(`${spec.label}: PSS with ${idleCount} idle connections and ${loggedCount} logged-in sessions (${PLAN.runs} runs, a fresh service each)`, () =>
    measureMemory(env, spec, programs, users.idle, { runs: PLAN.runs, idleCount, loggedInCount: loggedCount, timeoutMs: PLAN.openTimeoutMs }, log),
  );
  if (spec.program === "current" && measures(id, "probe")) {
    m.probe = await step(`${spec.label}: NOOP probe while a ${PLAN.hugeMessages}-message Maildir is opened and 100 MiB go to a slow reader (${PLAN.runs} runs)`, () =>
      measureProbe(env, spec, programs, PLAN.runs, log),
    );
  }
  return m;
}

/** Process count the floor uses when the 200-a-process mode has no memory figures to copy. */
const FLOOR_DEFAULT_PROCESSES = 12;

/**
 * The floor for the process counts and connections of the 200-a-process mode's memory runs
 * (medians), idle and logged in; without them, 12 processes and the idle count of the plan.
 */
function floorPlan(all: AllFigures): FloorPlan {
  const mem = all.spp200?.memory;
  const count = (runs: { processes: number; opened: number }[] | undefined, label: string) =>
    runs && runs.length > 0 ? { label, processes: Math.round(median(runs.map((r) => r.processes))), connections: Math.round(median(runs.map((r) => r.opened))) } : undefined;
  const cases = [count(mem?.idle, "idle"), count(mem?.loggedIn, "logged in")].filter((c) => c !== undefined);
  if (cases.length === 0) cases.push({ label: "idle", processes: FLOOR_DEFAULT_PROCESSES, connections: PLAN.idleMulti });
  return { cases, heldConnections: SESSIONS_PER_PROCESS_MULTI, timeoutMs: PLAN.openTimeoutMs };
}

async function measureHostile(env: ModesEnv, id: ModeId, programs: Programs, m: ModeFigures): Promise<void> {
  const spec = MODES[id];
  const users = usersFor(env, spec);
  if (id === "baseline") return;
  if (id !== "workers2" && measures(id, "pipelining")) {
    m.pipelining = await step(`${spec.label}: ${HOSTILE_CLIENTS} clients pipelining without reading, ${PLAN.hostileSeconds} s (${PLAN.runs} runs each way)`, async () => {
      const out: PipeliningRun[] = [];
      for (const variant of ["CAPA before login", "STAT after login"] as const) {
        for (let r = 0; r < PLAN.runs; r++) {
          const run = await withService(env, spec, programs, {}, (svc) => measurePipelining(svc, variant, users.idle, { hostile: HOSTILE_CLIENTS, seconds: PLAN.hostileSeconds, warmUsers: users.load }));
          log(describePipelining(run));
          out.push(run);
        }
      }
      return out;
    });
  }
  if (spec.program === "current" && id !== "workers2" && measures(id, "proxy")) {
    m.proxyStall = await step(`${spec.label}: CPU with ${PLAN.stalled} connections stalled inside a PROXY header`, () =>
      repeat(PLAN.runs, () =>
        withService(env, spec, programs, { proxy: true }, async (svc): Promise<CpuWindow> => {
          const r = await measureProxyStall(svc, PLAN.stalled, PLAN.hostileSeconds);
          log(`   ${r.connections} stalled (${r.connectFailures} connect failures): ${r.cpuPercent.toFixed(1)} % CPU over ${r.seconds} s`);
          return r;
        }),
      ),
    );
  }
  if (spec.program === "current" && spec.sessionsPerProcess > 1 && measures(id, "fdlimit")) {
    const limit = spec.kind === "master" ? FD_LIMIT.master : id === "workers2" ? FD_LIMIT.workers2 : FD_LIMIT.standalone;
    m.fdLimit = await step(`${spec.label}: CPU at the fd limit (nofile ${limit.nofile}, ${limit.connections} connections)`, () =>
      repeat(PLAN.runs, async (): Promise<FdLimitRun> => {
        const svc = await startService(env, spec, programs, { nofile: limit.nofile });
        try {
          const r = await measureFdLimit(svc, limit.nofile, limit.connections, PLAN.hostileSeconds);
          log(`   ${r.connections} connections: ${r.cpuPercent.toFixed(1)} % CPU; greeted ${r.greeted}, -ERR ${r.refused}, closed ${r.closedSilently}, silent ${r.silent}`);
          return r;
        } finally {
          await svc.stop();
        }
      }),
    );
  }
}

async function main(): Promise<void> {
  if (!existsSync(binary)) {
    log(`${binary} is missing: run "make build" first`);
    return;
  }
  const started = performance.now();
  log(machineDescription());
  log(`load average at start: ${loadAverage()}`);
  log(`busiest processes at start (ps %CPU is an average over each process's life):\n${busiestProcesses()}`);
  log(`binary: ${binary} (built ${statSync(binary).mtime.toISOString()})`);
  log(`plan: ${quick ? "--quick (smoke check, 1 run each)" : "full"}; ${JSON.stringify(PLAN)}`);
  log(`sessions: ${SESSION_USERS} users × ${SESSION_MESSAGES} messages of 2–200 KiB, ${SESSION_BYTES} bytes a session`);
  const all: AllFigures = {};
  let floor: RuntimeFloor | undefined;
  let baseline: BuiltBaseline | undefined;
  let baselineName = args.baseline ? `the binary given with --baseline` : `the binary of commit ${BASELINE_COMMIT}`;
  const env = new ModesEnv(log);
  process.once("SIGINT", () => {
    env.remove();
    process.exit(130);
  });
  try {
    if (wanted.has("modes") || wanted.has("hostile")) {
      await step("environment (Maildirs, Cyrus mailboxes, sasldb, binaries)", async () => {
        await env.build({
          loadUsers: SESSION_USERS,
          idleUsers: Math.max(PLAN.loggedMulti, PLAN.idleOne),
          cyrusIdleUsers: PLAN.idleOne,
          hugeMessages: PLAN.hugeMessages,
          hugeCopies: PLAN.runs * 4,
          bigMessageBytes: 100 * 1024 * 1024,
        });
      });
      const programs: Programs = { current: env.installBinary(binary, "pop3d-current") };
      if (modes.includes("baseline")) {
        await step(`baseline binary (${baselineName})`, async () => {
          if (args.baseline) programs.baseline = env.installBinary(resolve(args.baseline), "pop3d-baseline");
          else {
            baseline = buildBaseline(BASELINE_COMMIT, log);
            programs.baseline = env.installBinary(baseline.path, "pop3d-baseline");
            baselineName = `commit ${BASELINE_COMMIT}`;
          }
        });
      }
      for (const id of modes) {
        if (id === "baseline" && !programs.baseline) continue;
        all[id] = wanted.has("modes") ? await measureMode(env, id, programs) : { spec: MODES[id] };
        if (wanted.has("hostile")) await measureHostile(env, id, programs, all[id]!);
      }
      if (wanted.has("modes") && steps.has("floor")) {
        const plan = floorPlan(all);
        floor = await step(
          `runtime floor: a bare Bun listener built like pop3d, ${plan.cases.map((c) => `${c.processes} processes holding ${c.connections} connections (${c.label})`).join(", ")}`,
          () => measureRuntimeFloor(plan, log),
        );
      }
    }
  } catch (error) {
    env.remove();
    throw error;
  } finally {
    baseline?.cleanup();
  }
  if (wanted.has("single")) {
    await step("single standalone process (bench/single-process.ts)", async () => {
      const p = Bun.spawn([process.execPath, "run", `${ROOT}/bench/single-process.ts`, "--binary", binary, ...(quick ? ["--quick"] : [])], { stdout: "inherit", stderr: "inherit" });
      await p.exited;
    });
  }

  if (wanted.has("murder")) {
    await step("Cyrus Murder frontend (bench/murder.ts)", async () => {
      const script = `${ROOT}/bench/murder.ts`;
      if (!existsSync(script)) throw new Error(`${script} missing`);
      const p = Bun.spawn([process.execPath, "run", script, ...(quick ? ["--rounds", "1", "--seconds", "2", "--latency-samples", "20"] : ["--seconds", "5"])], { stdout: "inherit", stderr: "inherit" });
      await p.exited;
    });
  }

  log(`\nload average at end: ${loadAverage()}; whole run ${((performance.now() - started) / 60000).toFixed(1)} min`);
  const order = ALL_MODES.filter((id) => all[id]);
  const markdown = [
    "### Every mode, same run",
    modesTable(all, order.filter((id) => !MODES[id].steps)),
    "### Targets",
    targetsTable(all, floor),
    ...(floor ? ["### Runtime floor: what Bun itself holds", floorTable(floor, all)] : []),
    "### One session a process: before and after",
    beforeAfterTable(all, baselineName),
    "### Hostile clients",
    hostileTable(all, order),
  ].join("\n\n");
  if (order.length > 0 || floor) log(`\n${markdown}`);
  if (errors.length > 0) log(`\n${errors.length} step(s) failed; see above.`);
  if (args.markdown) writeFileSync(args.markdown, markdown + "\n");
  if (args.json) writeFileSync(args.json, JSON.stringify({ plan: PLAN, figures: all, floor, errors }, null, 2));
  log(`removing ${env.dir} ...`);
  env.remove();
}

try {
  await main();
} catch (error) {
  // figures are informative: a broken run is reported, never turned into a failing exit status
  log(`bench aborted: ${(error as Error).stack ?? error}`);
}
process.exitCode = 0;
