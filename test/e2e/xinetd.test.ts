/**
 * The binary under a real xinetd (a test-owned config, foreground, 127.0.0.1 only): one process per
 * connection on fds 0/1/2 = the TCP socket, driven by python poplib.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BINARY,
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
