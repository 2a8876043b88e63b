/**
 * Telemetry files (imap/telemetry.c:telemetry_log): only when <configdirectory>/log/<userid>/ exists; named <service>-<pid>
 * (or <service>-<sessionid> with telemetry_bysessionid); a ctime header and an empty line, then
 * `>ts>` output and `<ts<` input chunks with no framing, starting at "+OK Mailbox locked".
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PopClient, cleanupAll, expectedRetr, type Fixture } from "../../support/harness.ts";
import { FakeMaster, login, masterFixture, quit, serviceDir, setConfig, type SyslogReceiver } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

let fx: Fixture;
let syslog: SyslogReceiver;
let logDir: string;
let statReply: string;
beforeAll(async () => {
  ({ fx, syslog } = await masterFixture());
  logDir = join(fx.dir, "conf", "log");
  serviceDir(fx, join(logDir, "alice"));
  const total = fx.anchorFiles.map(expectedRetr).reduce((n, b) => n + b.length, 0);
  statReply = `+OK 7 ${total}`;
});
afterEach(() => FakeMaster.stopAll());
afterAll(async () => {
  await syslog?.stop();
  cleanupAll();
});

const HEADER = "---------- alice ((?:Sun|Mon|Tue|Wed|Thu|Fri|Sat) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4})\\n\\n";
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One logged-in session: STAT, QUIT. Returns the session id and the time bounds around it. */
async function statSession(port: number, password = "alice-pw"): Promise<{ sid: string; from: number; to: number }> {
  const from = Math.floor(Date.now() / 1000);
  const c = await PopClient.connect(port);
  const sid = await login(c, "alice", password);
  expect(await c.cmd("STAT")).toBe(statReply);
  await quit(c);
  return { sid, from, to: Math.floor(Date.now() / 1000) };
}

function sessionPattern(sid: string): string {
  return (
    HEADER +
    `>(\\d+)>${escape(`+OK Mailbox locked and ready SESSIONID=<${sid}>`)}\\r\\n` +
    `<(\\d+)<STAT\\r\\n>(\\d+)>${escape(statReply)}\\r\\n` +
    `<(\\d+)<QUIT\\r\\n>(\\d+)>\\+OK\\r\\n`
  );
}

function checkStamps(match: RegExpExecArray, from: number, to: number): void {
  const header = new Date(match[1]!).getTime() / 1000;
  expect(header).toBeGreaterThanOrEqual(from);
  expect(header).toBeLessThanOrEqual(to + 1);
  for (const stamp of match.slice(2, 7)) {
    expect(Number(stamp)).toBeGreaterThanOrEqual(from);
    expect(Number(stamp)).toBeLessThanOrEqual(to);
  }
}

describe("telemetry (imap/telemetry.c:telemetry_log)", () => {
  test("<configdirectory>/log/alice/pop3-<pid>: header, then the exact chunks; the password never appears", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "1"] });
    const s = await statSession(m.port);
    expect(await m.exitOf()).toBe(0);
    const file = join(logDir, "alice", `pop3-${m.pid}`);
    expect(existsSync(file)).toBe(true);
    const text = readFileSync(file, "latin1");
    const match = new RegExp(`^${sessionPattern(s.sid)}$`).exec(text);
    expect(match, `telemetry file content:\n${JSON.stringify(text)}`).not.toBeNull();
    checkStamps(match!, s.from, s.to);
    expect(text).not.toContain("alice-pw");
    expect(text).not.toContain("PASS");
  });

  test("a reused process appends its next session to the same file", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "2"] });
    const first = await statSession(m.port);
    const second = await statSession(m.port);
    expect(await m.exitOf()).toBe(0);
    const text = readFileSync(join(logDir, "alice", `pop3-${m.pid}`), "latin1");
    expect(text).toMatch(new RegExp(`^${sessionPattern(first.sid)}${sessionPattern(second.sid)}$`));
  });

  test("the file name carries the service name (CYRUS_SERVICE)", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "1"], service: "pop3s" });
    const s = await statSession(m.port);
    expect(await m.exitOf()).toBe(0);
    const text = readFileSync(join(logDir, "alice", `pop3s-${m.pid}`), "latin1");
    expect(text).toMatch(new RegExp(`^${sessionPattern(s.sid)}$`));
  });

  test("an AUTH PLAIN login does not put the credentials in the file", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "1"] });
    const c = await PopClient.connect(m.port);
    const initial = Buffer.from("\0alice\0alice-pw").toString("base64");
    expect(await c.cmd(`AUTH PLAIN ${initial}`)).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/);
    await quit(c);
    expect(await m.exitOf()).toBe(0);
    const text = readFileSync(join(logDir, "alice", `pop3-${m.pid}`), "latin1");
    expect(text).toMatch(new RegExp(`^${HEADER}>\\d+>\\+OK Mailbox locked and ready SESSIONID=<[^>]+>\\r\\n<\\d+<QUIT\\r\\n>\\d+>\\+OK\\r\\n$`));
    expect(text).not.toContain(initial);
    expect(text).not.toContain("alice-pw");
  });

  test("telemetry_bysessionid: yes names the file pop3-<sessionid>", async () => {
    const other = await masterFixture();
    setConfig(other.fx, { telemetry_bysessionid: "yes" });
    const otherLog = join(other.fx.dir, "conf", "log");
    serviceDir(other.fx, join(otherLog, "alice"));
    try {
      const m = await FakeMaster.start({ args: ["-C", other.fx.confPath, "-U", "1"] });
      const s = await statSession(m.port);
      expect(await m.exitOf()).toBe(0);
      expect(readdirSync(join(otherLog, "alice"))).toEqual([`pop3-${s.sid}`]);
      expect(readFileSync(join(otherLog, "alice", `pop3-${s.sid}`), "latin1")).toMatch(new RegExp(`^${sessionPattern(s.sid)}$`));
    } finally {
      await other.syslog.stop();
    }
  });

  test("no <configdirectory>/log/<user>/ directory, no file (bob has none)", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "1"] });
    const c = await PopClient.connect(m.port);
    await login(c, "bob");
    expect(await c.cmd("STAT")).toBe("+OK 0 0");
    await quit(c);
    expect(await m.exitOf()).toBe(0);
    expect(existsSync(join(logDir, "bob"))).toBe(false);
    expect(readdirSync(logDir)).toEqual(["alice"]);
  });
});
