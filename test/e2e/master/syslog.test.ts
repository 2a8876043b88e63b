/**
 * Syslog lines (docs/troubleshooting.md) as a syslog daemon receives them: RFC 3164 datagrams on the socket named by
 * pop3_syslog_socket, ident `<service>` or `<syslog_prefix>/<service>` with the pid, facility from
 * syslog_facility (the build's default, MAIL like Debian's Cyrus). Texts are compared with Cyrus's byte for byte; where the
 * spec's placeholders were ambiguous the Cyrus source (imap/pop3d.c) and a run of Debian's Cyrus
 * 3.6 pop3d under the fake master settled them (e.g. `counts: retr=<1> ...` has literal brackets).
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { BINARY, PopClient, childEnv, cleanupAll, collect, exitStatus, ownProcess, type Fixture } from "../../support/harness.ts";
import { closeFd, socketPair } from "../../support/socketpair.ts";
import { FakeMaster, login, masterFixture, quit, setConfig, type SyslogLine, type SyslogReceiver } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

const MAIL = 2;
const LOCAL6 = 22;
/** The facility when syslog_facility is unset: the build's default. */
const DEFAULT_FACILITY = MAIL;
const NOTICE = 5;

let fx: Fixture;
let syslog: SyslogReceiver;
beforeAll(async () => {
  ({ fx, syslog } = await masterFixture());
});
afterEach(() => FakeMaster.stopAll());
afterAll(async () => {
  await syslog?.stop();
  cleanupAll();
});

/** One child of a fake master serving sessions; its syslog lines are those carrying its pid. */
async function service(args: string[] = [], conf = fx.confPath): Promise<FakeMaster> {
  return FakeMaster.start({ args: ["-C", conf, "-U", "10", ...args] });
}

function linesOf(receiver: SyslogReceiver, pid: number): SyslogLine[] {
  return receiver.lines().filter((l) => l.pid === pid);
}

/** Waits for the session-end line that every session logs last in Cyrus (counts). */
async function sessionEnded(receiver: SyslogReceiver, pid: number, nth = 1): Promise<void> {
  await receiver.waitFor(() => linesOf(receiver, pid).filter((l) => l.message.startsWith("counts:")).length >= nth, `${nth} counts lines from ${pid}`);
}

function expectNoSecret(receiver: SyslogReceiver, ...secrets: string[]): void {
  for (const raw of receiver.datagrams) for (const secret of secrets) expect(raw).not.toContain(secret);
}

const b64 = (s: string) => Buffer.from(s, "latin1").toString("base64");

describe("login lines and session end (docs/troubleshooting.md, RFC 1939 section 6)", () => {
  test("plaintext login with a session id of the lib/sessionid.c:session_new_id shape, then Expunged, counts and USAGE", async () => {
    const m = await service();
    const before = Math.floor(Date.now() / 1000);
    const c = await PopClient.connect(m.port);
    const sid = await login(c);
    expect(await c.cmd("RETR 1")).toBe("+OK Message follows");
    await c.readMultiline();
    expect(await c.cmd("TOP 2 0")).toBe("+OK Message follows");
    await c.readMultiline();
    expect(await c.cmd("DELE 3")).toBe("+OK message deleted");
    await quit(c);
    await sessionEnded(syslog, m.pid);
    const after = Math.floor(Date.now() / 1000);

    const idShape = /^pop\.test-(\d+)-(\d+)-(\d+)-(\d+)$/.exec(sid);
    expect(idShape).not.toBeNull();
    const [, time, pid, n, random] = idShape!;
    expect(Number(time)).toBeGreaterThanOrEqual(before);
    expect(Number(time)).toBeLessThanOrEqual(after);
    expect(Number(pid)).toBe(m.pid);
    expect(Number(n)).toBe(1);
    expect(BigInt(random!)).toBeLessThan(2n ** 64n);

    const lines = linesOf(syslog, m.pid);
    for (const l of lines) expect(l.ident).toBe("pop3");
    const loginLine = lines.find((l) => l.message.startsWith("login:"));
    expect(loginLine?.message).toBe(`login: localhost [127.0.0.1] alice plaintext User logged in SESSIONID=<${sid}>`);
    expect(loginLine?.pri).toBe(DEFAULT_FACILITY * 8 + NOTICE);
    expect(lines.find((l) => l.message.startsWith("Expunged"))?.message).toBe(`Expunged 1 messages from ${fx.maildir("alice")}`);
    const usage = lines.find((l) => l.message.startsWith("USAGE"));
    expect(usage?.message).toMatch(/^USAGE alice user: \d+\.\d{6} sys: \d+\.\d{6}$/);
    expect(usage?.pri).toBe(DEFAULT_FACILITY * 8 + NOTICE);
    // pop3d.c: syslog(LOG_NOTICE, "counts: retr=<%d> top=<%d> dele=<%d>", ...) — the brackets are literal
    const counts = lines.find((l) => l.message.startsWith("counts:"));
    expect(counts?.message).toBe("counts: retr=<1> top=<1> dele=<1>");
    expect(counts?.pri).toBe(DEFAULT_FACILITY * 8 + NOTICE);
    expectNoSecret(syslog, "alice-pw");
  });

  test("USAGE comes before counts (QUIT calls telemetry_rusage, then popd_reset logs counts)", async () => {
    const m = await service();
    const c = await PopClient.connect(m.port);
    await login(c);
    await quit(c);
    await sessionEnded(syslog, m.pid);
    const order = linesOf(syslog, m.pid)
      .map((l) => l.message.split(" ")[0])
      .filter((w) => w === "USAGE" || w === "counts:");
    expect(order).toEqual(["USAGE", "counts:"]);
  });

  test("badlogin for a wrong password (USER/PASS)", async () => {
    const m = await service();
    const c = await PopClient.connect(m.port);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS not-the-password")).toBe("-ERR [AUTH] Invalid login");
    await quit(c);
    await sessionEnded(syslog, m.pid);
    const bad = linesOf(syslog, m.pid).filter((l) => l.message.startsWith("badlogin:"));
    expect(bad.map((l) => l.message)).toEqual(["badlogin: localhost [127.0.0.1] plaintext (alice) [SASL(-13): authentication failure: checkpass failed]"]);
    expect(bad[0]!.pri).toBe(DEFAULT_FACILITY * 8 + NOTICE);
    expectNoSecret(syslog, "not-the-password");
  });

  test("APOP: login line, and badlogin with libsasl's errdetail (\"...: login incorrect\")", async () => {
    const m = await service();
    const c = await PopClient.connect(m.port);
    const challenge = /(<[^>]+>)$/.exec(c.greeting)![1]!;
    expect(await c.cmd(`APOP alice ${"0".repeat(32)}`)).toBe("-ERR [AUTH] authenticating: authentication failure");
    const digest = createHash("md5").update(challenge + "alice-pw").digest("hex");
    const reply = await c.cmd(`APOP alice ${digest}`);
    const sid = /SESSIONID=<([^>]+)>$/.exec(reply)?.[1];
    expect(sid).toBeDefined();
    await quit(c);
    await sessionEnded(syslog, m.pid);
    const messages = linesOf(syslog, m.pid).map((l) => l.message);
    // libsasl's _sasl_auxprop_verify_apop sets "login incorrect"; sasl_errdetail() appends it
    expect(messages).toContain(`badlogin: localhost [127.0.0.1] APOP (${challenge}) SASL(-13): authentication failure: login incorrect`);
    expect(messages).toContain(`login: localhost [127.0.0.1] alice APOP User logged in SESSIONID=<${sid}>`);
    expectNoSecret(syslog, "alice-pw");
  });

  test("AUTH PLAIN: login line with the mechanism name, badlogin with the SASL error string", async () => {
    const m = await service();
    const c = await PopClient.connect(m.port);
    expect(await c.cmd(`AUTH PLAIN ${b64("\0alice\0wrong-secret")}`)).toBe("-ERR [AUTH] authenticating: authentication failure");
    const reply = await c.cmd(`AUTH PLAIN ${b64("\0alice\0alice-pw")}`);
    const sid = /SESSIONID=<([^>]+)>$/.exec(reply)?.[1];
    expect(sid).toBeDefined();
    await quit(c);
    await sessionEnded(syslog, m.pid);
    const messages = linesOf(syslog, m.pid).map((l) => l.message);
    expect(messages).toContain("badlogin: localhost [127.0.0.1] PLAIN (alice) [authentication failure]");
    expect(messages).toContain(`login: localhost [127.0.0.1] alice PLAIN User logged in SESSIONID=<${sid}>`);
    expectNoSecret(syslog, "alice-pw", "wrong-secret", b64("\0alice\0alice-pw"), b64("\0alice\0wrong-secret"));
  });

  test("SIGTERM: \"graceful shutdown\", then counts; no USAGE (shut_down does not report rusage)", async () => {
    const m = await service();
    const c = await PopClient.connect(m.port);
    await login(c);
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    m.signal("SIGTERM");
    expect(await m.exitOf()).toBe(75);
    await sessionEnded(syslog, m.pid);
    const messages = linesOf(syslog, m.pid).map((l) => l.message);
    const shutdownAt = messages.indexOf("graceful shutdown");
    expect(shutdownAt).toBeGreaterThanOrEqual(0);
    // (the counts text itself is checked above)
    expect(messages.findIndex((t) => t.startsWith("counts:"))).toBeGreaterThan(shutdownAt);
    expect(messages.filter((t) => t.startsWith("USAGE"))).toEqual([]);
  });
});

describe("ident and facility", () => {
  test("syslog_prefix: ident <prefix>/<service>, and the session id starts with the prefix (sessionid.c)", async () => {
    const other = await masterFixture();
    setConfig(other.fx, { syslog_prefix: "prefix" });
    try {
      const m = await FakeMaster.start({ args: ["-C", other.fx.confPath, "-U", "1"], service: "pop3" });
      const c = await PopClient.connect(m.port);
      const sid = await login(c);
      await quit(c);
      await sessionEnded(other.syslog, m.pid);
      const lines = linesOf(other.syslog, m.pid);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l.ident).toBe("prefix/pop3");
      expect(sid).toMatch(/^prefix-\d+-\d+-\d+-\d+$/);
    } finally {
      await other.syslog.stop();
    }
  });

  test("the ident follows CYRUS_SERVICE (pop3s here)", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-U", "1"], service: "pop3s" });
    const c = await PopClient.connect(m.port);
    await login(c);
    await quit(c);
    await sessionEnded(syslog, m.pid);
    const lines = linesOf(syslog, m.pid);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.ident).toBe("pop3s");
  });

  test("syslog_facility wins over the build's default: LOCAL6 gives PRI 22*8+5 = <181> for NOTICE lines; the raw datagram is RFC 3164", async () => {
    const other = await masterFixture();
    setConfig(other.fx, { syslog_facility: "LOCAL6" });
    try {
      const m = await FakeMaster.start({ args: ["-C", other.fx.confPath, "-U", "1"] });
      const c = await PopClient.connect(m.port);
      await login(c);
      await quit(c);
      await sessionEnded(other.syslog, m.pid);
      const loginLine = linesOf(other.syslog, m.pid).find((l) => l.message.startsWith("login:"))!;
      expect(loginLine.pri).toBe(LOCAL6 * 8 + NOTICE);
      expect(loginLine.raw).toMatch(new RegExp(`^<181>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d pop3\\[${m.pid}\\]: login: `));
    } finally {
      await other.syslog.stop();
    }
  });
});

describe("stdio mode", () => {
  test("a failing login goes to syslog only: nothing on stderr, nothing but POP3 on the connection", async () => {
    const [ours, theirs] = socketPair();
    const proc = Bun.spawn([BINARY, "-C", fx.confPath], { stdio: [theirs, theirs, "pipe"], env: childEnv() });
    ownProcess(proc);
    closeFd(theirs);
    const stderr = collect(proc.stderr as ReadableStream<Uint8Array>);
    const c = await PopClient.adopt(ours);
    expect(c.greeting).toMatch(/^\+OK pop\.test pop3d \S+ server ready <[^>]+>$/);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS stdio-wrong")).toBe("-ERR [AUTH] Invalid login");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();
    expect(c.unread().toString("latin1")).toBe("");
    expect(await exitStatus(proc)).toBe(0);
    await stderr.done;
    expect(stderr.text()).toBe("");
    const line = await syslog.waitFor((l) => l.pid === proc.pid && l.message.startsWith("badlogin:"), "badlogin from the stdio process");
    expect(line.message).toBe("badlogin: [unix socket] plaintext (alice) [SASL(-13): authentication failure: checkpass failed]");
    expect(line.ident).toBe("pop3");
    expectNoSecret(syslog, "stdio-wrong");
  });
});

// every secret used by this file, checked once more over everything received
test("no password in any line", () => {
  expectNoSecret(syslog, "alice-pw", "not-the-password", "wrong-secret", "stdio-wrong");
});
