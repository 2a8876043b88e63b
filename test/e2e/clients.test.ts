/**
 * Real POP3 clients (python poplib, curl, fetchmail, mpop) against the compiled binary in
 * standalone mode. Each client works on its own user so one client's deletes cannot affect another.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  PopClient,
  ROOT,
  cleanupAll,
  expectedRetr,
  makeFixture,
  run,
  sha256,
  startServer,
  tempDir,
  type Fixture,
  type RunningServer,
} from "../support/harness.ts";

// A hang guard only (bunfig's [test] timeout is not applied); nothing here measures time.
setDefaultTimeout(60_000);

const FIXTURES = join(ROOT, "test/e2e/fixtures");
const USERS = { alice: "alice-pw", fetch: "fetch-pw", mpop: "mpop-pw" };

let fx: Fixture;
let server: RunningServer;
/** What RETR must deliver for messages 1..7 (index 0..6). */
let expected: Buffer[];

beforeAll(async () => {
  fx = makeFixture({ users: USERS, anchorMessagesFor: Object.keys(USERS) });
  expected = fx.anchorFiles.map(expectedRetr);
  server = await startServer(fx);
});
afterAll(cleanupAll);

/** Local delivery (fetchmail's MDA, mpop's maildir) stores LF line ends. */
const toLf = (b: Buffer): string => b.toString("latin1").replace(/\r\n/g, "\n");

const messageId = (text: string): string => {
  const m = /^Message-ID: (<[^>]+>)$/im.exec(text);
  if (!m) throw new Error(`no Message-ID in ${JSON.stringify(text.slice(0, 300))}`);
  return m[1]!;
};

/** Maps each expected message's Message-ID to its LF-normalised bytes. */
const expectedById = (): Map<string, string> => new Map(expected.map((b) => [messageId(toLf(b)), toLf(b)]));

/** STAT through a raw session (what the server holds now). */
async function stat(user: keyof typeof USERS): Promise<string> {
  const c = await PopClient.connect(server.port);
  expect(await c.cmd(`USER ${user}`)).toBe("+OK Name is a valid mailbox");
  expect(await c.cmd(`PASS ${USERS[user]}`)).toStartWith("+OK Mailbox locked and ready");
  const reply = await c.cmd("STAT");
  expect(await c.cmd("QUIT")).toBe("+OK");
  await c.closed();
  return reply;
}

const totalSize = (): number => expected.reduce((n, b) => n + b.length, 0);

describe("python3 poplib", () => {
  test("downloads all 7 anchor messages byte for byte, LIST sizes match", async () => {
    const r = await run(["python3", join(FIXTURES, "poplib_client.py"), "all", "127.0.0.1", String(server.port), "alice", "alice-pw"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.toString("utf8"));

    expect(out.greeting).toMatch(/^\+OK pop\.test pop3d \S+ server ready <\d+\.\d+@pop\.test>$/);
    expect(out.pass).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/);
    expect(out.stat).toEqual([7, totalSize()]);
    expect(out.sizes).toEqual(Object.fromEntries(expected.map((b, i) => [String(i + 1), b.length])));
    expect(Object.keys(out.uidls)).toHaveLength(7);
    expect(new Set(Object.values(out.uidls)).size).toBe(7);
    expect(out.messages.map((m: { sha256: string }) => m.sha256)).toEqual(expected.map(sha256));
    expect(out.messages.map((m: { length: number }) => m.length)).toEqual(expected.map((b) => b.length));
    expect(out.quit).toBe("+OK");
  });
});

describe("curl", () => {
  const url = (path: string): string => `pop3://alice:alice-pw@127.0.0.1:${server.port}/${path}`;

  test("LIST (no path) prints the scan listing", async () => {
    const r = await run(["curl", "-sS", url("")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.toString("latin1")).toBe(expected.map((b, i) => `${i + 1} ${b.length}\r\n`).join(""));
  });

  for (const n of [1, 2, 5]) {
    test(`RETR ${n} (/${n}) prints the message exactly`, async () => {
      const r = await run(["curl", "-sS", url(String(n))]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(sha256(r.stdout)).toBe(sha256(expected[n - 1]!));
      expect(r.stdout.toString("latin1")).toBe(expected[n - 1]!.toString("latin1"));
    });
  }
});

describe("fetchmail", () => {
  /** Runs fetchmail once for user "fetch", delivering through an MDA into a fresh directory. */
  async function fetchmail(extraArgs: string[]): Promise<{ delivered: string[]; log: string }> {
    const home = tempDir("fetchmail");
    const outDir = tempDir("fetchmail-out");
    const rc = join(home, "fetchmailrc");
    // sslproto '' keeps the session plain (no opportunistic STLS); "no rewrite" keeps headers as sent.
    writeFileSync(
      rc,
      [
        "set no bouncemail",
        `poll 127.0.0.1 port ${server.port} protocol pop3 auth password`,
        `  user "fetch" there with password "${USERS.fetch}" is "fetch" here`,
        "  sslproto ''",
        "  no rewrite",
        `  mda "${join(FIXTURES, "mda_to_dir.sh")} ${outDir}"`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const r = await run(["fetchmail", "-f", rc, "--nosyslog", "--pidfile", join(home, "pid"), "--fetchall", ...extraArgs], {
      env: { HOME: home, FETCHMAILHOME: home },
    });
    expect(r.code, `fetchmail failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
    const delivered = readdirSync(outDir).map((f) => readFileSync(join(outDir, f)).toString("latin1"));
    return { delivered, log: r.stdout.toString("utf8") + r.stderr };
  }

  /** fetchmail prepends its own "Received:" header (with folded continuation lines); we remove exactly that. */
  const stripFetchmailReceived = (text: string): string => {
    const m = /^Received: from 127\.0\.0\.1 [^\n]*\n(?:[ \t][^\n]*\n)*/.exec(text);
    if (!m || !m[0].includes("(fetchmail-")) throw new Error(`no fetchmail Received header in ${JSON.stringify(text.slice(0, 300))}`);
    return text.slice(m[0].length);
  };

  test("--keep delivers all 7 messages intact and leaves them on the server", async () => {
    const { delivered } = await fetchmail(["--keep"]);
    expect(delivered).toHaveLength(7);
    const want = expectedById();
    const got = new Map(delivered.map((t) => stripFetchmailReceived(t)).map((t) => [messageId(t), t]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [id, text] of want) expect(got.get(id)).toBe(text);

    expect(readdirSync(join(fx.maildir("fetch"), "cur"))).toHaveLength(7);
    expect(await stat("fetch")).toBe(`+OK 7 ${totalSize()}`);
  });

  test("without --keep the messages are deleted at QUIT (Maildir cur/ empty)", async () => {
    const { delivered } = await fetchmail([]);
    expect(delivered).toHaveLength(7);
    expect(readdirSync(join(fx.maildir("fetch"), "cur"))).toEqual([]);
    expect(readdirSync(join(fx.maildir("fetch"), "new"))).toEqual([]);
    expect(await stat("fetch")).toBe("+OK 0 0");
  });
});

describe("mpop (pipelining, UIDL)", () => {
  function mpopConfig(home: string, maildir: string): string {
    const rc = join(home, "mpoprc");
    writeFileSync(
      rc,
      [
        "defaults",
        "tls off",
        "auth user",
        "received_header off",
        "account test",
        "host 127.0.0.1",
        `port ${server.port}`,
        "user mpop",
        `password ${USERS.mpop}`,
        `delivery maildir ${maildir}`,
        `uidls_file ${join(home, "uidls")}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    return rc;
  }

  test("--keep=on delivers all 7 messages intact; a second run with --only-new=on finds none new", async () => {
    const home = tempDir("mpop");
    const maildir = join(tempDir("mpop-out"), "Maildir");
    for (const sub of ["cur", "new", "tmp"]) await Bun.write(join(maildir, sub, ".keep"), "");
    const rc = mpopConfig(home, maildir);
    const newFiles = (): string[] => readdirSync(join(maildir, "new")).filter((f) => f !== ".keep");

    const first = await run(["mpop", "-C", rc, "--keep=on", "--only-new=off", "test"], { env: { HOME: home } });
    expect(first.code, `mpop failed:\n${first.stdout}\n${first.stderr}`).toBe(0);
    const delivered = newFiles().map((f) => readFileSync(join(maildir, "new", f)).toString("latin1"));
    expect(delivered).toHaveLength(7);
    const want = expectedById();
    const got = new Map(delivered.map((t) => [messageId(t), t]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [id, text] of want) expect(got.get(id)).toBe(text);
    expect(await stat("mpop")).toBe(`+OK 7 ${totalSize()}`);

    // UIDs must be stable across sessions for "only new" to work.
    const second = await run(["mpop", "-C", rc, "--keep=on", "--only-new=on", "test"], { env: { HOME: home } });
    expect(second.code, `mpop failed:\n${second.stdout}\n${second.stderr}`).toBe(0);
    expect(newFiles()).toHaveLength(7);
  });
});

test("the server stops on SIGTERM with exit code 0", async () => {
  expect(await server.stop()).toBe(0);
});
