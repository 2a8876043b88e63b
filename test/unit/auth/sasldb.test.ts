/**
 * The sasldb reader against files written by the real saslpasswd2 (Debian's sasl2-bin).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { BerkeleyDbFormatError, readBerkeleyHash } from "../../../src/auth/passdb/berkeley-db-hash.ts";
import { PassDbUnavailable } from "../../../src/auth/passdb/passdb.ts";
import { SasldbDb, sasldbKey } from "../../../src/auth/passdb/sasldb.ts";

const SASLPASSWD2 = Bun.which("saslpasswd2") ?? (Bun.file("/usr/sbin/saslpasswd2").size > 0 ? "/usr/sbin/saslpasswd2" : null);
if (!SASLPASSWD2) console.log("sasldb.test.ts: saslpasswd2 not found (apt-get install sasl2-bin): real-file tests skipped");
const withTool = SASLPASSWD2 ? test : test.skip;

const dir = mkdtempSync(join(tmpdir(), "pop3d-sasldb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** saslpasswd2 -f <file> -c -p [-u realm] user, password on stdin. */
function saslpasswd(file: string, user: string, password: string, realm?: string): void {
  const args = [SASLPASSWD2!, "-f", file, "-c", "-p", ...(realm ? ["-u", realm] : []), user];
  const r = Bun.spawnSync(args, { stdin: Buffer.from(password), stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${r.stderr.toString()}`);
}

const BIG_USERS = 300;
let small: string;
let big: string;
beforeAll(() => {
  if (!SASLPASSWD2) return;
  small = join(dir, "sasldb2");
  saslpasswd(small, "alice", "alice-pw", "pop.test");
  saslpasswd(small, "bob", "bob-pw", "example.com");
  saslpasswd(small, "carol", "carol-pw");
  saslpasswd(small, "dave", "pässwörd", "pop.test");
  big = join(dir, "big-sasldb2");
  for (let i = 1; i <= BIG_USERS; i++) saslpasswd(big, `user${i}`, `pw-${i}`, "pop.test");
  // saslpasswd2 keeps at most 2048 bytes of a password: long enough for an overflow page.
  saslpasswd(big, "longpw", "L".repeat(2048), "pop.test");
});

describe("Berkeley DB hash reader", () => {
  withTool("every key and value of a small file", () => {
    const m = readBerkeleyHash(readFileSync(small));
    expect(new Map([...m].map(([k, v]) => [k, Buffer.from(v).toString("latin1")]))).toEqual(
      new Map([
        ["alice\0pop.test\0userPassword", "alice-pw"],
        ["bob\0example.com\0userPassword", "bob-pw"],
        [`carol\0${hostname()}\0userPassword`, "carol-pw"],
        ["dave\0pop.test\0userPassword", Buffer.from("pässwörd").toString("latin1")],
      ]),
    );
  });
  withTool("several buckets, chained bucket pages and an overflow item", () => {
    const m = readBerkeleyHash(readFileSync(big));
    expect(m.size).toBe(BIG_USERS + 1);
    for (let i = 1; i <= BIG_USERS; i++) expect(Buffer.from(m.get(`user${i}\0pop.test\0userPassword`)!).toString()).toBe(`pw-${i}`);
    expect(Buffer.from(m.get("longpw\0pop.test\0userPassword")!).toString()).toBe("L".repeat(2048));
  });
  test("not a database", () => {
    expect(() => readBerkeleyHash(new Uint8Array(4096))).toThrow(BerkeleyDbFormatError);
    expect(() => readBerkeleyHash(Buffer.from("user:{PLAIN}pw\n"))).toThrow(/too short/);
  });
  withTool("a truncated file", () => {
    const bytes = readFileSync(big);
    expect(() => readBerkeleyHash(bytes.subarray(0, 4096 * 2))).toThrow(BerkeleyDbFormatError);
  });
});

describe("SasldbDb", () => {
  withTool("passwords and plaintext secrets; users without @ take the server's realm", async () => {
    const db = new SasldbDb(small, { defaultRealm: "pop.test" });
    expect(await db.checkPassword("alice", "alice-pw")).toBe(true);
    expect(await db.checkPassword("alice", "alice-pw ")).toBe(false);
    expect(await db.checkPassword("bob@example.com", "bob-pw")).toBe(true);
    expect(await db.checkPassword("bob", "bob-pw")).toBe(false);
    expect(await db.checkPassword("nobody", "x")).toBe(false);
    expect(await db.plaintextSecret("alice")).toBe("alice-pw");
    expect(await db.plaintextSecret("dave")).toBe("pässwörd");
    expect(await db.plaintextSecret("nobody")).toBeUndefined();
  });
  withTool("saslpasswd2 without -u files users under the host name, which is servername's default", async () => {
    expect(await new SasldbDb(small, { defaultRealm: hostname() }).checkPassword("carol", "carol-pw")).toBe(true);
  });
  withTool("changes made by saslpasswd2 while running are seen", async () => {
    const file = join(dir, "live-sasldb2");
    saslpasswd(file, "eve", "old-pw", "pop.test");
    const db = new SasldbDb(file, { defaultRealm: "pop.test" });
    expect(await db.checkPassword("eve", "old-pw")).toBe(true);
    saslpasswd(file, "eve", "new-pw", "pop.test");
    expect(await db.checkPassword("eve", "new-pw")).toBe(true);
    expect(await db.checkPassword("eve", "old-pw")).toBe(false);
  });
  test("a missing file holds no users and says so once", async () => {
    const warnings: string[] = [];
    const db = new SasldbDb(join(dir, "missing"), { defaultRealm: "pop.test", warn: (m) => warnings.push(m) });
    expect(await db.checkPassword("alice", "alice-pw")).toBe(false);
    expect(await db.plaintextSecret("alice")).toBeUndefined();
    expect(warnings).toEqual([`sasldb ${join(dir, "missing")} does not exist: no user can log in through it`]);
  });
  test("a corrupt file makes the backend unavailable, naming the file", async () => {
    const file = join(dir, "corrupt");
    writeFileSync(file, Buffer.alloc(8192, 0x42));
    const err = await new SasldbDb(file, { defaultRealm: "pop.test" }).checkPassword("a", "b").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassDbUnavailable);
    expect(String(err)).toContain(`sasldb ${file}: unreadable: not a Berkeley DB hash file`);
  });
  test("keys split user@realm at the first @", () => {
    expect(sasldbKey("a@b@c", "def")).toBe("a\0b@c\0userPassword");
    expect(sasldbKey("a", "def")).toBe("a\0def\0userPassword");
  });
});
