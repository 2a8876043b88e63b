import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_DENY_MESSAGE, UserDenyDb, denies, parseDenyRecord, parseFlatDb, wildmat } from "../../../src/auth/deny-db.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** What cyr_deny -s 'pop3*' -m '...' alice; cyr_deny bob write with userdeny_db: flat (bytes from Cyrus 3.6.1). */
const FLAT = Buffer.concat([
  Buffer.from("alice\t2"), Buffer.from([0xff, 0x89]), Buffer.from("pop3*"), Buffer.from([0xff, 0x89]),
  Buffer.from("POP access suspended, call helpdesk\nbob\t2"), Buffer.from([0xff, 0x89]), Buffer.from("*"), Buffer.from([0xff, 0x89]),
  Buffer.from(`${DEFAULT_DENY_MESSAGE}\n`),
]);

describe("wildmat (lib/wildmat.c)", () => {
  test("stars, question marks, classes, escapes", () => {
    expect(wildmat("pop3", "pop3*")).toBe(true);
    expect(wildmat("pop3s", "pop3*")).toBe(true);
    expect(wildmat("imap", "pop3*")).toBe(false);
    expect(wildmat("pop3", "*")).toBe(true);
    expect(wildmat("pop3s", "pop3")).toBe(false);
    expect(wildmat("pop3s", "pop3?")).toBe(true);
    expect(wildmat("pop3s", "pop3[a-z]")).toBe(true);
    expect(wildmat("pop35", "pop3[^0-9]")).toBe(false);
    expect(wildmat("a*b", "a\\*b")).toBe(true);
    expect(wildmat("axb", "a\\*b")).toBe(false);
  });
});

describe("records", () => {
  test("version 2 with a message, version 1 without, malformed ones", () => {
    expect(parseDenyRecord(Buffer.from("2\tpop3*\tGo away"))).toEqual({ services: "pop3*", message: "Go away" });
    expect(parseDenyRecord(Buffer.from("1\timap,pop3"))).toEqual({ services: "imap,pop3", message: DEFAULT_DENY_MESSAGE });
    expect(parseDenyRecord(Buffer.from("3\t*\tx"))).toBeUndefined();
    expect(parseDenyRecord(Buffer.from("x"))).toBeUndefined();
  });

  test("the first matching pattern decides; ! allows", () => {
    const r = { services: "!pop3s,pop3*", message: "no" };
    expect(denies(r, "pop3")).toBe("no");
    expect(denies(r, "pop3s")).toBeUndefined();
    expect(denies(r, "imap")).toBeUndefined();
    expect(denies({ services: "*", message: "a\r\nb" }, "pop3")).toBe("a  b");
  });

  test("flat files are unescaped", () => {
    const db = parseFlatDb(FLAT);
    expect(db.get("alice")!.toString()).toBe("2\tpop3*\tPOP access suspended, call helpdesk");
    expect(db.get("bob")!.toString()).toBe(`2\t*\t${DEFAULT_DENY_MESSAGE}`);
  });
});

describe("UserDenyDb", () => {
  test("reads the flat file, notices when it changes, allows when it is gone", () => {
    const dir = mkdtempSync(join(tmpdir(), "deny-"));
    dirs.push(dir);
    const path = join(dir, "user_deny.db");
    const warnings: string[] = [];
    const db = new UserDenyDb({ path, format: "flat", warn: (m) => warnings.push(m) });
    expect(db.check("alice", "pop3")).toBeUndefined();
    writeFileSync(path, FLAT);
    expect(db.check("alice", "pop3")).toBe("POP access suspended, call helpdesk");
    expect(db.check("alice", "imap")).toBeUndefined();
    expect(db.check("bob", "pop3s")).toBe(DEFAULT_DENY_MESSAGE);
    expect(db.check("carol", "pop3")).toBeUndefined();
    writeFileSync(path, "alice\t9\tbroken\n");
    expect(db.check("alice", "pop3")).toBeUndefined();
    expect(warnings).toEqual(["DENYDB_ERROR: invalid entry for 'alice'"]);
    rmSync(path);
    expect(db.check("bob", "pop3")).toBeUndefined();
  });

  test("twoskip goes through the reader it is given", () => {
    const dir = mkdtempSync(join(tmpdir(), "deny-"));
    dirs.push(dir);
    const path = join(dir, "user_deny.db");
    writeFileSync(path, "x");
    const asked: string[] = [];
    const db = new UserDenyDb({
      path,
      format: "twoskip",
      twoskipGet: (_p, key) => (asked.push(key.toString()), key.toString() === "dave" ? Buffer.from("2\tpop3\tNo") : undefined),
      warn: () => {},
    });
    expect(db.check("dave", "pop3")).toBe("No");
    expect(db.check("dave", "pop3")).toBe("No");
    expect(db.check("erin", "pop3")).toBeUndefined();
    // one read per user while the file is unchanged
    expect(asked).toEqual(["dave", "erin"]);
  });
});
