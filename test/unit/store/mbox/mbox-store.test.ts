import { describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, chownSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError, type Maildrop } from "../../../../src/store/maildrop.ts";
import { MboxStore, type MboxStoreOptions } from "../../../../src/store/mbox/index.ts";
import type { MboxMaildrop } from "../../../../src/store/mbox/mbox-maildrop.ts";
import { indexPath } from "../../../../src/store/mbox/mbox-index.ts";
import { rewriteTempPath } from "../../../../src/store/mbox/mbox-rewrite.ts";
import { mboxOf, message, readSource, storedBytes, tempDir, wireBytes } from "./mbox-test-kit.ts";

function setup(messages: Buffer[], options: Partial<MboxStoreOptions> = {}): { store: MboxStore; path: string; dir: string } {
  const dir = tempDir("store");
  const path = join(dir, "alice");
  writeFileSync(path, mboxOf(messages));
  return { store: new MboxStore({ pathTemplate: join(dir, "%u"), lockTimeoutMs: 2000, ...options }), path, dir };
}

const originals = (n: number, from = 1) => Array.from({ length: n }, (_, i) => message(from + i));

async function commitDeleting(drop: Maildrop, deleted: number[]) {
  try {
    return await drop.commit({ deleted, retrieved: [] });
  } finally {
    drop.close();
  }
}

describe("snapshot", () => {
  test("lists every message with its wire size and retrieves it unquoted", async () => {
    const msgs = [message(1, "From the top\n>From quoted\n"), message(2, "no final newline"), message(3)];
    const { store } = setup(msgs);
    const drop = await store.open("alice", undefined);
    expect(drop.messages.map((m) => m.size)).toEqual(msgs.map((m) => wireBytes(m).length));
    expect(drop.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
    msgs.forEach((m, i) => expect(readSource(drop.open(i)).equals(storedBytes(m))).toBe(true));
    drop.close();
  });

  test("UIDLs are the same at every login; uidls 'uid' leaves them to uidl_format", async () => {
    const { store, dir } = setup(originals(3));
    const a = await store.open("alice", undefined);
    const b = await store.open("alice", undefined);
    expect(b.messages.map((m) => m.uidl)).toEqual(a.messages.map((m) => m.uidl));
    expect(b.uidValidity).toBe(a.uidValidity);
    a.close();
    b.close();
    const byUid = await new MboxStore({ pathTemplate: join(dir, "%u"), uidls: "uid" }).open("alice", undefined);
    expect(byUid.messages.map((m) => m.uidl)).toEqual([undefined, undefined, undefined]);
    byUid.close();
  });

  test("no mbox file is an empty maildrop; no directory is 'Mailbox does not exist'", async () => {
    const dir = tempDir("store");
    const drop = await new MboxStore({ pathTemplate: join(dir, "%u") }).open("bob", undefined);
    expect(drop.messages.length).toBe(0);
    expect((await drop.commit({ deleted: [], retrieved: [] })).expunged).toBe(0);
    drop.close();
    const missing = new MboxStore({ pathTemplate: join(dir, "nowhere", "%u") }).open("bob", undefined);
    await expect(missing).rejects.toMatchObject({ kind: "temp", message: "Mailbox does not exist" });
  });

  test("a file that is not an mbox is refused and left alone", async () => {
    const dir = tempDir("store");
    writeFileSync(join(dir, "alice"), "this is not\nan mbox\n");
    const open = new MboxStore({ pathTemplate: join(dir, "%u") }).open("alice", undefined);
    await expect(open).rejects.toMatchObject({ kind: "perm", message: "Mailbox has an invalid format" });
    expect(readFileSync(join(dir, "alice"), "latin1")).toBe("this is not\nan mbox\n");
  });

  test("folders do not exist in the mbox store", async () => {
    const { store } = setup(originals(1));
    await expect(store.open("alice", "work")).rejects.toBeInstanceOf(StoreError);
  });

  test("the index lives beside the mbox; a crashed rewrite's temp file is removed at the next login", async () => {
    const { store, path } = setup(originals(2));
    writeFileSync(rewriteTempPath(path), "half a rewrite");
    const drop = await store.open("alice", undefined);
    drop.close();
    expect(existsSync(indexPath(path))).toBe(true);
    expect(existsSync(rewriteTempPath(path))).toBe(false);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});

describe("QUIT commit", () => {
  test("removes exactly the deleted messages; the rest stays byte for byte", async () => {
    const msgs = originals(5);
    const { store, path } = setup(msgs);
    const result = await commitDeleting(await store.open("alice", undefined), [0, 2, 4]);
    expect(result.expunged).toBe(3);
    expect(result.mailboxName).toBe(path);
    expect(readFileSync(path).equals(Buffer.concat([mboxOf([msgs[1]!], undefined, 1), mboxOf([msgs[3]!], undefined, 3)]))).toBe(true);
    const next = await store.open("alice", undefined);
    expect(next.messages.map((m) => m.uid)).toEqual([2, 4]);
    next.close();
  });

  test("mail appended during the session survives and keeps its place", async () => {
    const { store, path } = setup(originals(3));
    const drop = await store.open("alice", undefined);
    appendFileSync(path, mboxOf([message(10), message(11)], undefined, 10));
    expect((await commitDeleting(drop, [0, 1, 2])).expunged).toBe(3);
    expect(readFileSync(path).equals(mboxOf([message(10), message(11)], undefined, 10))).toBe(true);
    const next = await store.open("alice", undefined);
    expect(next.messages.map((m) => m.uid)).toEqual([4, 5]);
    next.close();
  });

  test("two sessions deleting different messages both get their way; the earlier snapshot still reads its messages", async () => {
    const msgs = originals(4);
    const { store, path } = setup(msgs);
    const a = await store.open("alice", undefined);
    const b = await store.open("alice", undefined);
    expect((await commitDeleting(a, [0])).expunged).toBe(1);
    expect(readSource(b.open(3)).equals(msgs[3]!)).toBe(true);
    expect((await commitDeleting(b, [0, 2])).expunged).toBe(1);
    expect(readFileSync(path).equals(Buffer.concat([mboxOf([msgs[1]!], undefined, 1), mboxOf([msgs[3]!], undefined, 3)]))).toBe(true);
  });

  test("a rewrite by another program during the session aborts the commit and keeps everything", async () => {
    const { store, path } = setup(originals(3));
    const drop = await store.open("alice", undefined);
    const rewritten = readFileSync(path, "latin1").replace(/\nMessage-ID: (<[^>]+>)\n/g, "\nMessage-ID: $1\nStatus: RO\n");
    writeFileSync(path, rewritten, "latin1");
    await expect(commitDeleting(drop, [1])).rejects.toMatchObject({ kind: "perm" });
    expect(readFileSync(path, "latin1")).toBe(rewritten);
  });

  test("the new file keeps the mailbox's mode and owner", async () => {
    const { store, path } = setup(originals(2));
    chmodSync(path, 0o640);
    chownSync(path, 1234, 2345);
    await commitDeleting(await store.open("alice", undefined), [0]);
    const st = statSync(path);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 1234, 2345]);
  });

  test("no deletions means no rewrite", async () => {
    const { store, path } = setup(originals(2));
    const before = statSync(path, { bigint: true });
    expect((await commitDeleting(await store.open("alice", undefined), [])).expunged).toBe(0);
    const after = statSync(path, { bigint: true });
    expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
  });

  test("a message RETR'd after an in-place change by another program is refused rather than sent wrong", async () => {
    const { store, path } = setup(originals(2));
    const drop = await store.open("alice", undefined);
    const bytes = readFileSync(path);
    const second = bytes.indexOf("\n\nFrom ") + 2;
    bytes.write("X", second + 5);
    writeFileSync(path, bytes);
    expect(() => drop.open(1)).toThrow(StoreError);
    drop.close();
  });
});

describe("snapshot size", () => {
  test("a session keeps at most 150 bytes a message, UIDLs included, and the same UIDLs as the index", async () => {
    const { store } = setup(originals(2_000));
    const first = await store.open("alice", undefined);
    const again = await store.open("alice", undefined);
    try {
      expect(first.messages.length).toBe(2_000);
      expect((first as MboxMaildrop).snapshotBytes / 2_000).toBeLessThanOrEqual(150);
      expect(again.messages.map((m) => [m.uid, m.size, m.uidl])).toEqual(first.messages.map((m) => [m.uid, m.size, m.uidl]));
      expect(new Set(first.messages.map((m) => m.uidl)).size).toBe(2_000);
    } finally {
      first.close();
      again.close();
    }
  }, 60_000);
});
