/**
 * master(8)'s default one-session process at its descriptor limit (RLIMIT_NOFILE, set with
 * prlimit on the real binary): accept(2) fails with EMFILE, so the process gives up its spare
 * descriptor, accepts the waiting client, answers "-ERR [SYS/TEMP] …", closes it and takes the
 * spare back. The client learns why at once instead of waiting in the backlog, and the process
 * keeps waiting for connections (it neither dies nor counts the refusal as a session).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { BINARY, PopClient, cleanupAll, makeFixture, type Fixture } from "../../support/harness.ts";
import { FULL_REFUSAL } from "../../../src/server/refuse-when-full.ts";
import { FakeMaster } from "./fake-master.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const PRLIMIT = Bun.which("prlimit") ?? "/usr/bin/prlimit";
const MASTER_SERVICE_CONNECTION = 0x03;

let fx: Fixture;
beforeAll(() => {
  fx = makeFixture();
});
afterAll(async () => {
  await FakeMaster.stopAll();
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
