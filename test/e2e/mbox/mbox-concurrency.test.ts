/**
 * The mbox store against a real MDA-like appender (a python process appending under dotlock +
 * fcntl, as procmail and postfix local(8) do) while POP sessions of the compiled binary delete
 * mail, and against kill -9 of the binary at random instants of QUIT. Afterwards every appended
 * message is there exactly once, no deleted one remains, a killed commit removed all of its
 * messages or none, and every message in the file is byte for byte what was delivered.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PopClient, ROOT, cleanupAll, collect, makeFixture, ownProcess, startServer, tempDir, waitFor, type Fixture } from "../../support/harness.ts";
import { PYTHON, envelope, mboxEntry, message } from "../../unit/store/mbox/mbox-test-kit.ts";
import { withMboxLock } from "../../../src/store/mbox/mbox-lock.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(180_000);

/**
 * A careful MDA: dotlock first (breaking a stale one only if it is still the file it judged), then
 * the mbox opened and fcntl-locked, and reopened if it was replaced meanwhile (as dovecot-lda does).
 */
const APPENDER = `
import fcntl, os, random, sys, time
path, stop = sys.argv[1], sys.argv[2]
lock = path + ".lock"
STALE_SECONDS = 300

def identity(name):
    st = os.lstat(name)
    with open(name, "rb") as f:
        return (st.st_ino, st.st_ctime_ns, f.read())

def stale(seen):
    text = seen[2].strip()
    pid = int(text) if text.isdigit() else 0
    if time.time() - os.lstat(lock).st_mtime > STALE_SECONDS:
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False

def dotlock():
    mine = "%s.%d" % (lock, os.getpid())
    with open(mine, "wb") as f:
        f.write(b"%d\\n" % os.getpid())
    try:
        while True:
            try:
                os.link(mine, lock)
                return
            except FileExistsError:
                try:
                    seen = identity(lock)
                    if stale(seen):
                        if identity(lock) == seen:
                            os.unlink(lock)
                        continue
                except FileNotFoundError:
                    continue
                time.sleep(0.002)
    finally:
        os.unlink(mine)

def open_locked():
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            return fd
        os.close(fd)

n = 0
while not os.path.exists(stop):
    n += 1
    entry = ("From appender@example.org Tue Jan  2 00:00:00 2024\\n"
             "From: Appender <a@example.org>\\nSubject: appended %d\\nMessage-ID: <append-%d@example.org>\\n\\n"
             "body of appended %d\\n>From a quoted line\\n\\n" % (n, n, n)).encode()
    dotlock()
    fd = open_locked()
    os.write(fd, entry)
    os.fsync(fd)
    os.close(fd)
    os.unlink(lock)
    print("appended %d" % n, flush=True)
    time.sleep(random.random() * 0.005)
`;

function appendedEntry(n: number): Buffer {
  return Buffer.from(
    "From appender@example.org Tue Jan  2 00:00:00 2024\n" +
      `From: Appender <a@example.org>\nSubject: appended ${n}\nMessage-ID: <append-${n}@example.org>\n\n` +
      `body of appended ${n}\n>From a quoted line\n\n`,
    "latin1",
  );
}

function bigMessage(i: number): Buffer {
  const line = `${String(i).padStart(6, "0")} ${"abcdefghij".repeat(7)}\n`;
  return message(i, line.repeat(100 + ((i * 37) % 300)) + (i % 7 === 0 ? "From a line to quote\n" : ""));
}

function originalEntry(i: number): Buffer {
  return mboxEntry(bigMessage(i), envelope(i));
}

interface SpoolState {
  originals: number[];
  appended: number[];
}

/**
 * Splits the spool at its From_ lines and checks every piece is exactly a delivered entry. Read
 * under the MDA locks, so an append in progress is not mistaken for a damaged message.
 */
async function readSpool(path: string): Promise<SpoolState> {
  const file = await withMboxLock(path, () => readFileSync(path));
  const state: SpoolState = { originals: [], appended: [] };
  for (let start = 0; start < file.length; ) {
    const next = file.indexOf("\n\nFrom ", start);
    const end = next < 0 ? file.length : next + 2;
    const entry = file.subarray(start, end);
    const id = /^Message-ID: <(m|append-)(\d+)@example\.org>$/m.exec(entry.toString("latin1"));
    if (id === null) throw new Error(`unrecognised text at offset ${start}: ${JSON.stringify(entry.toString("latin1").slice(0, 120))}`);
    const n = Number(id[2]);
    const expected = id[1] === "m" ? originalEntry(n) : appendedEntry(n);
    if (!entry.equals(expected)) throw new Error(`message ${id[1]}${n} at offset ${start} is not intact`);
    (id[1] === "m" ? state.originals : state.appended).push(n);
    start = end;
  }
  return state;
}

interface Appender {
  reported(): number[];
  stop(): Promise<number[]>;
}

function startAppender(path: string): Appender {
  const dir = tempDir("appender");
  const script = join(dir, "append.py");
  const stopFile = join(dir, "stop");
  writeFileSync(script, APPENDER);
  const proc = Bun.spawn([PYTHON, script, path, stopFile], { stdout: "pipe", stderr: "pipe" });
  ownProcess(proc);
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  const reported = () => [...out.text().matchAll(/^appended (\d+)$/gm)].map((m) => Number(m[1]));
  return {
    reported,
    async stop() {
      writeFileSync(stopFile, "");
      await proc.exited;
      await out.done;
      await err.done;
      expect(err.text()).toBe("");
      expect(proc.exitCode).toBe(0);
      return reported();
    },
  };
}

let fx: Fixture;
let spool: string;

function writeSpool(count: number): string {
  const path = join(spool, "alice");
  writeFileSync(path, Buffer.concat(Array.from({ length: count }, (_, i) => originalEntry(i + 1))));
  const owner = statSync(fx.dir);
  chownSync(path, owner.uid, owner.gid);
  return path;
}

async function login(port: number): Promise<PopClient> {
  const c = await PopClient.connect(port);
  expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
  expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
  return c;
}

/** DELE the given originals, found by message number (originals come first) and checked by TOP. */
async function deleteOriginals(c: PopClient, present: number[], victims: number[]): Promise<void> {
  for (const victim of victims) {
    const number = present.indexOf(victim) + 1;
    expect(await c.cmd(`TOP ${number} 0`)).toBe("+OK Message follows");
    expect((await c.readMultiline()).lines).toContain(`Message-ID: <m${victim}@example.org>`);
    expect(await c.cmd(`DELE ${number}`)).toStartWith("+OK");
  }
}

function pick<T>(from: T[], count: number): T[] {
  return [...from].sort(() => Math.random() - 0.5).slice(0, count);
}

beforeAll(() => {
  spool = tempDir("mbox-spool");
  fx = makeFixture({ anchorMessagesFor: [], config: { pop3_mailstore: "mbox", pop3_mbox_path: join(spool, "%u") } });
  const owner = statSync(fx.dir);
  chownSync(spool, owner.uid, owner.gid);
  chmodSync(spool, 0o755);
  if (!readFileSync(join(ROOT, "src/server/services.ts"), "utf8").includes("MboxStore")) {
    throw new Error("src/server/services.ts does not build MboxStore for pop3_mailstore: mbox yet");
  }
});
afterAll(cleanupAll);

describe("mbox with a concurrent MDA", () => {
  test("sessions delete while mail keeps arriving: nothing appended is lost, nothing deleted remains", async () => {
    const path = writeSpool(60);
    const server = await startServer(fx);
    const appender = startAppender(path);
    await waitFor(() => appender.reported().length > 0, "the appender's first delivery");
    let present = (await readSpool(path)).originals;
    const deleted: number[] = [];
    for (let round = 0; round < 6; round++) {
      // Two overlapping sessions of one server process, each deleting its own victims.
      const [a, b] = [await login(server.port), await login(server.port)];
      const [victimsA, victimsB] = [pick(present, 2), [] as number[]];
      victimsB.push(...pick(present.filter((n) => !victimsA.includes(n)), 2));
      await deleteOriginals(a, present, victimsA);
      await deleteOriginals(b, present, victimsB);
      // Mail delivered while both snapshots are open must survive both commits.
      const seen = appender.reported().length;
      await waitFor(() => appender.reported().length > seen, "an append during the sessions");
      expect(await a.cmd("QUIT")).toBe("+OK");
      expect(await b.cmd("QUIT")).toBe("+OK");
      await Promise.all([a.closed(), b.closed()]);
      deleted.push(...victimsA, ...victimsB);
      present = (await readSpool(path)).originals;
      expect(present).toEqual(Array.from({ length: 60 }, (_, i) => i + 1).filter((n) => !deleted.includes(n)));
    }
    const appended = await appender.stop();
    const final = await readSpool(path);
    expect(final.appended).toEqual(appended);
    expect(final.originals).toEqual(present);
    const c = await login(server.port);
    expect(await c.cmd("STAT")).toStartWith(`+OK ${present.length + appended.length} `);
    expect(await c.cmd("QUIT")).toBe("+OK");
    expect(await server.stop()).toBe(0);
  });
});

describe("mbox and kill -9", () => {
  test("killing the server at random instants of QUIT: all of a commit or none of it, appended mail intact", async () => {
    const path = writeSpool(300);
    const appender = startAppender(path);
    await waitFor(() => appender.reported().length > 0, "the appender's first delivery");
    let present = (await readSpool(path)).originals;
    let windowMs = 0;
    const outcomes = { none: 0, all: 0 };
    for (let iteration = 0; iteration <= 20; iteration++) {
      const server = await startServer(fx);
      const c = await login(server.port);
      const victims = pick(present, 3);
      await deleteOriginals(c, present, victims);
      const reportedBefore = appender.reported();
      c.send("QUIT\r\n");
      const sent = performance.now();
      if (iteration === 0) {
        // Left alone once, to learn how long QUIT takes so the kills land inside it.
        expect(await c.readLine()).toBe("+OK");
        windowMs = performance.now() - sent;
        expect(await server.stop()).toBe(0);
      } else {
        await Bun.sleep(Math.random() * windowMs * 1.5);
        server.proc.kill(9);
        await server.proc.exited;
      }
      const state = await readSpool(path);
      const removed = present.filter((n) => !state.originals.includes(n));
      expect(state.originals).toEqual(present.filter((n) => !removed.includes(n)));
      expect(removed.length === 0 || [...removed].sort().join() === [...victims].sort().join()).toBe(true);
      outcomes[removed.length === 0 ? "none" : "all"]++;
      for (const n of reportedBefore) expect(state.appended).toContain(n);
      expect(new Set(state.appended).size).toBe(state.appended.length);
      present = state.originals;
    }
    const appended = await appender.stop();
    expect((await readSpool(path)).appended).toEqual(appended);
    expect(outcomes.none + outcomes.all).toBe(21);
    // The last killed server's dotlock is stale: a new server gets in.
    const server = await startServer(fx);
    const c = await login(server.port);
    expect(await c.cmd("STAT")).toStartWith(`+OK ${present.length + appended.length} `);
    expect(await c.cmd("QUIT")).toBe("+OK");
    expect(await server.stop()).toBe(0);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});
