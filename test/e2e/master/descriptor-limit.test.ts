/**
 * master(8)'s default one-session process at its descriptor limit (RLIMIT_NOFILE, set with
 * prlimit on the real binary): accept(2) fails with EMFILE, so the process gives up its spare
 * descriptor, accepts the waiting client, answers "-ERR [SYS/TEMP] …", closes it and takes the
 * spare back. The client learns why at once instead of waiting in the backlog, and the process
 * keeps waiting for connections (it neither dies nor counts the refusal as a session).
 *
 * With `pop3_sessions_per_process`, a process whose connections reach its descriptor budget counts
 * as full: it says UNAVAILABLE and stops accepting, so the real master(8) forks another process and
 * every client is greeted.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PopClient, cleanupAll, freePort, makeFixture, type Fixture } from "../../support/harness.ts";
import { DESCRIPTOR_RESERVE } from "../../../src/limits.ts";
import { FULL_REFUSAL } from "../../../src/server/refuse-when-full.ts";
import { FakeMaster } from "./fake-master.ts";
import { REAL_MASTER_UNAVAILABLE, childrenOf, startRealMaster, type RealMaster } from "./real-master.ts";
import { SyslogReceiver, setConfig } from "./support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const PRLIMIT = Bun.which("prlimit") ?? "/usr/bin/prlimit";
const MASTER_SERVICE_CONNECTION = 0x03;

let fx: Fixture;
beforeAll(() => {
  fx = makeFixture();
});
let real: RealMaster | undefined;
let syslog: SyslogReceiver | undefined;
afterAll(async () => {
  await FakeMaster.stopAll();
  await real?.stop();
  await syslog?.stop();
  cleanupAll();
});

/** The lowest descriptor number a process has free: a limit of that many leaves it none to accept with. */
function lowestFreeFd(pid: number): number {
  const open = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
  let fd = 0;
  while (open.has(fd)) fd++;
  return fd;
}

describe("master's one-session process at its descriptor limit", () => {
  test("each waiting client gets the -ERR and is closed; the process keeps waiting", async () => {
    // how many descriptors a process waiting for its first connection holds (spare one included)
    const probe = await FakeMaster.start({ args: ["-C", fx.confPath] });
    await probe.waitUntilAccepting();
    const limit = lowestFreeFd(probe.pid);
    probe.signal("SIGTERM");
    await probe.exitOf();

    const m = await FakeMaster.start({ binary: PRLIMIT, args: [`--nofile=${limit}:${limit}`, BINARY, "-C", fx.confPath] });
    await m.waitUntilAccepting();
    for (let i = 0; i < 3; i++) {
      const c = await PopClient.connect(m.port);
      expect(c.greeting).toBe(FULL_REFUSAL.trimEnd());
      await c.closed();
    }
    expect(m.alive()).toBe(true);
    expect(m.statuses(m.pid)).not.toContain(MASTER_SERVICE_CONNECTION);
    m.signal("SIGTERM");
    expect(await m.exitOf()).toBe(75);
  });
});

if (REAL_MASTER_UNAVAILABLE) console.warn(`descriptor-limit.test.ts: real master case SKIPPED — ${REAL_MASTER_UNAVAILABLE}`);

describe.skipIf(REAL_MASTER_UNAVAILABLE !== undefined)("pop3_sessions_per_process at the descriptor limit, under the real master(8)", () => {
  test("a process full at its budget says UNAVAILABLE; master forks another and every client is greeted", async () => {
    const NOFILE = 100;
    const fit = NOFILE - DESCRIPTOR_RESERVE;
    const mfx = makeFixture({ config: { pop3_run_as: "cyrus" } });
    const socketPath = join(mfx.dir, "syslog.sock");
    setConfig(mfx, { pop3_syslog_socket: socketPath, pop3_pop3_sessions_per_process: "200" });
    syslog = await SyslogReceiver.start(socketPath);
    real = await startRealMaster(mfx, freePort(), { args: "-U 1000", prefork: 1 }, NOFILE);

    const total = fit + 20;
    const clients = await Promise.all(Array.from({ length: total }, () => PopClient.connect(real!.port)));
    for (const c of clients) expect(c.greeting).toMatch(/^\+OK /);
    const serving = childrenOf(real.proc.pid);
    expect(serving.length).toBeGreaterThanOrEqual(2);
    for (const pid of serving) {
      const limit = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1];
      expect(Number(limit)).toBe(NOFILE);
    }
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.closed()));
  });
});
