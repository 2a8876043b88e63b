/**
 * The binary under a real xinetd (a test-owned config, foreground, 127.0.0.1 only): one process per
 * connection on fds 0/1/2 = the TCP socket, driven by python poplib.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BINARY,
  PopClient,
  ROOT,
  childEnv,
  cleanupAll,
  collect,
  exitStatus,
  expectedRetr,
  freePort,
  hasCommand,
  makeFixture,
  ownProcess,
  run,
  sha256,
  tempDir,
  waitFor,
  waitForListening,
  type Fixture,
} from "../support/harness.ts";

// A hang guard only (bunfig's [test] timeout is not applied); nothing here measures time.
setDefaultTimeout(60_000);

const HAVE_XINETD = hasCommand("xinetd");
if (!HAVE_XINETD) console.warn("xinetd.test.ts: SKIPPED — xinetd is not installed (CI installs it with apt-get)");

const SERVICE = "pop3d-e2e";
const POPLIB = join(ROOT, "test/e2e/fixtures/poplib_client.py");

let fx: Fixture;
let expected: Buffer[];
let port: number;
let logPath: string;
let ownLogPath: string;
let xinetd: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
let xinetdStderr: { text(): string } | undefined;

beforeAll(async () => {
  if (!HAVE_XINETD) return;
  fx = makeFixture();
  expected = fx.anchorFiles.map(expectedRetr);
  const dir = tempDir("xinetd");
  port = freePort();
  logPath = join(dir, "xinetd.log");
  const confPath = join(dir, "xinetd.conf");
  writeFileSync(
    confPath,
    [
      "defaults",
      "{",
      "}",
      "",
      `service ${SERVICE}`,
      "{",
      "\ttype           = UNLISTED",
      `\tport           = ${port}`,
      "\tbind           = 127.0.0.1",
      "\tsocket_type    = stream",
      "\tprotocol       = tcp",
      "\twait           = no",
      // Only root may name a user; the server (started as root) then becomes pop3_run_as itself.
      ...(process.getuid?.() === 0 ? ["\tuser           = root"] : []),
      `\tserver         = ${BINARY}`,
      `\tserver_args    = -C ${fx.confPath}`,
      `\tlog_type       = FILE ${logPath}`,
      "\tlog_on_success = PID EXIT",
      "\tlog_on_failure = HOST",
      "}",
      "",
    ].join("\n"),
  );
  // -filelog: xinetd's own messages go to a file (it refuses to start when it cannot open syslog).
  ownLogPath = join(dir, "xinetd-own.log");
  xinetd = Bun.spawn(["xinetd", "-filelog", ownLogPath, "-f", confPath, "-dontfork", "-pidfile", join(dir, "xinetd.pid")], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: childEnv(),
  });
  ownProcess(xinetd);
  xinetdStderr = collect(xinetd.stderr);
  collect(xinetd.stdout);
  const ownLog = (): string => (existsSync(ownLogPath) ? readFileSync(ownLogPath, "utf8") : "");
  const usable = (): boolean => xinetd!.exitCode === null && !ownLog().includes("0 available services");
  await waitForListening(port, "xinetd", usable).catch((error: Error) => {
    throw new Error(`${error.message}\nxinetd stderr: ${xinetdStderr!.text()}\nxinetd log: ${ownLog()}`);
  });
});

afterAll(async () => {
  if (xinetd && xinetd.exitCode === null) {
    xinetd.kill("SIGTERM");
    await exitStatus(xinetd);
  }
  cleanupAll();
});

/** xinetd's "EXIT: <service> status=N" lines, one per finished server process. */
function exitStatuses(): number[] {
  if (!existsSync(logPath)) return [];
  return [...readFileSync(logPath, "utf8").matchAll(new RegExp(`EXIT: ${SERVICE} status=(-?\\d+)`, "g"))].map((m) => Number(m[1]));
}

async function poplib(mode: "one" | "concurrent"): Promise<Record<string, unknown>> {
  const r = await run(["python3", POPLIB, mode, "127.0.0.1", String(port), "alice", "alice-pw"]);
  expect(r.stderr, `poplib ${mode} failed`).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.toString("utf8"));
}

describe.skipIf(!HAVE_XINETD)("under xinetd", () => {
  test("one poplib session: login, LIST, RETR 1 (sha256), QUIT; the server process exits 0", async () => {
    const before = exitStatuses().length;
    const out = (await poplib("one")) as {
      greeting: string;
      sizes: Record<string, number>;
      message: { sha256: string; length: number };
      quit: string;
    };
    expect(out.greeting).toMatch(/^\+OK pop\.test pop3d \S+ server ready <\d+\.\d+@pop\.test>$/);
    expect(out.sizes).toEqual(Object.fromEntries(expected.map((b, i) => [String(i + 1), b.length])));
    expect(out.message.sha256).toBe(sha256(expected[0]!));
    expect(out.message.length).toBe(expected[0]!.length);
    expect(out.quit).toBe("+OK");
    await waitFor(() => exitStatuses().length > before, "xinetd to log the server's exit");
    expect(exitStatuses().slice(before)).toEqual([0]);
  });

  test("two concurrent sessions (two server processes) both work", async () => {
    const before = exitStatuses().length;
    const out = (await poplib("concurrent")) as {
      stats: [number, number][];
      messages: { sha256: string }[];
      quits: string[];
    };
    const total = expected.reduce((n, b) => n + b.length, 0);
    expect(out.stats).toEqual([
      [7, total],
      [7, total],
    ]);
    expect(out.messages.map((m) => m.sha256)).toEqual([sha256(expected[0]!), sha256(expected[1]!), sha256(expected[1]!)]);
    expect(out.quits).toEqual(["+OK", "+OK"]);
    await waitFor(() => exitStatuses().length >= before + 2, "xinetd to log both servers' exits");
    expect(exitStatuses().slice(before)).toEqual([0, 0]);
  });

  test("xinetd itself reported no errors", () => {
    expect(xinetd!.exitCode).toBeNull();
    expect(xinetdStderr!.text()).toBe("");
  });
});

/**
 * `wait = yes`: xinetd hands the listening socket itself to one server process (fd 0 with
 * SO_ACCEPTCONN), which accepts and serves many sessions, and gives the socket back by exiting
 * once -T seconds pass without a session; xinetd then starts a fresh process for the next client.
 */
describe.skipIf(!HAVE_XINETD)("under xinetd with wait = yes", () => {
  const WAIT_SERVICE = "pop3d-e2e-wait";
  let waitPort: number;
  let waitLog: string;
  let waitXinetd: Bun.Subprocess<"ignore", "pipe", "pipe">;
  let waitStderr: { text(): string };

  beforeAll(async () => {
    const dir = tempDir("xinetd-wait");
    waitPort = freePort();
    waitLog = join(dir, "xinetd.log");
    const confPath = join(dir, "xinetd.conf");
    writeFileSync(
      confPath,
      [
        "defaults",
        "{",
        "}",
        "",
        `service ${WAIT_SERVICE}`,
        "{",
        "\ttype           = UNLISTED",
        `\tport           = ${waitPort}`,
        "\tbind           = 127.0.0.1",
        "\tsocket_type    = stream",
        "\tprotocol       = tcp",
        "\twait           = yes",
        ...(process.getuid?.() === 0 ? ["\tuser           = root"] : []),
        `\tserver         = ${BINARY}`,
        `\tserver_args    = -C ${fx.confPath} -T 2`,
        `\tlog_type       = FILE ${waitLog}`,
        "\tlog_on_success = PID EXIT",
        "\tlog_on_failure = HOST",
        "}",
        "",
      ].join("\n"),
    );
    const ownLog = join(dir, "xinetd-own.log");
    waitXinetd = Bun.spawn(["xinetd", "-filelog", ownLog, "-f", confPath, "-dontfork", "-pidfile", join(dir, "xinetd.pid")], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: childEnv(),
    });
    ownProcess(waitXinetd);
    waitStderr = collect(waitXinetd.stderr);
    collect(waitXinetd.stdout);
    await waitForListening(waitPort, "xinetd (wait = yes)", () => waitXinetd.exitCode === null);
  });

  afterAll(async () => {
    if (waitXinetd && waitXinetd.exitCode === null) {
      waitXinetd.kill("SIGTERM");
      await exitStatus(waitXinetd);
    }
  });

  const log = (): string => (existsSync(waitLog) ? readFileSync(waitLog, "utf8") : "");
  const starts = (): number[] => [...log().matchAll(new RegExp(`START: ${WAIT_SERVICE} pid=(\\d+)`, "g"))].map((m) => Number(m[1]));
  const exits = (): number[] => [...log().matchAll(new RegExp(`EXIT: ${WAIT_SERVICE} status=(-?\\d+)`, "g"))].map((m) => Number(m[1]));

  async function loginPid(c: PopClient): Promise<number> {
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    const reply = await c.cmd("PASS alice-pw");
    const id = /SESSIONID=<([^>]+)>/.exec(reply)?.[1];
    expect(id, reply).toBeDefined();
    const parts = id!.split("-");
    return Number(parts[parts.length - 3]);
  }

  test("one process serves concurrent sessions, exits 0 after -T idle seconds, and xinetd starts a new one", async () => {
    const a = await PopClient.connect(waitPort);
    const b = await PopClient.connect(waitPort);
    const pidA = await loginPid(a);
    const pidB = await loginPid(b);
    expect(pidB).toBe(pidA);
    expect(starts()).toEqual([pidA]);
    for (const c of [a, b]) {
      expect(await c.cmd("QUIT")).toBe("+OK");
      await c.closed();
    }
    await waitFor(() => exits().length === 1, "the server to hand the socket back after -T 2");
    expect(exits()).toEqual([0]);

    const c = await PopClient.connect(waitPort);
    const pidC = await loginPid(c);
    expect(pidC).not.toBe(pidA);
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();
    expect(waitStderr.text()).toBe("");
  });
});
