/**
 * maxlogins_per_user / maxlogins_per_host (pop3d.c:openinbox) across preforked processes, counted from
 * Cyrus-format proc files `<configdirectory>/proc/<pid>` (`service\tclienthost\tuserid\tmailbox\tcmd\n`),
 * which exist while a process serves a session and vanish afterwards; entries of dead pids do not count.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PopClient, cleanupAll, type Fixture } from "../../support/harness.ts";
import { AVAILABLE, FakeMaster, login, masterFixture, pidOfSessionId, quit, serviceDir, setConfig, type SyslogReceiver } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

const ERR = 3;
/** The build's default facility (syslog_facility unset): MAIL, like Debian's Cyrus. */
const DEFAULT_FACILITY = 2;

let fx: Fixture;
let syslog: SyslogReceiver;
let procDir: string;
beforeAll(async () => {
  ({ fx, syslog } = await masterFixture());
  procDir = join(fx.dir, "conf", "proc");
});
afterEach(() => FakeMaster.stopAll());
afterAll(async () => {
  await syslog?.stop();
  cleanupAll();
});

/** Counting as Cyrus 3.12.1 does; how Cyrus before 3.12 counted is tested in test/e2e/dropin. */
function limits(perHost: number, perUser: number, compat = "3.12.1"): void {
  setConfig(fx, { maxlogins_per_host: String(perHost), maxlogins_per_user: String(perUser), pop3_cyrus_compat: compat });
}

async function passReply(c: PopClient, user: string): Promise<string> {
  expect(await c.cmd(`USER ${user}`)).toBe("+OK Name is a valid mailbox");
  return c.cmd(`PASS ${user}-pw`);
}

describe("maxlogins_* (pop3d.c:openinbox)", () => {
  test("maxlogins_per_user: 1 — a second concurrent alice is refused, others are not; freed after QUIT", async () => {
    limits(0, 1);
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"], children: 3 });
    const first = await PopClient.connect(m.port);
    await login(first);

    const second = await PopClient.connect(m.port);
    expect(await passReply(second, "alice")).toBe("-ERR Too many open connections (1 of 1 for alice)");
    // still in AUTHORIZATION: another user may log in on the same connection
    expect(await passReply(second, "bob")).toMatch(/^\+OK Mailbox locked and ready/);
    const line = await syslog.waitForMessage("Too many open connections (1 of 1 for alice)");
    expect(line.pri).toBe(DEFAULT_FACILITY * 8 + ERR);

    await quit(first);
    const third = await PopClient.connect(m.port);
    await login(third);
    await quit(third);
    await quit(second);
  });

  test("maxlogins_per_host: 2 — the third login from 127.0.0.1 is refused", async () => {
    limits(2, 0);
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"], children: 3 });
    const a = await PopClient.connect(m.port);
    await login(a, "alice");
    const b = await PopClient.connect(m.port);
    await login(b, "bob");
    const c = await PopClient.connect(m.port);
    expect(await passReply(c, "alice")).toBe("-ERR Too many open connections (2 of 2 from localhost [127.0.0.1])");
    await quit(a);
    await quit(b);
    await quit(c);
  });

  test("both limits set: both parts, host first, separated by \", \"", async () => {
    limits(5, 1);
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"], children: 2 });
    const a = await PopClient.connect(m.port);
    await login(a);
    const b = await PopClient.connect(m.port);
    expect(await passReply(b, "alice")).toBe("-ERR Too many open connections (1 of 5 from localhost [127.0.0.1], 1 of 1 for alice)");
    await quit(a);
    await quit(b);
  });

  test("a proc file of a live pid counts (another program's entry); one of a dead pid does not", async () => {
    limits(0, 1);
    serviceDir(fx, procDir);
    const entry = "pop3\t[127.0.0.1]\talice\talice\t\n";
    const live = join(procDir, String(process.pid));
    writeFileSync(live, entry);
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
    const c = await PopClient.connect(m.port);
    expect(await passReply(c, "alice")).toBe("-ERR Too many open connections (1 of 1 for alice)");

    rmSync(live);
    const dead = Bun.spawnSync(["true"]).pid;
    expect(existsSync(`/proc/${dead}`)).toBe(false);
    writeFileSync(join(procDir, String(dead)), entry);
    expect(await passReply(c, "alice")).toMatch(/^\+OK Mailbox locked and ready/);
    await quit(c);
  });
});

describe("maxlogins_* as Cyrus before 3.12 counts them", () => {
  test("3.6: USER/PASS counts its own session, so it gets one fewer than AUTH", async () => {
    limits(0, 2, "3.6");
    serviceDir(fx, procDir);
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"], children: 3 });
    const first = await PopClient.connect(m.port);
    expect(await passReply(first, "alice")).toMatch(/^\+OK Mailbox locked and ready/);
    // the first session plus this one's own entry (USER named alice) make 2 of 2
    const second = await PopClient.connect(m.port);
    expect(await passReply(second, "alice")).toBe("-ERR Too many open connections (2 of 2 for alice)");
    // AUTH PLAIN names nobody in the proc entry before the check: 1 of 2 passes
    const third = await PopClient.connect(m.port);
    expect(await third.cmd(`AUTH PLAIN ${Buffer.from("\0alice\0alice-pw").toString("base64")}`)).toMatch(/^\+OK Mailbox locked and ready/);
    await quit(third);
    await quit(first);
    await quit(second);
  });

  test("3.6: another service's logged-in entry (an IMAP session) counts", async () => {
    limits(0, 1, "3.6");
    serviceDir(fx, procDir);
    const imap = join(procDir, String(process.pid));
    writeFileSync(imap, "imap\t[127.0.0.1]\tbob\tuser.bob\t\n");
    try {
      const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
      const c = await PopClient.connect(m.port);
      expect(await c.cmd(`AUTH PLAIN ${Buffer.from("\0bob\0bob-pw").toString("base64")}`)).toBe("-ERR Too many open connections (1 of 1 for bob)");
      await quit(c);
    } finally {
      rmSync(imap);
    }
  });
});

describe("proc files (Cyrus lib/proc.c format)", () => {
  test("<configdirectory>/proc/<pid> follows the session: host, then user after USER, mailbox after login; gone after QUIT", async () => {
    limits(0, 0);
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"] });
    const file = join(procDir, String(m.pid));
    const c = await PopClient.connect(m.port);
    // the reverse lookup runs beside the greeting: the name is there by the first command
    expect(readFileSync(file, "latin1")).toMatch(/^pop3\t(localhost )?\[127\.0\.0\.1\]\t\t\t\n$/);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(readFileSync(file, "latin1")).toBe("pop3\tlocalhost [127.0.0.1]\talice\t\t\n");
    expect(pidOfSessionId((/SESSIONID=<([^>]+)>/.exec(await c.cmd("PASS alice-pw")) ?? [])[1] ?? "")).toBe(m.pid);
    expect(readFileSync(file, "latin1")).toBe("pop3\tlocalhost [127.0.0.1]\talice\tuser.alice\t\n");
    await quit(c);
    await m.waitFor(() => m.allStatuses().includes(AVAILABLE), "AVAILABLE");
    expect(existsSync(file)).toBe(false);
  });

  test("the proc file carries CYRUS_SERVICE and is removed when the client just hangs up", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "5"], service: "pop3s" });
    const file = join(procDir, String(m.pid));
    const c = await PopClient.connect(m.port);
    await login(c);
    expect(readFileSync(file, "latin1")).toMatch(/^pop3s\tlocalhost \[127\.0\.0\.1\]\talice\t/);
    c.close();
    expect(await m.exitOf()).toBe(0);
    expect(existsSync(file)).toBe(false);
  });
});
