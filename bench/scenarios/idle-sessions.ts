/**
 * Memory per idle logged-in session: open N sessions (greeting, USER, PASS, STAT, then silence)
 * against a fresh server and compare its resident set before and after.
 */
import { readdirSync } from "node:fs";
import { PopWire } from "../pop3-wire.ts";
import { procStatusKb } from "../server.ts";
import type { Credentials } from "../loadgen.ts";

/** Logins in flight at once while opening the sessions (a burst of 1,000 SYNs would overflow the backlog). */
const OPEN_CONCURRENCY = 32;
/** Sessions run and closed first so code paths are compiled and caches built before the baseline. */
const WARMUP_SESSIONS = 64;
/** Time for the server's allocator and GC to settle before each reading. */
const SETTLE_MS = 3_000;

export interface IdleResult {
  sessions: number;
  failures: number;
  openFds: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  rssLaterKb: number;
  perSessionKb: number;
  perSessionLaterKb: number;
  openSeconds: number;
}

async function openSession(port: number, user: Credentials): Promise<PopWire> {
  const wire = await PopWire.connect("127.0.0.1", port);
  await wire.readLine();
  await wire.command(`USER ${user.name}`);
  await wire.command(`PASS ${user.password}`);
  await wire.command("STAT");
  return wire;
}

export async function measureIdleSessions(port: number, serverPid: number, users: Credentials[], count: number): Promise<IdleResult> {
  for (let i = 0; i < WARMUP_SESSIONS; i++) {
    const wire = await openSession(port, users[i % users.length]!);
    await wire.command("QUIT");
    wire.close();
  }
  await Bun.sleep(SETTLE_MS);
  const rssBeforeKb = procStatusKb(serverPid, "VmRSS");

  const open: PopWire[] = [];
  let failures = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: OPEN_CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        try {
          open.push(await openSession(port, users[i % users.length]!));
        } catch {
          failures++;
        }
      }
    }),
  );
  const openSeconds = (performance.now() - t0) / 1000;
  await Bun.sleep(SETTLE_MS);
  const rssAfterKb = procStatusKb(serverPid, "VmRSS");
  const openFds = readdirSync(`/proc/${serverPid}/fd`).length;
  await Bun.sleep(3 * SETTLE_MS);
  const rssLaterKb = procStatusKb(serverPid, "VmRSS");

  const alive = open.filter((w) => !w.isClosed).length;
  for (const wire of open) {
    try {
      wire.send("QUIT");
    } catch {
      // already closed by the server: counted as not alive above
    }
    wire.close();
  }
  return {
    sessions: alive,
    failures: failures + (open.length - alive),
    openFds,
    rssBeforeKb,
    rssAfterKb,
    rssLaterKb,
    perSessionKb: (rssAfterKb - rssBeforeKb) / Math.max(alive, 1),
    perSessionLaterKb: (rssLaterKb - rssBeforeKb) / Math.max(alive, 1),
    openSeconds,
  };
}
