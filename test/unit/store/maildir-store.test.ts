import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError, type Maildrop } from "../../../src/store/maildrop.ts";
import { MaildirStore } from "../../../src/store/maildir/index.ts";
import { UID_LIST_FILE, UID_LIST_TEMP_FILE } from "../../../src/store/maildir/uid-list.ts";
import { contentsByUid, deliver, makeFixture, readMessage, uniqueName, type MaildirFixture } from "./maildir-fixture.ts";

let fx: MaildirFixture;
let dir: string;

beforeEach(() => {
  fx = makeFixture();
  dir = fx.maildir("alice");
});

afterEach(() => {
  fx.cleanup();
});

const store = (options: { now?: () => number; markSeen?: boolean } = {}) => new MaildirStore({ pathTemplate: fx.template, ...options });

async function openError(promise: Promise<Maildrop>): Promise<StoreError> {
  try {
    (await promise).close();
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error("open succeeded");
}

describe("opening", () => {
  test("lists new/ and cur/ (not tmp/ or dot files) in delivery order with the raw bytes", async () => {
    deliver(dir, "late\n", { name: uniqueName(1_700_000_100) });
    deliver(dir, "early\n", { name: uniqueName(1_700_000_000), curInfo: "2,S" });
    writeFileSync(join(dir, "tmp", uniqueName()), "in progress\n");
    writeFileSync(join(dir, "cur", ".hidden"), "not mail\n");
    const drop = await store().open("alice", undefined);
    expect(drop.messages.map((m) => m.uid)).toEqual([1, 2]);
    expect(readMessage(drop, 0)).toBe("early\n");
    expect(readMessage(drop, 1)).toBe("late\n");
    expect(drop.newUidl).toBe(true);
    drop.close();
  });

  test("orders by the name's timestamp and counter, and odd names by mtime", async () => {
    deliver(dir, "c\n", { name: "1700000300.M1P1Q1.host" });
    const odd = deliver(dir, "odd\n", { name: "imported-message" });
    utimesSync(join(dir, "new", odd), 1_700_000_200, 1_700_000_200);
    deliver(dir, "a\n", { name: "1700000100.M500P1Q2.host" });
    deliver(dir, "b\n", { name: "1700000100.M900P1Q1.host" });
    const drop = await store().open("alice", undefined);
    expect([0, 1, 2, 3].map((i) => readMessage(drop, i))).toEqual(["a\n", "b\n", "odd\n", "c\n"]);
    drop.close();
  });

  test("uidValidity is the creation time and UIDs stay the same across store instances", async () => {
    deliver(dir, "one\n");
    deliver(dir, "two\n", { curInfo: "2,RS" });
    const first = await store({ now: () => 1_750_000_000_000 }).open("alice", undefined);
    expect(first.uidValidity).toBe(1_750_000_000);
    const before = contentsByUid(first);
    first.close();
    const second = await store().open("alice", undefined);
    expect(second.uidValidity).toBe(1_750_000_000);
    expect(contentsByUid(second)).toEqual(before);
    second.close();
  });

  test("UIDs survive flag changes and the move from new/ to cur/", async () => {
    const name = deliver(dir, "moved\n");
    deliver(dir, "stays\n");
    const first = await store().open("alice", undefined);
    const before = contentsByUid(first);
    first.close();
    renameSync(join(dir, "new", name), join(dir, "cur", `${name}:2,FS`));
    const second = await store().open("alice", undefined);
    expect(contentsByUid(second)).toEqual(before);
    second.close();
  });

  test("new mail gets higher UIDs and stays out of an open snapshot", async () => {
    deliver(dir, "old\n");
    const session = await store().open("alice", undefined);
    deliver(dir, "new\n", { name: uniqueName(1_600_000_000) });
    expect(session.messages.length).toBe(1);
    const next = await store().open("alice", undefined);
    expect(next.messages.map((m) => m.uid)).toEqual([1, 2]);
    expect(readMessage(next, 1)).toBe("new\n");
    session.close();
    next.close();
  });

  test("a UID is never handed out again after its message is gone", async () => {
    const name = deliver(dir, "one\n");
    deliver(dir, "two\n");
    (await store().open("alice", undefined)).close();
    unlinkSync(join(dir, "new", name));
    deliver(dir, "three\n");
    const drop = await store().open("alice", undefined);
    expect([...contentsByUid(drop)]).toEqual([
      [2, "two\n"],
      [3, "three\n"],
    ]);
    drop.close();
  });

  test("sizes are the CRLF wire sizes, and ,W= is believed without reading", async () => {
    deliver(dir, "a\nbb\n");
    deliver(dir, "a\r\nbb\r\n");
    deliver(dir, "no final newline");
    deliver(dir, "x\n", { name: uniqueName(undefined, ",S=2,W=999") });
    const drop = await store().open("alice", undefined);
    expect(drop.messages.map((m) => m.size)).toEqual([7, 7, 18, 999]);
    drop.close();
  });

  test("sizes are measured once and then come from the list", async () => {
    const name = deliver(dir, "a\n");
    (await store().open("alice", undefined)).close();
    // Same name, different content: a later login must not read the file again.
    writeFileSync(join(dir, "new", name), "much longer content\n");
    const drop = await store().open("alice", undefined);
    expect(drop.messages.map((m) => m.size)).toEqual([3]);
    drop.close();
  });

  test("an empty Maildir is an empty snapshot", async () => {
    const drop = await store().open("alice", undefined);
    expect(drop.messages).toEqual([]);
    drop.close();
  });

  test("a +folder opens the Maildir++ folder", async () => {
    const folder = join(dir, ".lists.bun");
    for (const sub of ["tmp", "new", "cur"]) await Bun.write(join(folder, sub, ".keep"), "");
    deliver(folder, "folder mail\n");
    deliver(dir, "inbox mail\n");
    const drop = await store().open("alice", "lists/bun");
    expect(drop.messages.length).toBe(1);
    expect(readMessage(drop, 0)).toBe("folder mail\n");
    drop.close();
  });

  test("a missing Maildir, or one without cur/, does not exist", async () => {
    const missing = await openError(store().open("nobody", undefined));
    expect([missing.kind, missing.message]).toEqual(["temp", "Mailbox does not exist"]);
    expect(missing.detail).toContain(join(fx.root, "nobody", "Maildir"));
    rmSync(join(dir, "cur"), { recursive: true });
    writeFileSync(join(dir, "cur"), "");
    const broken = await openError(store().open("alice", undefined));
    expect([broken.kind, broken.message]).toEqual(["temp", "Mailbox does not exist"]);
  });

  test.skipIf(process.getuid?.() === 0)("an unreadable Maildir is a permanent error with the errno in the detail", async () => {
    deliver(dir, "x\n");
    chmodSync(join(dir, "cur"), 0);
    try {
      const error = await openError(store().open("alice", undefined));
      expect(error.kind).toBe("perm");
      expect(error.detail).toContain("EACCES");
    } finally {
      chmodSync(join(dir, "cur"), 0o700);
    }
  });
});

describe("the uid list", () => {
  test("is created beside the mail and rewritten only when something changed", async () => {
    // A clock far ahead makes every directory count as settled, so nothing depends on timing.
    const settled = store({ now: () => Date.now() + 60_000 });
    deliver(dir, "a\n");
    (await settled.open("alice", undefined)).close();
    const listPath = join(dir, UID_LIST_FILE);
    const written = statSync(listPath, { bigint: true });
    (await settled.open("alice", undefined)).close();
    expect(statSync(listPath, { bigint: true }).ino).toBe(written.ino);
    deliver(dir, "b\n");
    (await settled.open("alice", undefined)).close();
    expect(statSync(listPath, { bigint: true }).ino).not.toBe(written.ino);
    expect(readFileSync(listPath, "utf8").split("\n").filter(Boolean).length).toBe(3);
  });

  test("a temp file left by a crash mid-write is ignored", async () => {
    deliver(dir, "a\n");
    deliver(dir, "b\n");
    const first = await store().open("alice", undefined);
    const before = contentsByUid(first);
    first.close();
    writeFileSync(join(dir, UID_LIST_TEMP_FILE), "pop3d-uidlist 1 77 3 0 0\n1 5 cur/torn");
    const second = await store().open("alice", undefined);
    expect(contentsByUid(second)).toEqual(before);
    expect(second.uidValidity).toBe(first.uidValidity);
    second.close();
    deliver(dir, "c\n");
    const third = await store().open("alice", undefined);
    expect(third.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
    expect(existsSync(join(dir, UID_LIST_TEMP_FILE))).toBe(false);
    third.close();
  });

  test("once the directories have settled, a login trusts the list without listing them", async () => {
    deliver(dir, "a\n");
    const later = () => Date.now() + 60_000;
    (await store({ now: later }).open("alice", undefined)).close();
    const listPath = join(dir, UID_LIST_FILE);
    const header = readFileSync(listPath, "utf8").split("\n")[0].split(" ");
    expect(BigInt(header[4])).toBe(statSync(join(dir, "new"), { bigint: true }).ctimeNs);
    expect(BigInt(header[5])).toBe(statSync(join(dir, "cur"), { bigint: true }).ctimeNs);
    // A line for a file that is not there proves the directories were not listed.
    writeFileSync(listPath, readFileSync(listPath, "utf8").replace(/ 2 /, " 3 ") + "2 42 cur/ghost:2,S\n");
    const trusted = await store().open("alice", undefined);
    expect(trusted.messages.map((m) => [m.uid, m.size])).toEqual([
      [1, 3],
      [2, 42],
    ]);
    trusted.close();
    // A delivery changes new/ only, so only new/ is listed again: the cur/ ghost stays.
    deliver(dir, "b\n");
    const newListed = await store().open("alice", undefined);
    expect(newListed.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
    newListed.close();
    // A change to cur/ gets cur/ listed, and the ghost goes.
    deliver(dir, "c\n", { curInfo: "2,S" });
    const curListed = await store().open("alice", undefined);
    expect(curListed.messages.map((m) => m.uid)).toEqual([1, 3, 4]);
    curListed.close();
  });

  test("a dovecot-uidlist gives a new list its UIDVALIDITY and UIDs", async () => {
    const known = deliver(dir, "known\n", { curInfo: "2,S" });
    deliver(dir, "unknown\n");
    writeFileSync(join(dir, "dovecot-uidlist"), `3 V1234567 N40 Gabc\n17 W7 :${known.split(":")[0]}\n`);
    const drop = await store().open("alice", undefined);
    expect(drop.uidValidity).toBe(1_234_567);
    expect([...contentsByUid(drop)]).toEqual([
      [17, "known\n"],
      [40, "unknown\n"],
    ]);
    drop.close();
  });
});
