/**
 * `pop3_mailstore: mbox` through the compiled binary: python poplib downloads every message byte
 * for byte (From_ lines unquoted, CRLF line ends), UIDLs are stable across logins (X-UIDL reused),
 * and DELE + QUIT removes exactly the deleted messages while a dropped session removes nothing.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PopClient, ROOT, cleanupAll, makeFixture, run, sha256, startServer, tempDir, type Fixture, type RunningServer } from "../../support/harness.ts";
import { mboxOf, message, wireBytes } from "../../unit/store/mbox/mbox-test-kit.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

/** poplib: STAT, LIST, UIDL, RETR all, then DELE the given numbers and QUIT; one JSON line out. */
const POPLIB = `
import hashlib, json, poplib, sys
host, port, user, password, deletes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
pop = poplib.POP3(host, port, timeout=60)
pop.user(user)
pop.pass_(password)
count, total = pop.stat()
sizes = {int(n): int(s) for n, s in (l.split() for l in pop.list()[1])}
uidls = {int(n): u.decode("latin1") for n, u in (l.split() for l in pop.uidl()[1])}
shas = []
for n in range(1, count + 1):
    _, lines, _ = pop.retr(n)
    shas.append(hashlib.sha256(b"".join(l + b"\\r\\n" for l in lines)).hexdigest())
for n in filter(None, deletes.split(",")):
    pop.dele(int(n))
quit = pop.quit().decode("latin1")
print(json.dumps({"stat": [count, total], "sizes": sizes, "uidls": uidls, "sha256": shas, "quit": quit}))
`;

interface PoplibResult {
  stat: [number, number];
  sizes: Record<string, number>;
  uidls: Record<string, string>;
  sha256: string[];
  quit: string;
}

let fx: Fixture;
let server: RunningServer;
let spool: string;
let originals: Buffer[];

/** The anchor messages plus one with From_ lines to quote and one carrying an X-UIDL header. */
function messages(fixture: Fixture): Buffer[] {
  const anchors = fixture.anchorFiles.map((file) => readFileSync(file));
  const quoted = message(8, "From the desk of the editor\n>From an earlier quote\n\nFrom here on, plain text.\n");
  const withXUidl = message(9, "body\n", "X-UIDL: xuidl-nine\n");
  return [...anchors, quoted, withXUidl];
}

/** Writes alice's mbox as an MDA would, owned by the user the server runs as. */
function writeMbox(content: Buffer): string {
  const path = join(spool, "alice");
  writeFileSync(path, content);
  const owner = statSync(fx.dir);
  chownSync(path, owner.uid, owner.gid);
  return path;
}

async function poplib(deletes: number[] = []): Promise<PoplibResult> {
  const r = await run(["python3", "-c", POPLIB, "127.0.0.1", String(server.port), "alice", "alice-pw", deletes.join(",")]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.toString("utf8"));
}

beforeAll(async () => {
  spool = tempDir("mbox-spool");
  fx = makeFixture({ anchorMessagesFor: [], config: { pop3_mailstore: "mbox", pop3_mbox_path: join(spool, "%u") } });
  const owner = statSync(fx.dir);
  chownSync(spool, owner.uid, owner.gid);
  chmodSync(spool, 0o755);
  originals = messages(fx);
  writeMbox(mboxOf(originals));
  if (!readFileSync(join(ROOT, "src/server/services.ts"), "utf8").includes("MboxStore")) {
    throw new Error("src/server/services.ts does not build MboxStore for pop3_mailstore: mbox yet");
  }
  server = await startServer(fx);
});
afterAll(cleanupAll);

describe("pop3_mailstore: mbox", () => {
  test("poplib downloads every message byte for byte; LIST sizes are the octets RETR sends", async () => {
    const out = await poplib();
    const expected = originals.map(wireBytes);
    expect(out.stat).toEqual([originals.length, expected.reduce((n, b) => n + b.length, 0)]);
    expect(out.sizes).toEqual(Object.fromEntries(expected.map((b, i) => [String(i + 1), b.length])));
    expect(out.sha256).toEqual(expected.map(sha256));
    expect(out.quit).toBe("+OK");
  });

  test("UIDLs are unique, the same at the next login, and reuse a message's X-UIDL", async () => {
    const first = await poplib();
    const second = await poplib();
    expect(second.uidls).toEqual(first.uidls);
    expect(new Set(Object.values(first.uidls)).size).toBe(originals.length);
    expect(first.uidls[String(originals.length)]).toBe("xuidl-nine");
  });

  test("a session dropped after DELE removes nothing", async () => {
    const before = readFileSync(join(spool, "alice"));
    const c = await PopClient.connect(server.port);
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS alice-pw")).toStartWith("+OK Mailbox locked and ready");
    expect(await c.cmd("DELE 1")).toStartWith("+OK");
    c.close();
    await c.closed();
    // The next login's snapshot is taken under the same locks, after the dropped session ended.
    const out = await poplib();
    expect(out.stat[0]).toBe(originals.length);
    expect(readFileSync(join(spool, "alice")).equals(before)).toBe(true);
  });

  test("DELE + QUIT removes exactly those messages; the others keep their bytes and UIDLs", async () => {
    const before = await poplib();
    const deleted = [2, 5, 8];
    expect((await poplib(deleted)).quit).toBe("+OK");
    const keptIndexes = originals.map((_, i) => i).filter((i) => !deleted.includes(i + 1));
    const expectedFile = Buffer.concat(keptIndexes.map((i) => mboxOf([originals[i]!], undefined, i)));
    expect(readFileSync(join(spool, "alice")).equals(expectedFile)).toBe(true);
    const after = await poplib();
    expect(after.sha256).toEqual(keptIndexes.map((i) => sha256(wireBytes(originals[i]!))));
    expect(Object.values(after.uidls)).toEqual(keptIndexes.map((i) => before.uidls[String(i + 1)]!));
    const mode = statSync(join(spool, "alice"));
    expect([mode.uid, mode.gid]).toEqual([statSync(fx.dir).uid, statSync(fx.dir).gid]);
  });
});
