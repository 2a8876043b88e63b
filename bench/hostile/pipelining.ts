/**
 * Clients that pipeline commands and never read their answers: before login (CAPA) or after it
 * (STAT). The figure is how much the service's memory grows per such client (summed PSS, peak
 * during the attack minus before it), and whether the other clients still get their greeting
 * within 100 ms meanwhile (13 of them, each connecting again and again).
 *
 * The baseline is taken on a warm service, as a production server is: first WARM_SESSIONS full
 * sessions of the load shape (login, STAT, UIDL, RETR of every message, QUIT; bench/loadgen.ts),
 * then the other clients for a few seconds. Otherwise the growth is mostly the service's one-time
 * cost of running its first sessions at all (compiled code, heap growth), not the hostile clients'.
 * Besides the peak and the end of the attack, "held" is the growth once the hostile clients have
 * stopped sending but stay connected and the service has been idle for HOLD_IDLE_MS: what the
 * server really keeps for them, against the same idle service before the attack.
 */
import type { Socket } from "bun";
import { withTimeout } from "../connections.ts";
import { runSession, type Credentials } from "../loadgen.ts";
import type { Service } from "../modes.ts";
import { sumPss } from "../proc-tree.ts";
import { timeToFirstLine } from "../scenarios/stdio-greeting.ts";
import { percentile } from "../stats.ts";

export const OTHER_CLIENTS = 13;
const GREETING_BOUND_MS = 100;
/** An other client that has no greeting (and QUIT answer) by then counts as failed; it is well past the bound. */
const OTHER_TIMEOUT_MS = 2_000;
const PIPELINE_BLOCK = 64 * 1024;
const SAMPLE_EVERY_MS = 200;
/** Between one other client's connections: 13 clients then open ~60 connections a second. */
const OTHER_PAUSE_MS = 200;
/** Full load-shape sessions before the baseline, WARM_CONCURRENCY at a time. */
const WARM_SESSIONS = 24;
const WARM_CONCURRENCY = 4;
/** The other clients alone before the baseline. */
const WARM_OTHERS_MS = 3_000;
/** After the attack: the service idle this long (no other clients, hostile ones connected and silent) before "held" is read. */
const HOLD_IDLE_MS = 4_000;

export interface PipeliningRun {
  variant: "CAPA before login" | "STAT after login";
  hostile: number;
  /** Bytes of commands the hostile clients got the server to take. */
  bytesSent: number;
  pssBeforeKb: number;
  pssPeakKb: number;
  growthPerClientKb: number;
  /** At the end of the attack, the clients still connected. */
  settledGrowthPerClientKb: number;
  /** Hostile clients silent but connected, the service idle for HOLD_IDLE_MS: what it keeps for them. */
  heldGrowthPerClientKb: number;
  greetings: number;
  greetingsWithin100ms: number;
  greetingP99Ms: number;
  greetingMaxMs: number;
  otherFailures: number;
  /** The same share in the second before the attack: what the others get anyway. */
  beforeWithin100ms: number;
  beforeGreetings: number;
}

/** One client that writes `command` over and over and never reads (its socket is paused). */
class NonReader {
  sent = 0;
  private running = true;
  private wake: (() => void) | undefined;

  constructor(private readonly socket: Socket<NonReader>) {}

  static async open(port: number, login: Credentials | undefined): Promise<NonReader> {
    let lines = 0;
    let text = "";
    let ready!: () => void;
    const loggedIn = new Promise<void>((resolve) => (ready = resolve));
    const socket = await Bun.connect<NonReader>({
      hostname: "127.0.0.1",
      port,
      data: undefined as unknown as NonReader,
      socket: {
        data(s, chunk) {
          if (!login) return;
          text += chunk.toString("latin1");
          lines = text.split("\r\n").length - 1;
          if (lines >= 3) {
            s.pause();
            ready();
          }
        },
        drain: (s) => s.data?.wake?.(),
        close: (s) => s.data?.stop(),
        error: (s) => s.data?.stop(),
      },
    });
    const client = new NonReader(socket);
    socket.data = client;
    if (login) {
      socket.write(`USER ${login.name}\r\nPASS ${login.password}\r\n`);
      await withTimeout(loggedIn, 30_000, "hostile login");
    } else {
      socket.pause();
    }
    return client;
  }

  async flood(command: string): Promise<void> {
    const block = Buffer.from(`${command}\r\n`.repeat(Math.floor(PIPELINE_BLOCK / (command.length + 2))));
    let rest = block;
    while (this.running) {
      const n = this.socket.write(rest);
      this.sent += n;
      rest = n >= rest.length ? block : rest.subarray(n);
      if (n === 0 || rest !== block) await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  stop(): void {
    this.running = false;
    this.wake?.();
  }

  close(): void {
    this.stop();
    this.socket.end();
  }
}

/** A warm service: full sessions of the load shape, a few at a time. */
async function warmUp(svc: Service, users: Credentials[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < WARM_SESSIONS; i = next++) await runSession("127.0.0.1", svc.port, users[i % users.length]!);
  };
  await Promise.all(Array.from({ length: WARM_CONCURRENCY }, worker));
}

export async function measurePipelining(
  svc: Service,
  variant: PipeliningRun["variant"],
  users: Credentials[],
  opts: { hostile: number; seconds: number; warmUsers: Credentials[] },
): Promise<PipeliningRun> {
  await warmUp(svc, opts.warmUsers);
  // the other clients next, so processes they need exist before the baseline reading
  let others = true;
  let othersPaused = false;
  const greetMs: number[] = [];
  let otherFailures = 0;
  const other = async () => {
    while (others) {
      if (othersPaused) {
        await Bun.sleep(50);
        continue;
      }
      try {
        greetMs.push((await timeToFirstLine(svc.port, OTHER_TIMEOUT_MS)).ms);
      } catch {
        otherFailures++;
      }
      await Bun.sleep(OTHER_PAUSE_MS);
    }
  };
  const otherLoops = Array.from({ length: OTHER_CLIENTS }, other);
  await Bun.sleep(WARM_OTHERS_MS);
  // "held" compares like with like: the idle service before the attack (the many-sessions
  // processes give memory back once quiet, so a busy baseline would make it look negative)
  othersPaused = true;
  await Bun.sleep(HOLD_IDLE_MS);
  const pssIdleBeforeKb = sumPss(svc.servicePids()).totalKb;
  othersPaused = false;
  await Bun.sleep(1_000);
  greetMs.length = 0;
  otherFailures = 0;
  await Bun.sleep(1_000);
  const beforeGreetings = greetMs.length + otherFailures;
  const beforeWithin100ms = greetMs.filter((ms) => ms <= GREETING_BOUND_MS).length;
  greetMs.length = 0;
  otherFailures = 0;
  const pssBeforeKb = sumPss(svc.servicePids()).totalKb;
  let pssPeakKb = pssBeforeKb;
  let pssEndKb = pssBeforeKb;
  let pssHeldKb = pssIdleBeforeKb;
  const sampler = setInterval(() => (pssPeakKb = Math.max(pssPeakKb, sumPss(svc.servicePids()).totalKb)), SAMPLE_EVERY_MS);
  const after = variant === "STAT after login";
  const hostile: NonReader[] = [];
  try {
    for (let i = 0; i < opts.hostile; i++) hostile.push(await NonReader.open(svc.port, after ? users[i % users.length] : undefined));
    const floods = hostile.map((h) => h.flood(after ? "STAT" : "CAPA"));
    await Bun.sleep(opts.seconds * 1000);
    for (const h of hostile) h.stop();
    await Promise.all(floods);
    pssEndKb = sumPss(svc.servicePids()).totalKb;
    pssPeakKb = Math.max(pssPeakKb, pssEndKb);
    clearInterval(sampler);
    others = false;
    await Promise.all(otherLoops);
    await Bun.sleep(HOLD_IDLE_MS);
    pssHeldKb = sumPss(svc.servicePids()).totalKb;
  } finally {
    clearInterval(sampler);
    others = false;
    await Promise.all(otherLoops);
    for (const h of hostile) h.close();
  }
  const sorted = greetMs.sort((a, b) => a - b);
  return {
    variant,
    hostile: opts.hostile,
    bytesSent: hostile.reduce((n, h) => n + h.sent, 0),
    pssBeforeKb,
    pssPeakKb,
    growthPerClientKb: (pssPeakKb - pssBeforeKb) / opts.hostile,
    settledGrowthPerClientKb: (pssEndKb - pssBeforeKb) / opts.hostile,
    heldGrowthPerClientKb: (pssHeldKb - pssIdleBeforeKb) / opts.hostile,
    greetings: sorted.length,
    greetingsWithin100ms: sorted.filter((ms) => ms <= GREETING_BOUND_MS).length,
    greetingP99Ms: percentile(sorted, 99),
    greetingMaxMs: sorted.at(-1) ?? NaN,
    otherFailures,
    beforeWithin100ms,
    beforeGreetings,
  };
}

export function describePipelining(r: PipeliningRun): string {
  return (
    `   ${r.variant}: ${r.hostile} non-readers pushed ${(r.bytesSent / 1e6).toFixed(1)} MB; service PSS ${(r.pssBeforeKb / 1024).toFixed(1)} → peak ${(r.pssPeakKb / 1024).toFixed(1)} MB ` +
    `(+${r.growthPerClientKb.toFixed(0)} kB per client at the peak, +${r.settledGrowthPerClientKb.toFixed(0)} kB at the end, +${r.heldGrowthPerClientKb.toFixed(0)} kB held after ${HOLD_IDLE_MS / 1000} s idle); others: ${r.greetingsWithin100ms}/${r.greetings + r.otherFailures} greetings ≤ 100 ms, p99 ${r.greetingP99Ms.toFixed(1)} ms, max ${r.greetingMaxMs.toFixed(0)} ms, ${r.otherFailures} failed (before the attack: ${r.beforeWithin100ms}/${r.beforeGreetings} ≤ 100 ms)`
  );
}
