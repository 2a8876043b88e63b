/**
 * Opening many POP3 connections at once, bounded in count, concurrency and time: each reads its
 * greeting and, when users are given, logs in (USER, PASS, STAT) and then stays silent.
 */
import type { Credentials } from "./loadgen.ts";
import { PopWire } from "./pop3-wire.ts";

/** Connects in flight at once: a burst of thousands of SYNs would overflow master's listen backlog (32). */
export const OPEN_CONCURRENCY = 32;

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

export interface OpenResult {
  wires: PopWire[];
  failures: number;
  errorSamples: string[];
  /** First connect to last greeting (or login). */
  seconds: number;
  /** connect → greeting of each connection, ms. */
  greetMs: number[];
  /** Stopped early at the time bound. */
  timedOut: boolean;
}

export async function openMany(
  port: number,
  count: number,
  opts: { login?: Credentials[]; timeoutMs: number; perConnectionMs?: number; concurrency?: number },
): Promise<OpenResult> {
  const wires: PopWire[] = [];
  const greetMs: number[] = [];
  const errorSamples: string[] = [];
  let failures = 0;
  let next = 0;
  let timedOut = false;
  const perConnection = opts.perConnectionMs ?? 30_000;
  const t0 = performance.now();
  const deadline = t0 + opts.timeoutMs;
  const one = async (i: number): Promise<void> => {
    const c0 = performance.now();
    const wire = await withTimeout(PopWire.connect("127.0.0.1", port), perConnection, "connect");
    try {
      const greeting = await withTimeout(wire.readLine(), perConnection, "greeting");
      if (!greeting.startsWith("+OK")) throw new Error(`greeting: ${greeting}`);
      greetMs.push(performance.now() - c0);
      const user = opts.login?.[i % opts.login.length];
      if (user) {
        await withTimeout(wire.command(`USER ${user.name}`), perConnection, "USER");
        await withTimeout(wire.command(`PASS ${user.password}`), perConnection, "PASS");
        await withTimeout(wire.command("STAT"), perConnection, "STAT");
      }
      wires.push(wire);
    } catch (error) {
      wire.close();
      throw error;
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(opts.concurrency ?? OPEN_CONCURRENCY, count) }, async () => {
      while (next < count) {
        if (performance.now() > deadline) {
          timedOut = true;
          return;
        }
        const i = next++;
        try {
          await one(i);
        } catch (error) {
          failures++;
          if (errorSamples.length < 3) errorSamples.push((error as Error).message);
        }
      }
    }),
  );
  return { wires, failures, errorSamples, seconds: (performance.now() - t0) / 1000, greetMs, timedOut };
}

/** Logs in connections already greeted (the same sessions go from idle to logged in). */
export async function loginAll(wires: PopWire[], users: Credentials[], timeoutMs: number): Promise<{ failures: number; seconds: number; errorSamples: string[] }> {
  let next = 0;
  let failures = 0;
  const errorSamples: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(OPEN_CONCURRENCY, wires.length) }, async () => {
      while (next < wires.length) {
        const i = next++;
        const wire = wires[i]!;
        const user = users[i % users.length]!;
        try {
          await withTimeout(wire.command(`USER ${user.name}`), timeoutMs, "USER");
          await withTimeout(wire.command(`PASS ${user.password}`), timeoutMs, "PASS");
          await withTimeout(wire.command("STAT"), timeoutMs, "STAT");
        } catch (error) {
          failures++;
          if (errorSamples.length < 3) errorSamples.push((error as Error).message);
        }
      }
    }),
  );
  return { failures, seconds: (performance.now() - t0) / 1000, errorSamples };
}

export function closeAll(wires: PopWire[]): void {
  for (const w of wires) w.close();
}
