import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../../../src/store/maildrop.ts";
import { MaildirStore } from "../../../src/store/maildir/index.ts";
import { UID_LIST_FILE } from "../../../src/store/maildir/uid-list.ts";
import { contentsByUid, deliver, filesIn, makeFixture, readMessage, readSource, type MaildirFixture } from "./maildir-fixture.ts";

let fx: MaildirFixture;
let dir: string;

beforeEach(() => {
  fx = makeFixture();
  dir = fx.maildir("alice");
});

afterEach(() => {
  fx.cleanup();
});

const store = (markSeen = false) => new MaildirStore({ pathTemplate: fx.template, markSeen });

function listedNames(): string[] {
  return readFileSync(join(dir, UID_LIST_FILE), "utf8")
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .map((line) => line.split(" ")[2]);
}

describe("reading during a session", () => {
  test("a message moved from new/ to cur/ after login is still read", async () => {
    const name = deliver(dir, "moving\n");
    deliver(dir, "other\n");
    const drop = await store().open("alice", undefined);
    renameSync(join(dir, "new", name), join(dir, "cur", `${name}:2,S`));
    expect(readMessage(drop, 0)).toBe("moving\n");
    drop.close();
  });

  test("a message removed by someone else is a clean permanent error", async () => {
    const name = deliver(dir, "gone soon\n");
    const drop = await store().open("alice", undefined);
    unlinkSync(join(dir, "new", name));
    let caught: unknown;
    try {
      drop.open(0);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StoreError);
    expect((caught as StoreError).kind).toBe("perm");
    expect((caught as StoreError).message).toBe("Could not read message file");
    expect((caught as StoreError).detail).toContain(name);
    drop.close();
  });

  test("an open message stays readable after someone removes it", async () => {
    const name = deliver(dir, "x".repeat(100) + "\n");
    const drop = await store().open("alice", undefined);
    const source = drop.open(0);
    unlinkSync(join(dir, "new", name));
    expect(readSource(source)).toBe("x".repeat(100) + "\n");
    drop.close();
  });

  test("close() closes message sources the session left open", async () => {
    deliver(dir, "abc\n");
    const drop = await store().open("alice", undefined);
    const source = drop.open(0);
    drop.close();
    expect(source.read(Buffer.alloc(10))).toBe(0);
  });
});

describe("commit (UPDATE state)", () => {
  test("nothing is removed before commit, and a dropped session removes nothing", async () => {
    deliver(dir, "a\n");
    deliver(dir, "b\n");
    const before = filesIn(dir);
    const drop = await store(true).open("alice", undefined);
    readMessage(drop, 0);
    drop.close();
    expect(filesIn(dir)).toEqual(before);
    const again = await store().open("alice", undefined);
    expect(again.messages.map((m) => m.uid)).toEqual([1, 2]);
    again.close();
  });

  test("deleted messages are unlinked and forgotten, the rest keep their UIDs", async () => {
    deliver(dir, "a\n");
    deliver(dir, "b\n", { curInfo: "2,S" });
    deliver(dir, "c\n");
    const drop = await store().open("alice", undefined);
    const result = await drop.commit({ deleted: [0, 2], retrieved: [] });
    drop.close();
    expect(result).toEqual({ expunged: 2, mailboxName: dir });
    expect(filesIn(dir).new).toEqual([]);
    expect(filesIn(dir).cur.length).toBe(1);
    expect(listedNames().length).toBe(1);
    const next = await store().open("alice", undefined);
    expect([...contentsByUid(next)]).toEqual([[2, "b\n"]]);
    next.close();
  });

  test("mail delivered during the session is never touched", async () => {
    deliver(dir, "old\n");
    const drop = await store(true).open("alice", undefined);
    const late = deliver(dir, "late\n");
    await drop.commit({ deleted: [0], retrieved: [0] });
    drop.close();
    expect(filesIn(dir)).toEqual({ new: [late], cur: [] });
    const next = await store().open("alice", undefined);
    expect([...contentsByUid(next)]).toEqual([[2, "late\n"]]);
    next.close();
  });

  test("a message already removed by someone else is fine and not counted", async () => {
    const gone = deliver(dir, "a\n");
    deliver(dir, "b\n");
    const drop = await store().open("alice", undefined);
    unlinkSync(join(dir, "new", gone));
    const result = await drop.commit({ deleted: [0, 1], retrieved: [] });
    drop.close();
    expect(result.expunged).toBe(1);
    expect(filesIn(dir)).toEqual({ new: [], cur: [] });
    expect(listedNames()).toEqual([]);
  });

  test("a deleted message that moved meanwhile is found and removed", async () => {
    const name = deliver(dir, "a\n");
    const drop = await store().open("alice", undefined);
    renameSync(join(dir, "new", name), join(dir, "cur", `${name}:2,F`));
    expect((await drop.commit({ deleted: [0], retrieved: [] })).expunged).toBe(1);
    drop.close();
    expect(filesIn(dir)).toEqual({ new: [], cur: [] });
  });

  test("with markSeen, retrieved messages get the S flag in cur/; deleted ones are just removed", async () => {
    const fresh = deliver(dir, "fresh\n");
    const flagged = deliver(dir, "flagged\n", { curInfo: "2,FR" });
    const seen = deliver(dir, "seen\n", { curInfo: "2,S" });
    deliver(dir, "doomed\n");
    const untouched = deliver(dir, "untouched\n");
    const drop = await store(true).open("alice", undefined);
    await drop.commit({ deleted: [3], retrieved: [0, 1, 2, 3] });
    drop.close();
    expect(filesIn(dir)).toEqual({
      new: [untouched],
      cur: [`${fresh}:2,S`, `${flagged.split(":")[0]}:2,FRS`, seen].sort(),
    });
    const next = await store().open("alice", undefined);
    expect([...contentsByUid(next)]).toEqual([
      [1, "fresh\n"],
      [2, "flagged\n"],
      [3, "seen\n"],
      [5, "untouched\n"],
    ]);
    next.close();
  });

  test("without markSeen, retrieved messages stay where they are", async () => {
    const name = deliver(dir, "a\n");
    const drop = await store(false).open("alice", undefined);
    await drop.commit({ deleted: [], retrieved: [0] });
    drop.close();
    expect(filesIn(dir)).toEqual({ new: [name], cur: [] });
  });

  test("an empty commit changes nothing", async () => {
    deliver(dir, "a\n");
    const drop = await store(true).open("alice", undefined);
    const list = readFileSync(join(dir, UID_LIST_FILE), "utf8");
    expect(await drop.commit({ deleted: [], retrieved: [] })).toEqual({ expunged: 0, mailboxName: dir });
    drop.close();
    expect(readFileSync(join(dir, UID_LIST_FILE), "utf8")).toBe(list);
  });
});
