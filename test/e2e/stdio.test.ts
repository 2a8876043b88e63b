/**
 * stdio (inetd) mode: the binary serves exactly one session on fds 0/1 and exits 0, and nothing
 * but the POP3 session appears on the connection (under xinetd, fd 2 is the socket too).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  BINARY,
  PopClient,
  childEnv,
  cleanupAll,
  collect,
  exitStatus,
  expectedRetr,
  freePort,
  makeFixture,
  ownProcess,
  waitForListening,
  type Fixture,
} from "../support/harness.ts";
import { closeFd, pipePair, socketPair } from "../support/socketpair.ts";

const GREETING = /^\+OK pop\.test pop3d \S+ server ready <\d+\.\d+@pop\.test>$/;

// A hang guard only (bunfig's [test] timeout is not applied); nothing here measures time.
setDefaultTimeout(60_000);

let fx: Fixture;
let expected: Buffer[];
beforeAll(() => {
  fx = makeFixture();
  expected = fx.anchorFiles.map(expectedRetr);
});
afterAll(cleanupAll);

const totalSize = (): number => expected.reduce((n, b) => n + b.length, 0);

/** Greeting, login, STAT, RETR 1, RETR 2 (dot-stuffed lines), RETR 5 (no final newline), QUIT; then the server closes. */
async function fullSession(c: PopClient): Promise<void> {
  expect(c.greeting).toMatch(GREETING);
  expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
  expect(await c.cmd("PASS alice-pw")).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/);
  expect(await c.cmd("STAT")).toBe(`+OK 7 ${totalSize()}`);
  for (const n of [1, 2, 5]) {
    expect(await c.cmd(`RETR ${n}`)).toBe("+OK Message follows");
    expect((await c.readMultiline()).body.toString("latin1")).toBe(expected[n - 1]!.toString("latin1"));
  }
  expect(await c.cmd("QUIT")).toBe("+OK");
  await c.closed();
  expect(c.unread().toString("latin1")).toBe("");
}

/** Spawns the binary with one end of a socketpair as fds 0 and 1 (and 2 unless stderr is piped). */
function spawnOnSocketpair(args: string[], stderr: "socket" | "pipe"): { proc: Bun.Subprocess<"ignore", "ignore", "pipe" | "ignore">; ours: number } {
  const [ours, theirs] = socketPair();
  const proc = Bun.spawn([BINARY, ...args], {
    stdio: [theirs, theirs, stderr === "socket" ? theirs : "pipe"],
    env: childEnv(),
  }) as unknown as Bun.Subprocess<"ignore", "ignore", "pipe" | "ignore">;
  ownProcess(proc);
  closeFd(theirs);
  return { proc, ours };
}

describe("over a socketpair (inetd style)", () => {
  test("fds 0, 1 and 2 on the socket: one full session, only POP3 on the wire, exit 0", async () => {
    const { proc, ours } = spawnOnSocketpair(["-C", fx.confPath], "socket");
    const client = await PopClient.adopt(ours);
    await fullSession(client);
    expect(await exitStatus(proc)).toBe(0);
  });

  test("a failed then a successful login write nothing to stderr", async () => {
    const { proc, ours } = spawnOnSocketpair(["-C", fx.confPath], "pipe");
    const stderr = collect(proc.stderr as ReadableStream<Uint8Array>);
    const c = await PopClient.adopt(ours);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS wrong")).toBe("-ERR [AUTH] Invalid login");
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();
    expect(await exitStatus(proc)).toBe(0);
    await stderr.done;
    expect(stderr.text()).toBe("");
  });

  test("the client hanging up without QUIT ends the process with 0 and commits no DELE (pop3d.c:popd_reset)", async () => {
    const { proc, ours } = spawnOnSocketpair(["-C", fx.confPath], "socket");
    const c = await PopClient.adopt(ours);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    c.close();
    expect(await exitStatus(proc)).toBe(0);
    expect(readdirSync(join(fx.maildir("alice"), "cur"))).toHaveLength(7);
  });

  test("-X forces the same one-session mode", async () => {
    const { proc, ours } = spawnOnSocketpair(["-C", fx.confPath, "-X"], "socket");
    await fullSession(await PopClient.adopt(ours));
    expect(await exitStatus(proc)).toBe(0);
  });
});

// socat nofork exec()s the server with socat's own sockets still open on fds 3 and 4: an inherited
// fd 4 socket must not be mistaken for a master(8) listener when CYRUS_SERVICE is unset (docs/launch-modes.md).
describe("over TCP via socat EXEC,nofork (the server's fd 0 is the TCP socket)", () => {
  test("one full session, exit 0, nothing on stderr", async () => {
    const port = freePort();
    const socat = Bun.spawn(
      ["socat", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `EXEC:${BINARY} -C ${fx.confPath},nofork`],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv() },
    );
    ownProcess(socat);
    const stdout = collect(socat.stdout);
    const stderr = collect(socat.stderr);
    await waitForListening(port, "socat", () => socat.exitCode === null);
    const client = await PopClient.connect(port).catch(async (error: Error) => {
      throw new Error(`no greeting (${error.message}); the server socat exec()ed exited with ${await exitStatus(socat)}`);
    });
    await fullSession(client);
    // nofork: socat exec()s the server, so this is the server's own exit status.
    expect(await exitStatus(socat)).toBe(0);
    await Promise.all([stdout.done, stderr.done]);
    expect(stdout.text()).toBe("");
    expect(stderr.text()).toBe("");
  });
});

describe("over pipes (-X with stdin/stdout pipes)", () => {
  test("still serves one session and exits 0", async () => {
    const [childIn, toChild] = pipePair();
    const [fromChild, childOut] = pipePair();
    const proc = Bun.spawn([BINARY, "-C", fx.confPath, "-X"], { stdio: [childIn, childOut, "pipe"], env: childEnv() });
    ownProcess(proc);
    closeFd(childIn);
    closeFd(childOut);
    const stderr = collect(proc.stderr as ReadableStream<Uint8Array>);
    const client = await PopClient.overPipes(Bun.file(fromChild).stream(), Bun.file(toChild).writer());
    await fullSession(client);
    client.close();
    expect(await exitStatus(proc)).toBe(0);
    await stderr.done;
    expect(stderr.text()).toBe("");
  });
});
