import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassDbUnavailable } from "../../../src/auth/passdb/passdb.ts";
import { PasswdFileDb } from "../../../src/auth/passdb/passwd-file.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pop3d-passwd-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function passwdFile(text: string): string {
  const path = join(dir, `passwd-${++counter}`);
  writeFileSync(path, text);
  return path;
}

// Digests of "secret" (salt "12345678" or "abcd"), made with python3 hashlib on this machine.
const SCHEMES: [string, string][] = [
  ["plain", "{PLAIN}secret"],
  ["cleartext", "{CLEARTEXT}secret"],
  ["lowercase-scheme", "{plain}secret"],
  ["sha", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="],
  ["ssha", "{SSHA}+RFhsab2AfzZ0VfEdyknXtUT06RhYmNk"],
  ["sha256", "{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols="],
  ["sha256hex", "{SHA256}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"],
  ["ssha256", "{SSHA256}swTyciKL1jSrpuiILDonRJjkh3hIgn9GWA19lVbEJrMxMjM0NTY3OA=="],
  ["sha512", "{SHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg=="],
  [
    "ssha512",
    "{SSHA512}iWwx8naQWtJKIoYOgnIUnOjDVRc/KB/avnmg7rvibFhiLlylVmd8s/TomzyGqQwBOpJzU5z2YBupYIJWW8egvDEyMzQ1Njc4",
  ],
];

// `openssl passwd -6 -salt saltsalt pw` and `openssl passwd -5 -salt saltsalt pw`.
const PW_SHA512_CRYPT = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/";
const PW_SHA256_CRYPT = "$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5";

describe("schemes", () => {
  const path = () =>
    passwdFile(
      [
        ...SCHEMES.map(([u, s]) => `${u}:${s}`),
        `sha512crypt:{SHA512-CRYPT}${PW_SHA512_CRYPT}`,
        `sha256crypt:{SHA256-CRYPT}${PW_SHA256_CRYPT}`,
        `crypt:{CRYPT}${PW_SHA512_CRYPT}`,
        `bare:${PW_SHA512_CRYPT}`,
        `mismatched:{SHA256-CRYPT}${PW_SHA512_CRYPT}`,
        "md5crypt:{CRYPT}$1$saltsalt$lNu/QYyK5RanGVyD5D8Sq/",
        "unknown:{ARGON2ID}whatever",
      ].join("\n"),
    );

  for (const [u] of SCHEMES) {
    test(`${u}: right password accepted, wrong refused`, async () => {
      const db = new PasswdFileDb(path());
      expect(await db.checkPassword(u, "secret")).toBe(true);
      expect(await db.checkPassword(u, "Secret")).toBe(false);
      expect(await db.checkPassword(u, "")).toBe(false);
    });
  }
  for (const u of ["sha512crypt", "sha256crypt", "crypt", "bare"]) {
    test(`${u}: crypt(3) strings`, async () => {
      const db = new PasswdFileDb(path());
      expect(await db.checkPassword(u, "pw")).toBe(true);
      expect(await db.checkPassword(u, "pw ")).toBe(false);
    });
  }
  test("a scheme that does not match its crypt prefix, or an unsupported one, never matches", async () => {
    const db = new PasswdFileDb(path());
    expect(await db.checkPassword("mismatched", "pw")).toBe(false);
    expect(await db.checkPassword("md5crypt", "pw")).toBe(false);
    expect(await db.checkPassword("unknown", "whatever")).toBe(false);
    expect(await db.checkPassword("unknown", "{ARGON2ID}whatever")).toBe(false);
  });
});

describe("file format", () => {
  test("comments, blank lines, CRLF and Dovecot's extra fields", async () => {
    const db = new PasswdFileDb(
      passwdFile("# users\r\n\r\n   \nalice:{PLAIN}a-pw:1000:1000::/home/alice::userdb_quota=1G\r\n  # bob:{PLAIN}x\nbob:{PLAIN}b-pw\n"),
    );
    expect(await db.checkPassword("alice", "a-pw")).toBe(true);
    expect(await db.checkPassword("bob", "b-pw")).toBe(true);
    expect(await db.checkPassword("# bob", "x")).toBe(false);
    expect(await db.checkPassword("  # bob", "x")).toBe(false);
  });
  test("the first definition of a user wins; bad lines are reported without secrets", async () => {
    const warnings: string[] = [];
    const path = passwdFile("carol:{PLAIN}first\ncarol:{PLAIN}second\nno-colon-line\n:{PLAIN}nouser\ndave:{MD4}zzz\n");
    const db = new PasswdFileDb(path, { warn: (m) => warnings.push(m) });
    expect(await db.checkPassword("carol", "first")).toBe(true);
    expect(await db.checkPassword("carol", "second")).toBe(false);
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toBe(`${path}:2: user carol already defined above, line ignored`);
    expect(warnings[1]).toStartWith(`${path}:3:`);
    expect(warnings[2]).toStartWith(`${path}:4:`);
    expect(warnings[3]).toContain("dave");
    for (const w of warnings) expect(w).not.toMatch(/second|nouser|zzz/);
  });
  test("user names are matched exactly", async () => {
    const db = new PasswdFileDb(passwdFile("erin@example.org:{PLAIN}e\n"));
    expect(await db.checkPassword("erin@example.org", "e")).toBe(true);
    expect(await db.checkPassword("erin", "e")).toBe(false);
    expect(await db.checkPassword("Erin@example.org", "e")).toBe(false);
  });
});

describe("unknown users", () => {
  test("unknown user and wrong password both resolve false", async () => {
    const db = new PasswdFileDb(passwdFile(`alice:{SHA512-CRYPT}${PW_SHA512_CRYPT}\n`));
    expect(await db.checkPassword("nobody", "pw")).toBe(false);
    expect(await db.checkPassword("alice", "wrong")).toBe(false);
    expect(await db.checkPassword("alice", "pw")).toBe(true);
  });
  test("an empty file refuses everyone", async () => {
    const db = new PasswdFileDb(passwdFile(""));
    expect(await db.checkPassword("alice", "")).toBe(false);
  });
});

describe("plaintextSecret", () => {
  test("only plaintext schemes give a secret", async () => {
    const db = new PasswdFileDb(passwdFile(`p:{PLAIN}tanstaaf\nc:{CLEARTEXT}c-pw\nh:{SSHA256}${SCHEMES[7]![1].slice(9)}\n`));
    expect(await db.plaintextSecret("p")).toBe("tanstaaf");
    expect(await db.plaintextSecret("c")).toBe("c-pw");
    expect(await db.plaintextSecret("h")).toBeUndefined();
    expect(await db.plaintextSecret("nobody")).toBeUndefined();
  });
});

describe("reloading", () => {
  test("a changed file is re-read", async () => {
    const path = passwdFile("frank:{PLAIN}old\n");
    const db = new PasswdFileDb(path);
    expect(await db.checkPassword("frank", "old")).toBe(true);
    expect(await db.checkPassword("grace", "g")).toBe(false);

    writeFileSync(path, "frank:{PLAIN}new\ngrace:{PLAIN}g\n");
    utimesSync(path, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    expect(await db.checkPassword("frank", "old")).toBe(false);
    expect(await db.checkPassword("frank", "new")).toBe(true);
    expect(await db.checkPassword("grace", "g")).toBe(true);
  });
  test("a same-size edit with a new mtime is re-read", async () => {
    const path = passwdFile("henry:{PLAIN}aaaa\n");
    utimesSync(path, new Date(1_600_000_000_000), new Date(1_600_000_000_000));
    const db = new PasswdFileDb(path);
    expect(await db.checkPassword("henry", "aaaa")).toBe(true);
    writeFileSync(path, "henry:{PLAIN}bbbb\n");
    utimesSync(path, new Date(1_700_000_000_000), new Date(1_700_000_000_000));
    expect(await db.checkPassword("henry", "bbbb")).toBe(true);
  });
  test("concurrent first lookups share one load", async () => {
    const db = new PasswdFileDb(passwdFile("ivy:{PLAIN}i\n"));
    const results = await Promise.all([db.checkPassword("ivy", "i"), db.checkPassword("ivy", "x"), db.plaintextSecret("ivy")]);
    expect(results).toEqual([true, false, "i"]);
  });
});

describe("unavailable backend", () => {
  test("a missing file throws PassDbUnavailable naming the path, not the password", async () => {
    const path = join(dir, "does-not-exist");
    const db = new PasswdFileDb(path);
    const err = await db.checkPassword("alice", "hunter2").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassDbUnavailable);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).not.toContain("hunter2");
    await expect(db.plaintextSecret("alice")).rejects.toBeInstanceOf(PassDbUnavailable);
  });
  test("a file removed after loading makes the backend unavailable", async () => {
    const path = passwdFile("jack:{PLAIN}j\n");
    const db = new PasswdFileDb(path);
    expect(await db.checkPassword("jack", "j")).toBe(true);
    unlinkSync(path);
    await expect(db.checkPassword("jack", "j")).rejects.toBeInstanceOf(PassDbUnavailable);
  });
  test("a directory in place of the file throws PassDbUnavailable", async () => {
    const err = await new PasswdFileDb(dir).checkPassword("kim", "k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassDbUnavailable);
    expect((err as Error).message).toContain(dir);
  });
  test.skipIf(process.getuid?.() === 0)("an unreadable file throws PassDbUnavailable", async () => {
    const path = passwdFile("kim:{PLAIN}k\n");
    chmodSync(path, 0o000);
    const err = await new PasswdFileDb(path).checkPassword("kim", "k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassDbUnavailable);
    expect((err as Error).message).toContain(path);
  });
});
