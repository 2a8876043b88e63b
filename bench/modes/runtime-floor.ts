/**
 * The runtime floor: what K processes of a compiled Bun program that does nothing but listen and
 * greet hold in PSS, built with the flags the Makefile gives dist/pop3d. Divided by the connections
 * a multi-session mode served with K processes, holding the same connections between them, it is
 * the part of that mode's "PSS per connection" no code of ours can remove while it runs K Bun
 * processes; the rest is what pop3d adds.
 *
 * A lone copy is read first (its file-backed PSS is then all of its mapped executable), then again
 * holding as many idle connections as a pop3d process does (200): what Bun's sockets cost per
 * connection. Then more copies up to each process count asked for, the connections spread evenly
 * over them; 2 s to settle before each reading, as the memory step does.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAll, openMany } from "../connections.ts";
import { pssParts, sumPss, type PssParts, type PssSum } from "../proc-tree.ts";
import { SETTLE_MS } from "./memory.ts";
import { ROOT } from "../server.ts";

/** The Makefile's `bun build` flags for dist/pop3d, less its --define's (which only set strings). */
export const MAKEFILE_BUILD_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--splitting",
  "--compile-exec-argv=--smol",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

const START_TIMEOUT_MS = 10_000;

export interface FloorCase {
  /** What the case stands for, e.g. "idle" (the 200/process run's idle connections). */
  label: string;
  processes: number;
  connections: number;
  opened: number;
  pss: PssSum;
  perConnectionKb: number;
  anonPerConnectionKb: number;
  filePerConnectionKb: number;
}

export interface RuntimeFloor {
  binaryBytes: number;
  /** Flags of MAKEFILE_BUILD_FLAGS no longer in the Makefile: the floor is then built differently. */
  flagsNotInMakefile: string[];
  /** One copy running alone. */
  lone: PssParts;
  cases: FloorCase[];
  /** The lone copy after opening `connections` to it (`before` is `lone`). */
  held?: { connections: number; opened: number; before: PssParts; after: PssParts; marginalKb: number; marginalAnonKb: number };
}

export interface FloorPlan {
  cases: { label: string; processes: number; connections: number }[];
  /** Idle connections one bare process is given (0: skip). */
  heldConnections: number;
  timeoutMs: number;
}

interface Copy {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  port: number;
}

async function startCopy(exe: string): Promise<Copy> {
  const proc = Bun.spawn([exe], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let text = "";
  const timer = setTimeout(() => proc.kill("SIGKILL"), START_TIMEOUT_MS);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`bare listener exited (${proc.exitCode ?? proc.signalCode}) before printing its port: ${await new Response(proc.stderr).text()}`);
      text += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return { proc, port: Number(text.trim()) };
}

function build(dir: string): string {
  const exe = join(dir, "bare-listener");
  const r = Bun.spawnSync([process.execPath, "build", ...MAKEFILE_BUILD_FLAGS, join(import.meta.dir, "bare-listener.ts"), "--outfile", exe], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bun build of the bare listener failed: ${r.stderr.toString().slice(-1000)}`);
  return exe;
}

export function flagsNotInMakefile(): string[] {
  const makefile = readFileSync(join(ROOT, "Makefile"), "utf8");
  return MAKEFILE_BUILD_FLAGS.filter((flag) => !makefile.includes(flag));
}

export async function measureRuntimeFloor(plan: FloorPlan, log: (line: string) => void): Promise<RuntimeFloor> {
  const dir = mkdtempSync(join(tmpdir(), "pop3d-floor-"));
  const copies: Copy[] = [];
  try {
    const exe = build(dir);
    const missing = flagsNotInMakefile();
    if (missing.length > 0) log(`   the Makefile no longer builds dist/pop3d with ${missing.join(" ")}: the floor is not built like pop3d`);
    const binaryBytes = statSync(exe).size;
    copies.push(await startCopy(exe));
    await Bun.sleep(SETTLE_MS);
    const lone = pssParts(copies[0]!.proc.pid);
    log(`   bare Bun listener (${(binaryBytes / 1048576).toFixed(1)} MB executable), one process alone: PSS ${lone.pssKb} kB = anonymous ${lone.anonKb} + file-backed ${lone.fileKb}`);
    let held: RuntimeFloor["held"];
    if (plan.heldConnections > 0) {
      const before = lone;
      const opened = await openMany(copies[0]!.port, plan.heldConnections, { timeoutMs: plan.timeoutMs });
      await Bun.sleep(SETTLE_MS);
      const after = pssParts(copies[0]!.proc.pid);
      const n = Math.max(opened.wires.length, 1);
      held = { connections: plan.heldConnections, opened: opened.wires.length, before, after, marginalKb: (after.pssKb - before.pssKb) / n, marginalAnonKb: (after.anonKb - before.anonKb) / n };
      closeAll(opened.wires);
      log(
        `   the same process with ${opened.wires.length}/${plan.heldConnections} idle connections (${opened.failures} failed): PSS ${after.pssKb} kB = anonymous ${after.anonKb} + file-backed ${after.fileKb} ` +
          `(anonymous +${held.marginalAnonKb.toFixed(1)} kB per connection; file-backed +${after.fileKb - before.fileKb} kB, more of the executable paged in by serving)`,
      );
    }
    const cases: FloorCase[] = [];
    for (const c of [...plan.cases].sort((a, b) => a.processes - b.processes)) {
      while (copies.length < c.processes) copies.push(await startCopy(exe));
      // the connections spread evenly: every copy has served, so its socket code is resident too
      const used = copies.slice(0, c.processes);
      const wires = [];
      let failures = 0;
      for (const [i, copy] of used.entries()) {
        const share = Math.floor(c.connections / used.length) + (i < c.connections % used.length ? 1 : 0);
        const opened = await openMany(copy.port, share, { timeoutMs: plan.timeoutMs });
        wires.push(...opened.wires);
        failures += opened.failures;
      }
      await Bun.sleep(SETTLE_MS);
      const pss = sumPss(used.map((k) => k.proc.pid));
      closeAll(wires);
      const n = Math.max(wires.length, 1);
      const fc: FloorCase = { ...c, opened: wires.length, pss, perConnectionKb: pss.totalKb / n, anonPerConnectionKb: pss.anonKb / n, filePerConnectionKb: pss.fileKb / n };
      cases.push(fc);
      log(
        `   ${c.processes} bare processes holding ${wires.length}/${c.connections} idle connections between them (${c.label}; ${failures} failed): PSS ${(pss.totalKb / 1024).toFixed(1)} MB ` +
          `(anonymous ${(pss.anonKb / 1024).toFixed(1)}, file-backed ${(pss.fileKb / 1024).toFixed(1)}) = ${fc.perConnectionKb.toFixed(1)} kB per connection (anonymous ${fc.anonPerConnectionKb.toFixed(1)}, file-backed ${fc.filePerConnectionKb.toFixed(1)})`,
      );
    }
    return { binaryBytes, flagsNotInMakefile: missing, lone, cases, held };
  } finally {
    for (const c of copies) c.proc.kill("SIGKILL");
    await Promise.all(copies.map((c) => c.proc.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}
