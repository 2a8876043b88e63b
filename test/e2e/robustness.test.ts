/**
 * Hostile and awkward clients against one standalone server: over-long lines, binary junk,
 * heavy pipelining, clients that stop reading or vanish mid-transfer. The server must answer
 * every command exactly once, in order, and keep serving everyone else.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { closeFd, socketPair } from "../support/socketpair.ts";
import {
  BINARY,
  PopClient,
  ROOT,
  childEnv,
  cleanupAll,
  expectedRetr,
  makeFixture,
  memoryKb,
  ownProcess,
  sha256,
  startServer,
  tcpQueues,
  waitFor,
  type Fixture,
  type RunningServer,
} from "../support/harness.ts";

// A hang guard only (bunfig's [test] timeout is not applied); nothing here measures time.
setDefaultTimeout(60_000);

/** Cyrus reads commands in 8191-byte pieces (pop3d.c:cmdloop); each piece is a command of its own. */
const PIECE = 8191;
/** Ceiling for the server's resident memory: a few 10 MiB transfers must not scale it with message size. */
const RSS_LIMIT_KB = 150 * 1024;

let fx: Fixture;
let server: RunningServer;
let expected: Buffer[];

beforeAll(async () => {
  fx = makeFixture();
  expected = fx.anchorFiles.map(expectedRetr);
  server = await startServer(fx);
});
afterAll(cleanupAll);

const totalSize = (): number => expected.reduce((n, b) => n + b.length, 0);

async function loggedIn(): Promise<PopClient> {
  const c = await PopClient.connect(server.port);
  expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
  expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
  return c;
}

async function quit(c: PopClient): Promise<void> {
  expect(await c.cmd("QUIT")).toBe("+OK");
  await c.closed();
}

async function retr(c: PopClient, n: number): Promise<Buffer> {
  expect(await c.cmd(`RETR ${n}`)).toBe("+OK Message follows");
  return (await c.readMultiline()).body;
}

/** A full, checked session: the proof that the server still serves. */
async function healthySession(): Promise<void> {
  const c = await loggedIn();
  expect(await c.cmd("STAT")).toBe(`+OK 7 ${totalSize()}`);
  expect(sha256(await retr(c, 2))).toBe(sha256(expected[1]!));
  await quit(c);
}

function expectServerAlive(): void {
  expect(server.proc.exitCode).toBeNull();
  expect(server.proc.signalCode).toBeNull();
}

describe("over-long command lines", () => {
  for (const length of [10 * 1024, 20_000]) {
    test(`a ${length}-byte line gets one -ERR per ${PIECE}-byte piece, then the session goes on`, async () => {
      const c = await PopClient.connect(server.port);
      const pieces = Math.ceil((length + 2) / PIECE);
      c.send("X".repeat(length) + "\r\nUSER alice\r\n");
      for (let i = 0; i < pieces; i++) expect(await c.readLine()).toBe("-ERR Unrecognized command");
      expect(await c.readLine()).toBe("+OK Name is a valid mailbox");
      expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
      expect(await c.cmd("STAT")).toBe(`+OK 7 ${totalSize()}`);
      await quit(c);
    });
  }
});

describe("binary junk", () => {
  /** Deterministic junk lines: control and 8-bit bytes only (no letters, no CR/LF), NULs included. */
  function junkLines(count: number): Buffer[] {
    let seed = 0x2545f491;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16;
    const alphabet = [...Array(256).keys()].filter((b) => (b < 0x20 || b >= 0x7f) && b !== 0x0a && b !== 0x0d);
    return Array.from({ length: count }, () => Buffer.from(Array.from({ length: 1 + (next() % 300) }, () => alphabet[next() % alphabet.length]!)));
  }

  test("each junk line gets exactly one clean -ERR line, and login still works", async () => {
    const c = await PopClient.connect(server.port);
    const lines = [...junkLines(60), Buffer.from([0, 0, 0]), Buffer.from("\0USER alice", "latin1")];
    c.send(Buffer.concat([...lines.flatMap((l) => [l, Buffer.from("\r\n")]), Buffer.from("USER alice\r\n")]));
    for (let i = 0; i < lines.length; i++) {
      const raw = await c.readRawLine();
      expect(raw.toString("latin1")).toMatch(/^-ERR [\x20-\x7e]*\r\n$/);
    }
    expect(await c.readLine()).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
    await quit(c);
    expectServerAlive();
  });

  test("a NUL ends the command as far as parsing goes (pop3d.c:cmdloop)", async () => {
    const c = await loggedIn();
    c.send(Buffer.from("NOOP\0trailing junk\r\nSTAT\0\xff\xfe\r\n", "latin1"));
    expect(await c.readLine()).toBe("+OK");
    expect(await c.readLine()).toBe(`+OK 7 ${totalSize()}`);
    await quit(c);
  });
});

describe("pipelining", () => {
  test("5000 NOOPs in one write get exactly 5000 +OK, in order", async () => {
    const c = await loggedIn();
    c.send("NOOP\r\n".repeat(5000) + "STAT\r\n");
    for (let i = 0; i < 5000; i++) {
      const line = await c.readLine();
      if (line !== "+OK") throw new Error(`reply ${i + 1} of 5000 to NOOP was ${JSON.stringify(line)}`);
    }
    expect(await c.readLine()).toBe(`+OK 7 ${totalSize()}`);
    await quit(c);
  });

  test("a mixed batch in one write gets complete responses in order", async () => {
    const c = await loggedIn();
    const batch = ["LIST", "UIDL", "RETR 1", "RETR 2", "TOP 1 0", "RETR 6", "LIST 3", "DELE 4", "LIST 4", "RSET", "RETR 5", "STAT", "QUIT"];
    c.send(batch.map((cmd) => cmd + "\r\n").join(""));

    expect(await c.readLine()).toBe("+OK scan listing follows");
    expect((await c.readMultiline()).lines).toEqual(expected.map((b, i) => `${i + 1} ${b.length}`));
    expect(await c.readLine()).toBe("+OK unique-id listing follows");
    const uidl = (await c.readMultiline()).lines;
    expect(uidl).toHaveLength(7);
    uidl.forEach((line, i) => expect(line).toMatch(new RegExp(`^${i + 1} \\d+\\.\\d+$`)));
    for (const n of [1, 2]) {
      expect(await c.readLine()).toBe("+OK Message follows");
      expect((await c.readMultiline()).body.toString("latin1")).toBe(expected[n - 1]!.toString("latin1"));
    }
    expect(await c.readLine()).toBe("+OK Message follows");
    const headers = expected[0]!.subarray(0, expected[0]!.indexOf("\r\n\r\n") + 4);
    expect((await c.readMultiline()).body.toString("latin1")).toBe(headers.toString("latin1"));
    expect(await c.readLine()).toBe("+OK Message follows");
    expect(sha256((await c.readMultiline()).body)).toBe(sha256(expected[5]!));
    expect(await c.readLine()).toBe(`+OK 3 ${expected[2]!.length}`);
    expect(await c.readLine()).toBe("+OK message deleted");
    expect(await c.readLine()).toBe("-ERR No such message");
    expect(await c.readLine()).toBe("+OK");
    expect(await c.readLine()).toBe("+OK Message follows");
    expect((await c.readMultiline()).body.toString("latin1")).toBe(expected[4]!.toString("latin1"));
    expect(await c.readLine()).toBe(`+OK 7 ${totalSize()}`);
    expect(await c.readLine()).toBe("+OK");
    await c.closed();
    expect(c.unread().toString("latin1")).toBe("");
    expect(readdirSync(join(fx.maildir("alice"), "cur"))).toHaveLength(7);
  });
});

describe("clients that stop reading or vanish", () => {
  test("a client stalled in RETR 7 does not hold up a second client; a third works after it leaves", async () => {
    const stalled = Bun.spawn(
      ["python3", join(ROOT, "test/e2e/fixtures/stalled_reader.py"), "127.0.0.1", String(server.port), "alice", "alice-pw", "7"],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: childEnv() },
    );
    ownProcess(stalled);
    let said = "";
    const reader = stalled.stdout.getReader();
    while (!/STALLED \d+\n/.test(said)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stalled_reader.py ended early: ${said} ${await new Response(stalled.stderr).text()}`);
      said += Buffer.from(value).toString("utf8");
    }
    expect(said.split("\n").slice(1, 4)).toEqual(["+OK Name is a valid mailbox", expect.stringMatching(/^\+OK Mailbox locked and ready/), "+OK Message follows"]);
    // The stall is real: the client's receive queue and the server's send queue fill up and stay full.
    const clientPort = Number(/STALLED (\d+)/.exec(said)![1]);
    await waitFor(() => (tcpQueues(server.port, clientPort)?.tx ?? 0) > 0, "the server's send queue to the stalled client to fill");

    const second = await loggedIn();
    expect(await second.cmd("STAT")).toBe(`+OK 7 ${totalSize()}`);
    expect(sha256(await retr(second, 6))).toBe(sha256(expected[5]!));
    expect((await retr(second, 3)).toString("latin1")).toBe(expected[2]!.toString("latin1"));
    await quit(second);

    stalled.stdin.end();
    expect(await stalled.exited).toBe(0);
    await healthySession();
    expectServerAlive();
  });

  test("a client that resets the connection mid-RETR leaves the server serving and the mailbox intact", async () => {
    const c = await loggedIn();
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    expect(await c.cmd("RETR 7")).toBe("+OK Message follows");
    for (let i = 0; i < 100; i++) await c.readRawLine();
    c.abort();
    await c.closed();
    await healthySession();
    expectServerAlive();
    expect(readdirSync(join(fx.maildir("alice"), "cur"))).toHaveLength(7);
  });

  test("a client that half-closes mid-RETR: the server still serves others", async () => {
    const c = await loggedIn();
    expect(await c.cmd("RETR 7")).toBe("+OK Message follows");
    await c.readRawLine();
    c.close();
    await healthySession();
    expectServerAlive();
  });
});

describe("sessions that end must close", () => {
  test("inetd mode: SIGTERM while the client reads nothing of a 10 MiB RETR ends the process at once with 75", async () => {
    const [ours, theirs] = socketPair();
    const proc = Bun.spawn([BINARY, "-C", fx.confPath], { stdio: [theirs, theirs, "pipe"], env: childEnv() });
    ownProcess(proc);
    closeFd(theirs);
    const c = await PopClient.adopt(ours);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
    const readBefore = bytesRead(proc.pid);
    expect(await c.cmd("RETR 7")).toBe("+OK Message follows");
    c.pauseReading();
    // the first 256 KiB piece of the body, read and written in one go, is more than the socket
    // takes: the rest of it waits in the server for a reader that never comes
    await waitFor(() => bytesRead(proc.pid) >= readBefore + 256 * 1024, "the server to read the first piece of the body");
    proc.kill("SIGTERM");
    // before the fix the process waited forever for its queued output
    expect(await proc.exited).toBe(75);
    c.abort();
  });
});

/** Bytes the process has read with read(2) and friends so far (its message files included). */
function bytesRead(pid: number): number {
  return Number(/^rchar: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
}

describe("authentication", () => {
  test("a wrong password gets -ERR [AUTH] Invalid login, then the right one succeeds", async () => {
    const c = await PopClient.connect(server.port);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS not-alice-pw")).toBe("-ERR [AUTH] Invalid login");
    expect(await c.cmd("STAT")).toBe("-ERR Unrecognized command");
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS alice-pw")).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/);
    expect(await c.cmd("STAT")).toBe(`+OK 7 ${totalSize()}`);
    await quit(c);
  });
});

/** The server's end of a connection: its receive queue is full, or it is no longer established. */
function stoppedOrDropped(serverPort: number, clientPort: number): boolean {
  const hex = (p: number): string => `0100007F:${p.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const row of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const cols = row.trim().split(/\s+/);
    if (cols[1] !== hex(serverPort) || cols[2] !== hex(clientPort)) continue;
    const rx = parseInt(cols[4]!.split(":")[1]!, 16);
    return cols[3] !== "01" || rx > 64 * 1024;
  }
  return true;
}

describe("output throttle: clients that pipeline and never read", () => {
  /** Per hostile client, what the server may keep (issue figure: 256 kB), plus slack for the heap:
   *  the answers the kernel took before the server stopped are garbage the collector frees later.
   *  Without the throttle one such client grew the server by more than a gigabyte. */
  const PER_CLIENT_KB = 256;
  const SLACK_KB = 48 * 1024;

  /** `count` clients, half pipelining CAPA before login, half STAT after it; none of them reads. */
  async function pipeliners(count: number): Promise<PopClient[]> {
    const hostile: PopClient[] = [];
    for (let i = 0; i < count; i++) {
      const c = i % 2 === 0 ? await PopClient.connect(server.port) : await loggedIn();
      c.pauseReading();
      // 4 MiB each: far more than the kernel buffers hold, so the server must stop reading
      c.send((i % 2 === 0 ? "CAPA\r\n" : "STAT\r\n").repeat(700_000));
      hostile.push(c);
    }
    // the server has stopped reading each of them (its receive queue from the client fills up),
    // or has disconnected one that got too far ahead of what it reads
    for (const c of hostile) {
      await waitFor(() => stoppedOrDropped(server.port, c.localPort), "the server to stop reading a pipelining client");
    }
    return hostile;
  }

  test("CAPA before login and STAT after it: the server stops reading them, keeps little per client, and serves others", async () => {
    // the first few grow the heap once (the answers the kernel took for them were garbage to collect)
    const warmup = await pipeliners(4);
    await healthySession();
    const before = memoryKb(server.proc.pid).rss;
    const hostile = await pipeliners(8);
    await healthySession();
    const after = memoryKb(server.proc.pid).rss;
    console.log(`server RSS growth per non-reading pipelining client: ${Math.round((after - before) / hostile.length)} kB`);
    expect(after - before).toBeLessThan(hostile.length * PER_CLIENT_KB + SLACK_KB);
    for (const c of [...warmup, ...hostile]) c.abort();
    await Promise.all([...warmup, ...hostile].map((c) => c.closed()));
    await healthySession();
    expectServerAlive();
  });
});

describe("memory", () => {
  test("three concurrent RETR 7 (10 MiB each): server RSS and its peak stay under 150 MB", async () => {
    const clients = await Promise.all([loggedIn(), loggedIn(), loggedIn()]);
    const bodies = await Promise.all(clients.map((c) => retr(c, 7)));
    for (const body of bodies) expect(sha256(body)).toBe(sha256(expected[6]!));
    const { rss, peak } = memoryKb(server.proc.pid);
    await Promise.all(clients.map(quit));
    expect(rss).toBeLessThan(RSS_LIMIT_KB);
    expect(peak).toBeLessThan(RSS_LIMIT_KB);
  });

  test("the server stops on SIGTERM with exit code 0", async () => {
    expect(await server.stop()).toBe(0);
  });
});
