import { describe, expect, test } from "bun:test";
import { StoreError } from "../../../src/store/maildrop.ts";
import { MemoryStore } from "../../support/memory-store.ts";

function readAll(source: { read(into: Buffer): number; close(): void }): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(64);
  for (let n; (n = source.read(buffer)) > 0; ) chunks.push(Buffer.from(buffer.subarray(0, n)));
  source.close();
  return Buffer.concat(chunks).toString("latin1");
}

describe("MemoryStore (test support)", () => {
  test("snapshots with CRLF wire sizes, uids from 1, and chunked reads", async () => {
    const store = new MemoryStore({ alice: { uidValidity: 42, messages: ["a\nb\n", new Uint8Array([120, 13, 10]), "tail"] } }, { readChunk: 2 });
    const drop = await store.open("alice", undefined);
    expect(drop.uidValidity).toBe(42);
    expect(drop.newUidl).toBe(true);
    expect(drop.messages).toEqual([
      { uid: 1, size: 6 },
      { uid: 2, size: 3 },
      { uid: 3, size: 6 },
    ]);
    const source = drop.open(0);
    expect(source.read(Buffer.alloc(10))).toBe(2);
    expect(readAll(source)).toBe("b\n");
    drop.close();
    expect(store.closes).toBe(1);
  });

  test("records commits, applies deletes to later sessions, and never touches later deliveries", async () => {
    const store = new MemoryStore(new Map([["bob", { uidValidity: 1, messages: ["one\n", "two\n"] }]]));
    const drop = await store.open("bob", undefined);
    const late = store.deliver("bob", "three\n");
    expect(drop.messages.length).toBe(2);
    const result = await drop.commit({ deleted: [0], retrieved: [1] });
    expect(result).toEqual({ expunged: 1, mailboxName: "bob" });
    expect(store.commits).toEqual([{ user: "bob", folder: undefined, deleted: [0], retrieved: [1], expunged: 1 }]);
    expect(store.uids("bob")).toEqual([2, late]);
    const next = await store.open("bob", undefined);
    expect(readAll(next.open(1))).toBe("three\n");
  });

  test("a vanished message fails to open with the store's error, and its delete counts for nothing", async () => {
    const store = new MemoryStore({ carol: { uidValidity: 1, messages: ["x\n", "y\n"] } });
    const drop = await store.open("carol", undefined);
    store.vanish("carol", 0);
    expect(() => drop.open(0)).toThrow(new StoreError("perm", "Could not read message file"));
    expect(readAll(drop.open(1))).toBe("y\n");
    expect((await drop.commit({ deleted: [0], retrieved: [] })).expunged).toBe(0);
  });

  test("unknown users and injected failures", async () => {
    const store = new MemoryStore({});
    await expect(store.open("nobody", undefined)).rejects.toThrow("Mailbox does not exist");
    store.openError = new StoreError("perm", "System I/O error");
    await expect(store.open("nobody", "sub")).rejects.toThrow("System I/O error");
    expect(store.opens).toEqual(["nobody", "nobody+sub"]);
  });
});
