/**
 * The shutdown file (pop3d.c:cmdloop): <configdirectory>/msg/shutdown or msg/shutdown.<service>, checked
 * before every command read, even right after the greeting: `-ERR [SYS/TEMP] <first line without
 * leading '['>`, then the connection closes, nothing is committed and the process exits 0.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PopClient, cleanupAll, type Fixture } from "../../support/harness.ts";
import { CONNECTION, FakeMaster, UNAVAILABLE, login, masterFixture, type SyslogReceiver } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

let fx: Fixture;
let syslog: SyslogReceiver;
let msgDir: string;
beforeAll(async () => {
  ({ fx, syslog } = await masterFixture());
  msgDir = join(fx.dir, "conf", "msg");
  mkdirSync(msgDir, { recursive: true, mode: 0o755 });
});
afterEach(async () => {
  await FakeMaster.stopAll();
  rmSync(msgDir, { recursive: true, force: true });
  mkdirSync(msgDir, { recursive: true, mode: 0o755 });
});
afterAll(async () => {
  await syslog?.stop();
  cleanupAll();
});

const curFiles = (): string[] => readdirSync(join(fx.maildir("alice"), "cur"));

/** Connects and expects the greeting followed straight away by the notice, then the close. */
async function expectNoticeAfterGreeting(m: FakeMaster, notice: string): Promise<void> {
  const c = await PopClient.connect(m.port);
  expect(c.greeting).toMatch(/^\+OK pop\.test pop3d /);
  expect(await c.readLine()).toBe(notice);
  await c.closed();
  expect(c.unread().toString("latin1")).toBe("");
  expect(await m.exitOf()).toBe(0);
  // the session did not end with QUIT: no AVAILABLE, the process is gone
  expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION]);
}

describe("shutdown file (pop3d.c:cmdloop)", () => {
  test("msg/shutdown: the first line, leading '[' removed, right after the greeting; then close and exit 0", async () => {
    writeFileSync(join(msgDir, "shutdown"), "[Maintenance tonight\nsecond line is not sent\n");
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
    await expectNoticeAfterGreeting(m, "-ERR [SYS/TEMP] Maintenance tonight");
  });

  test("msg/shutdown.<service> for this service (every leading '[' removed)", async () => {
    writeFileSync(join(msgDir, "shutdown.pop3"), "[[Back at six\r\n");
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
    await expectNoticeAfterGreeting(m, "-ERR [SYS/TEMP] Back at six");
  });

  test("msg/shutdown.<other service> does not stop this one", async () => {
    writeFileSync(join(msgDir, "shutdown.pop3s"), "pop3s only\n");
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
    const c = await PopClient.connect(m.port);
    await login(c);
    expect(await c.cmd("NOOP")).toBe("+OK");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();

    const s = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"], service: "pop3s" });
    await expectNoticeAfterGreeting(s, "-ERR [SYS/TEMP] pop3s only");
  });

  test("an empty shutdown file gives \"-ERR [SYS/TEMP] \" (trailing space)", async () => {
    writeFileSync(join(msgDir, "shutdown"), "");
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
    await expectNoticeAfterGreeting(m, "-ERR [SYS/TEMP] ");
  });

  test("created mid-session: the command already sent is answered, then the notice; nothing committed", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
    const c = await PopClient.connect(m.port);
    await login(c);
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    writeFileSync(join(msgDir, "shutdown"), "Going down now\n");
    // the server was already waiting for this line when the file appeared; the check runs before the next read
    expect(await c.cmd("NOOP")).toBe("+OK");
    expect(await c.readLine()).toBe("-ERR [SYS/TEMP] Going down now");
    await c.closed();
    expect(c.unread().toString("latin1")).toBe("");
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION]);
    expect(curFiles()).toHaveLength(7);
  });
});
