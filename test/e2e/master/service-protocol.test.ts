/**
 * master(8) service mode against a fake master (master/service.c:main, master/service.c): the status messages on fd 3, -U and -T,
 * reuse only after QUIT, signals and exit codes, the accept lock shared by preforked siblings, and
 * giving up when the executable file changes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, chmodSync, existsSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PopClient, cleanupAll, ownProcess, type Fixture } from "../../support/harness.ts";
import {
  ALREADY_SENT_MS,
  AVAILABLE,
  CONNECTION,
  FakeMaster,
  UNAVAILABLE,
  holdsPosixWriteLock,
  login,
  masterFixture,
  pidOfSessionId,
  quit,
  serviceAccount,
  setConfig,
  SyslogReceiver,
} from "./support.ts";
import { SYSLOG_SOCKET_ENV } from "../../../src/log/syslog.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

let fx: Fixture;
let syslog: SyslogReceiver;
let conf: string;
beforeAll(async () => {
  ({ fx, syslog } = await masterFixture());
  conf = fx.confPath;
});
afterEach(() => FakeMaster.stopAll());
afterAll(async () => {
  await syslog?.stop();
  cleanupAll();
});

/** A receiver of its own for the lines logged before imapd.conf is read, whoever owns /dev/log. */
const earlyReceivers: SyslogReceiver[] = [];
async function earlySyslog(): Promise<SyslogReceiver> {
  const receiver = await SyslogReceiver.start(join(fx.dir, `early-syslog-${earlyReceivers.length}.sock`));
  earlyReceivers.push(receiver);
  return receiver;
}
afterAll(async () => {
  for (const r of earlyReceivers) await r.stop();
});

const curFiles = (): string[] => readdirSync(join(fx.maildir("alice"), "cur"));

describe("status messages and -U", () => {
  test("nothing at start-up; UNAVAILABLE then CONNECTION per connection; AVAILABLE after each reusable QUIT; -U 3 exits 0 after the third", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "3"] });
    const sessionPids: number[] = [];

    let c = await PopClient.connect(m.port);
    expect(c.greeting).toMatch(/^\+OK pop\.test pop3d \S+ server ready <\d+\.\d+@pop\.test>$/);
    // the first thing master hears is UNAVAILABLE: no AVAILABLE at start-up (master/service.c:notify_master)
    expect(await m.waitForStatuses(2, m.pid)).toEqual([UNAVAILABLE, CONNECTION]);
    sessionPids.push(pidOfSessionId(await login(c)));
    await quit(c);
    expect(await m.waitForStatuses(3, m.pid)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE]);

    c = await PopClient.connect(m.port);
    sessionPids.push(pidOfSessionId(await login(c)));
    await quit(c);
    expect(await m.waitForStatuses(6, m.pid)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE, UNAVAILABLE, CONNECTION, AVAILABLE]);

    c = await PopClient.connect(m.port);
    sessionPids.push(pidOfSessionId(await login(c)));
    await quit(c);
    expect(await m.exitOf()).toBe(0);
    // no AVAILABLE after the last use, nothing at exit
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE, UNAVAILABLE, CONNECTION, AVAILABLE, UNAVAILABLE, CONNECTION]);
    expect(m.badStatuses()).toEqual([]);
    // one process served all three, and every message carries its pid
    expect(sessionPids).toEqual([m.pid, m.pid, m.pid]);
    expect(m.events.filter((e) => e.event === "status").every((e) => e.event === "status" && e.pid === m.pid)).toBe(true);
  });

  for (const uses of ["0", "1"]) {
    test(`-U ${uses} means one session`, async () => {
      const m = await FakeMaster.start({ args: ["-C", conf, "-U", uses] });
      const c = await PopClient.connect(m.port);
      await login(c);
      await quit(c);
      expect(await m.exitOf()).toBe(0);
      expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION]);
    });
  }

  test("a session ended by EOF (no QUIT) is not reused: exit 0, no AVAILABLE, no DELE committed (master/service.c:main, pop3d.c:popd_reset)", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    const c = await PopClient.connect(m.port);
    await login(c);
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    c.close();
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION]);
    expect(curFiles()).toHaveLength(7);
  });
});

describe("-T reuse timeout", () => {
  test("after a first session the process exits 0 by itself (-T 2 → 2 + 1804289383 % 2 = 3 s)", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5", "-T", "2"] });
    const c = await PopClient.connect(m.port);
    await login(c);
    await quit(c);
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE]);
  });

  test("without a first session it waits (the alarm is armed only after a connection); SIGHUP then ends it with 0", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5", "-T", "2"] });
    await m.waitUntilAccepting();
    // longer than the 3 s the timeout would be
    await Bun.sleep(4_000);
    expect(m.alive()).toBe(true);
    m.signal("SIGHUP");
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([]);
  });
});

describe("signals (lib/signals.c)", () => {
  test("SIGHUP while waiting for the first connection: exit 0", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    await m.waitUntilAccepting();
    m.signal("SIGHUP");
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([]);
  });

  test("SIGHUP while waiting for the next connection: exit 0", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    const c = await PopClient.connect(m.port);
    await login(c);
    await quit(c);
    await m.waitForStatuses(3, m.pid);
    await m.waitUntilAccepting();
    m.signal("SIGHUP");
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE]);
  });

  test("SIGHUP during a session: the session goes on; after QUIT the process exits 0 without AVAILABLE", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    const c = await PopClient.connect(m.port);
    await login(c);
    m.signal("SIGHUP");
    expect(await c.cmd("NOOP")).toBe("+OK");
    expect(await c.cmd("STAT")).toMatch(/^\+OK 7 \d+$/);
    await quit(c);
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION]);
  });

  test("SIGTERM during a session: nothing more to the client, no commit, exit 75, syslog \"graceful shutdown\"", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    const c = await PopClient.connect(m.port);
    await login(c);
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    m.signal("SIGTERM");
    await c.closed();
    expect(c.unread().toString("latin1")).toBe("");
    expect(await m.exitOf()).toBe(75);
    expect(curFiles()).toHaveLength(7);
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION]);
    const line = await syslog.waitForMessage("graceful shutdown", m.pid);
    expect(line.pri).toBe(2 * 8 + 5); // MAIL (the build default), NOTICE
  });

  test("SIGTERM ends the process at once even when the client reads nothing and output is queued (shut_down)", async () => {
    for (const perProcess of ["1", "3"]) {
      setConfig(fx, { pop3_sessions_per_process: perProcess });
      const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
      // logs in, pipelines RETRs and then never reads: the socket buffers fill, output stays queued
      const client = Bun.spawn(
        [
          "python3",
          "-c",
          [
            "import socket, sys, time",
            `s = socket.create_connection(("127.0.0.1", ${m.port}))`,
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)",
            's.sendall(b"USER alice\\r\\nPASS alice-pw\\r\\n" + b"RETR 1\\r\\n" * 3000)',
            'print("sent", flush=True)',
            "time.sleep(60)",
          ].join("\n"),
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      ownProcess(client);
      const reader = client.stdout.getReader();
      expect(Buffer.from((await reader.read()).value ?? []).toString()).toStartWith("sent");
      await m.waitFor(() => m.statuses(m.pid).length > 0, "the connection");
      m.signal("SIGTERM");
      expect(await m.exitOf(m.pid)).toBe(75);
      expect(curFiles()).toHaveLength(7);
      client.kill();
    }
    setConfig(fx, { pop3_sessions_per_process: "1" });
  });

  test("SIGTERM while waiting for a connection: exit 75", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    await m.waitUntilAccepting();
    m.signal("SIGTERM");
    expect(await m.exitOf()).toBe(75);
    await syslog.waitForMessage("graceful shutdown", m.pid);
  });
});

describe("start-up errors (master/service.c:main, pop3d.c:shut_down)", () => {
  test("CYRUS_ID missing: exit 70 and \"could not getenv(CYRUS_ID); exiting\" on the early syslog socket (config not read yet)", async () => {
    const early = await earlySyslog();
    const m = await FakeMaster.start({ args: ["-C", conf], noId: true, env: { [SYSLOG_SOCKET_ENV]: early.path } });
    expect(await m.exitOf()).toBe(70);
    expect(m.statuses(m.pid)).toEqual([]);
    const line = await early.waitFor((l) => l.message === "could not getenv(CYRUS_ID); exiting", "the CYRUS_ID complaint", ALREADY_SENT_MS);
    expect(line.pid).toBe(m.pid);
  });

  test("\"-U30\" (option and value in one word): exit 64 and syslog \"options and arguments MUST be separated by whitespace\"", async () => {
    const early = await earlySyslog();
    const m = await FakeMaster.start({ args: ["-C", conf, "-U30"], env: { [SYSLOG_SOCKET_ENV]: early.path } });
    expect(await m.exitOf()).toBe(64);
    expect(m.statuses(m.pid)).toEqual([]);
    // service.c syslogs this before anything else is set up: it goes to the socket for early lines
    const line = await early.waitFor((l) => l.message === "options and arguments MUST be separated by whitespace", "the -U30 complaint", ALREADY_SENT_MS);
    expect(line.pid).toBe(m.pid);
    expect(line.ident).toBe("pop3");
  });

  test("an unknown option: exit 64", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-Z"] });
    expect(await m.exitOf()).toBe(64);
    expect(m.statuses(m.pid)).toEqual([]);
  });

  test("a bad imapd.conf: exit 78, and the complaint naming the file on the early syslog socket", async () => {
    const bad = join(fx.dir, "bad.conf");
    writeFileSync(bad, readFileSync(conf, "utf8") + "this line has no colon\n");
    const early = await earlySyslog();
    const m = await FakeMaster.start({ args: ["-C", bad], env: { [SYSLOG_SOCKET_ENV]: early.path } });
    expect(await m.exitOf()).toBe(78);
    expect(m.statuses(m.pid)).toEqual([]);
    const line = await early.waitFor((l) => l.message.includes(bad), "the imapd.conf complaint", ALREADY_SENT_MS);
    expect(line.pid).toBe(m.pid);
  });

  test("a missing imapd.conf: exit 78", async () => {
    const m = await FakeMaster.start({ args: ["-C", join(fx.dir, "no-such.conf")] });
    expect(await m.exitOf()).toBe(78);
  });

  test("-D runs debug_command with argv[0], the pid and the service name", async () => {
    const out = join(fx.dir, "debug-out");
    const dconf = join(fx.dir, "debug.conf");
    writeFileSync(dconf, readFileSync(conf, "utf8") + `debug_command: echo %s %d %s > ${out}\n`);
    const m = await FakeMaster.start({ args: ["-C", dconf, "-D", "-U", "1"] });
    const c = await PopClient.connect(m.port);
    await quit(c);
    expect(await m.exitOf()).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(`${BINARY} ${m.pid} pop3\n`);
  });
});

describe.skipIf(process.getuid?.() !== 0)("started as root (master/service.c:main: Cyrus will not serve as root)", () => {
  test("the process serves as pop3_run_as", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    await m.waitUntilAccepting();
    const uid = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(readFileSync(`/proc/${m.pid}/status`, "latin1"));
    const account = serviceAccount(fx)!;
    expect(uid?.slice(1).map(Number)).toEqual([account.uid, account.uid, account.uid, account.uid]);
  });

  test("an unknown pop3_run_as user: refuse with exit 64 and \"Fatal error: must run as the Cyrus user\"", async () => {
    const bad = join(fx.dir, "no-user.conf");
    writeFileSync(bad, readFileSync(conf, "utf8").replace(/^pop3_run_as: .*$/m, "pop3_run_as: no-such-user-here"));
    const m = await FakeMaster.start({ args: ["-C", bad, "-U", "5"] });
    expect(await m.exitOf()).toBe(64);
    expect(m.statuses(m.pid)).toEqual([]);
    await syslog.waitForMessage("Fatal error: must run as the Cyrus user", m.pid);
  });
});

describe("accept loop", () => {
  test("preforked siblings: only one holds the accept lock <configdirectory>/socket/<service>-<id>.lock, one accept per connection", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"], children: 2 });
    const [a, b] = m.pids as [number, number];
    await m.waitFor(() => holdsPosixWriteLock(a) || holdsPosixWriteLock(b), "one sibling to take the accept lock");
    expect(existsSync(join(fx.dir, "conf", "socket", "pop3-0.lock"))).toBe(true);
    expect([holdsPosixWriteLock(a), holdsPosixWriteLock(b)].filter(Boolean)).toHaveLength(1);

    const first = await PopClient.connect(m.port);
    const firstPid = pidOfSessionId(await login(first));
    const other = firstPid === a ? b : a;
    expect([a, b]).toContain(firstPid);
    // the statuses reach us through the fake master's stdout, the login reply through the socket:
    // the reply can come first
    expect(await m.waitForStatuses(2, firstPid)).toEqual([UNAVAILABLE, CONNECTION]);
    expect(m.statuses(other)).toEqual([]);

    // the sibling takes over the accept loop while the first is busy
    await m.waitUntilAccepting(other);
    const second = await PopClient.connect(m.port);
    expect(pidOfSessionId(await login(second))).toBe(other);
    await quit(first);
    await quit(second);
    await m.waitFor(() => m.statuses(firstPid).length === 3 && m.statuses(other).length === 3, "AVAILABLE from both");
    expect(m.statuses(firstPid)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE]);
    expect(m.statuses(other)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE]);
    expect(m.badStatuses()).toEqual([]);
  });

  test("fd 4 that is not a listening socket (a pipe): exit 71 (EX_OSERR) with an \"accept failed\" line, no status message", async () => {
    for (const perProcess of ["1", "3"]) {
      setConfig(fx, { pop3_sessions_per_process: perProcess });
      const m = await FakeMaster.start({ args: ["-C", conf], fd4: "pipe" });
      expect(await m.exitOf(m.pid)).toBe(71);
      await syslog.waitForMessage("accept failed: fd 4 is not a listening socket", m.pid);
      expect(m.allStatuses()).toEqual([]);
    }
    setConfig(fx, { pop3_sessions_per_process: "1" });
  });

  test("fd 4 is made non-blocking, so a sibling that loses the race for a connection never blocks in accept(2)", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"] });
    await m.waitUntilAccepting(m.pid);
    const flags = /^flags:\s*(\d+)$/m.exec(readFileSync(`/proc/${m.pid}/fdinfo/4`, "latin1"))?.[1];
    expect(Number.parseInt(flags!, 8) & 0o4000).toBe(0o4000);
  });

  test("the lock file is named after CYRUS_SERVICE and CYRUS_ID", async () => {
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"], service: "pop3x", id: "7" });
    await m.waitUntilAccepting();
    expect(existsSync(join(fx.dir, "conf", "socket", "pop3x-7.lock"))).toBe(true);
    m.signal("SIGHUP");
    expect(await m.exitOf()).toBe(0);
  });

  test("replacing the executable file makes a waiting process exit 0 (\"process file has changed\")", async () => {
    const copy = join(fx.dir, "pop3d-copy");
    copyFileSync(BINARY, copy);
    chmodSync(copy, 0o755);
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"], binary: copy });
    await m.waitUntilAccepting();
    // install(1)-style replacement: a different file renamed over the old name
    const replacement = join(fx.dir, "pop3d-new");
    writeFileSync(replacement, "#!/bin/sh\nexit 0\n");
    chmodSync(replacement, 0o755);
    renameSync(replacement, copy);
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([]);
    await syslog.waitForMessage("process file has changed", m.pid);
  });

  test("a new mtime on the executable also counts as a change", async () => {
    const copy = join(fx.dir, "pop3d-copy2");
    copyFileSync(BINARY, copy);
    chmodSync(copy, 0o755);
    const m = await FakeMaster.start({ args: ["-C", conf, "-U", "5"], binary: copy });
    const c = await PopClient.connect(m.port);
    await login(c);
    await quit(c);
    await m.waitForStatuses(3, m.pid);
    await m.waitUntilAccepting();
    const later = new Date(Date.now() + 60_000);
    utimesSync(copy, later, later);
    expect(await m.exitOf()).toBe(0);
    expect(m.statuses(m.pid)).toEqual([UNAVAILABLE, CONNECTION, AVAILABLE]);
  });
});
