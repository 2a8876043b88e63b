/**
 * Telemetry files in a process that serves several sessions (`pop3_sessions_per_process` under the
 * real Cyrus master(8)): each session writes its own file, `<service>-<sessionid>`, holding only
 * its own bytes; `<service>-<pid>` would mix two sessions of the same user (docs/launch-modes.md).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PopClient, cleanupAll, freePort, makeFixture, type Fixture } from "../../support/harness.ts";
import { REAL_MASTER_UNAVAILABLE, startRealMaster, type RealMaster } from "./real-master.ts";
import { login, pidOfSessionId, quit, serviceDir, setConfig } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

if (REAL_MASTER_UNAVAILABLE) console.warn(`multi-session-telemetry.test.ts: SKIPPED — ${REAL_MASTER_UNAVAILABLE}`);

let fx: Fixture;
let master: RealMaster;
let userLog: string;

beforeAll(async () => {
  if (REAL_MASTER_UNAVAILABLE) return;
  fx = makeFixture({ users: { alice: "alice-pw" }, anchorMessagesFor: ["alice"], config: { pop3_run_as: "cyrus" } });
  setConfig(fx, { pop3_sessions_per_process: "3" });
  master = await startRealMaster(fx, freePort(), { args: "", prefork: 1 });
  userLog = serviceDir(fx, join(fx.dir, "conf", "log", "alice"));
});

afterAll(async () => {
  await master?.stop();
  cleanupAll();
});

describe.skipIf(REAL_MASTER_UNAVAILABLE !== undefined)("telemetry with pop3_sessions_per_process under the real Cyrus master(8)", () => {
  test("two sessions of one user in one process write two files, each with only its own session", async () => {
    const a = await PopClient.connect(master.port);
    const b = await PopClient.connect(master.port);
    const sidA = await login(a, "alice");
    const sidB = await login(b, "alice");
    expect(pidOfSessionId(sidB)).toBe(pidOfSessionId(sidA));
    // interleaved commands, each session its own
    await a.cmd("NOOP");
    await b.cmd("STAT");
    await a.cmd("LIST 1");
    await b.cmd("UIDL 1");
    await quit(a);
    await quit(b);

    const files = readdirSync(userLog).sort();
    expect(files).toEqual([`pop3-${sidA}`, `pop3-${sidB}`].sort());
    const textA = readFileSync(join(userLog, `pop3-${sidA}`), "latin1");
    const textB = readFileSync(join(userLog, `pop3-${sidB}`), "latin1");
    expect(textA).toContain(`SESSIONID=<${sidA}>`);
    expect(textA).toContain("<NOOP\r\n");
    expect(textA).toContain("<LIST 1\r\n");
    expect(textA).not.toContain(sidB);
    expect(textA).not.toContain("STAT");
    expect(textA).not.toContain("UIDL");
    expect(textB).toContain(`SESSIONID=<${sidB}>`);
    expect(textB).toContain("<STAT\r\n");
    expect(textB).toContain("<UIDL 1\r\n");
    expect(textB).not.toContain(sidA);
    expect(textB).not.toContain("NOOP");
    expect(textB).not.toContain("LIST");
    // one header line per file: one session each
    expect(textA.match(/^---------- alice /gm)).toHaveLength(1);
    expect(textB.match(/^---------- alice /gm)).toHaveLength(1);
  });
});
