import { describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { refreshIndex, type RefreshOptions } from "../../../../src/store/mbox/index-refresh.ts";
import { parseIndex, serializeIndex, UNKNOWN_FILE, type MboxIndex } from "../../../../src/store/mbox/mbox-index.ts";
import { MAX_UIDL_LENGTH } from "../../../../src/store/mbox/message-identity.ts";
import { scanMboxSync } from "../../../../src/store/mbox/mbox-parser.ts";
import { envelope, mboxEntry, mboxOf, message, tempDir } from "./mbox-test-kit.ts";

const OPTIONS: RefreshOptions = { parse: { quoting: "mboxrd", contentLength: false }, reuseXUidl: true };

async function refresh(path: string, recorded: MboxIndex | undefined, options = OPTIONS) {
  const fd = openSync(path, "r");
  try {
    return await refreshIndex(path, fd, recorded, options, 1_700_000_000_000);
  } finally {
    closeSync(fd);
  }
}

function mboxFile(bytes: Buffer): string {
  const path = join(tempDir("index"), "mbox");
  writeFileSync(path, bytes);
  return path;
}

/** Adds a Status: header to every message, as a mail reader rewriting the file does. */
function markAllRead(path: string): void {
  writeFileSync(path, readFileSync(path, "latin1").replace(/\nMessage-ID: (<[^>]+>)\n/g, "\nMessage-ID: $1\nStatus: RO\n"), "latin1");
}

describe("UIDs and UIDLs", () => {
  test("first sight: UIDs 1..n in file order, UIDL = digest or valid X-UIDL, all unique and RFC-sized", async () => {
    const path = mboxFile(mboxOf([message(1), message(2, "b\n", "X-UIDL: qpopper-uidl-2\n"), message(3, "c\n", "X-UIDL: bad uidl with spaces\n")]));
    const { index, changed } = await refresh(path, undefined);
    expect(changed).toBe(true);
    expect(index.uidValidity).toBe(1_700_000_000);
    expect(index.entries.map((e) => e.uid)).toEqual([1, 2, 3]);
    expect(index.nextUid).toBe(4);
    expect(index.entries[0]!.uidl).toMatch(/^[0-9a-f]{32}$/);
    expect(index.entries[1]!.uidl).toBe("qpopper-uidl-2");
    expect(index.entries[2]!.uidl).toBe(index.entries[2]!.key);
  });

  test("duplicates get the UID as suffix; the first keeps the plain value", async () => {
    const twice = mboxEntry(message(7), envelope(7));
    const path = mboxFile(Buffer.concat([twice, twice, mboxOf([message(8, "x\n", "X-UIDL: dup\n"), message(9, "y\n", "X-UIDL: dup\n")])]));
    const { index } = await refresh(path, undefined);
    const uidls = index.entries.map((e) => e.uidl);
    expect(new Set(uidls).size).toBe(4);
    expect(uidls[1]).toBe(`${uidls[0]}-2`);
    expect(uidls.slice(2)).toEqual(["dup", "dup-4"]);
    expect(uidls.every((u) => u.length <= MAX_UIDL_LENGTH && /^[\x21-\x7e]+$/.test(u))).toBe(true);
  });

  test("an unchanged file is taken from the index as is", async () => {
    const path = mboxFile(mboxOf([message(1), message(2)]));
    const first = await refresh(path, undefined);
    const again = await refresh(path, first.index);
    expect(again.changed).toBe(false);
    expect(again.index).toBe(first.index);
  });

  test("appended mail keeps every old UID and gets the next ones, as a full parse would find", async () => {
    const path = mboxFile(mboxOf([message(1), message(2)]));
    const first = await refresh(path, undefined);
    appendFileSync(path, mboxOf([message(3), message(4)], undefined, 2));
    const grown = await refresh(path, first.index);
    expect(grown.index.entries.map((e) => e.uid)).toEqual([1, 2, 3, 4]);
    expect(grown.index.entries.slice(0, 2).map((e) => e.uidl)).toEqual(first.index.entries.map((e) => e.uidl));
    expect(grown.index.epoch).toBe(first.index.epoch);
    const fd = openSync(path, "r");
    const full = scanMboxSync(fd, 0, readFileSync(path).length, OPTIONS.parse);
    closeSync(fd);
    expect(grown.index.entries.map(({ uid: _u, uidl: _l, ...m }) => m)).toEqual(full.messages);
  });

  test("when the file only grew, only the appended part is parsed", async () => {
    const filler = "x".repeat(70) + "\n";
    const path = mboxFile(mboxOf([message(1, filler.repeat(100)), message(2, filler.repeat(100)), message(3, filler.repeat(100))]));
    const first = await refresh(path, undefined);
    // A same-length edit inside message 2, away from both fingerprinted ends, that a parse would see.
    writeFileSync(path, readFileSync(path, "latin1").replace("Subject: message 2", "Subject: massage 2"), "latin1");
    appendFileSync(path, mboxOf([message(4)], undefined, 3));
    const grown = await refresh(path, first.index);
    expect(grown.index.entries[1]!.key).toBe(first.index.entries[1]!.key);
    expect(grown.index.entries.map((e) => e.uid)).toEqual([1, 2, 3, 4]);
    const reparsed = await refresh(path, undefined);
    expect(reparsed.index.entries[1]!.key).not.toBe(first.index.entries[1]!.key);
  });

  test("a last message without a final newline keeps its UID when the next delivery adds one", async () => {
    const path = mboxFile(Buffer.concat([mboxOf([message(1)]), Buffer.from(`${envelope(2)}\nSubject: cut\n\nno newline`)]));
    const first = await refresh(path, undefined);
    appendFileSync(path, Buffer.concat([Buffer.from("\n\n"), mboxOf([message(3)], undefined, 3)]));
    const after = await refresh(path, first.index);
    expect(after.index.entries.map((e) => e.uid)).toEqual([1, 2, 3]);
    expect(after.index.entries[1]!.wireSize).toBe(first.index.entries[1]!.wireSize);
    expect(after.index.epoch).toBe(first.index.epoch);
  });

  test("a rewrite by a mail reader (headers added, offsets moved) keeps UIDs and UIDLs by identity and starts a new epoch", async () => {
    const path = mboxFile(mboxOf([message(1), message(2), message(3)]));
    const first = await refresh(path, undefined);
    markAllRead(path);
    const after = await refresh(path, first.index);
    expect(after.index.entries.map((e) => [e.uid, e.uidl])).toEqual(first.index.entries.map((e) => [e.uid, e.uidl]));
    expect(after.index.entries[1]!.offset).not.toBe(first.index.entries[1]!.offset);
    expect(after.index.epoch).toBe(first.index.epoch + 1);
  });

  test("a message whose stable headers changed is a new message", async () => {
    const path = mboxFile(mboxOf([message(1), message(2)]));
    const first = await refresh(path, undefined);
    writeFileSync(path, readFileSync(path, "latin1").replace("Subject: message 2", "Subject: edited"), "latin1");
    const after = await refresh(path, first.index);
    expect(after.index.entries.map((e) => e.uid)).toEqual([1, 3]);
    expect(after.index.entries[1]!.uidl).not.toBe(first.index.entries[1]!.uidl);
  });

  test("without its index an mbox gets the same digest UIDLs again", async () => {
    const path = mboxFile(mboxOf([message(1), message(2)]));
    const first = await refresh(path, undefined);
    const fresh = await refresh(path, undefined);
    expect(fresh.index.entries.map((e) => e.uidl)).toEqual(first.index.entries.map((e) => e.uidl));
  });

  test("other parse settings re-measure sizes but keep UIDs and the epoch", async () => {
    const path = mboxFile(mboxOf([message(1, ">From x\n")]));
    const first = await refresh(path, undefined);
    const other = await refresh(path, first.index, { ...OPTIONS, parse: { quoting: "none", contentLength: false } });
    expect(other.changed).toBe(true);
    expect(other.index.entries[0]!.uid).toBe(1);
    expect(other.index.entries[0]!.wireSize).toBe(first.index.entries[0]!.wireSize + 1);
    expect(other.index.epoch).toBe(first.index.epoch);
  });
});

describe("index file", () => {
  test("serialises and parses back to the same index", async () => {
    const path = mboxFile(mboxOf([message(1), message(2, "b\n", "X-UIDL: abc\n")]));
    const { index } = await refresh(path, undefined);
    const parsed = (await parseIndex(await serializeIndex(index)))!;
    expect(parsed.file).toEqual(index.file);
    expect(parsed.entries.map(({ xUidl: _x, ...e }) => e)).toEqual(index.entries.map(({ xUidl: _x, ...e }) => e));
  });

  test("a damaged line forgets the file state but keeps the other entries' UIDs", async () => {
    const path = mboxFile(mboxOf([message(1), message(2)]));
    const { index } = await refresh(path, undefined);
    const lines = (await serializeIndex(index)).split("\n");
    lines[1] = "garbage";
    const parsed = (await parseIndex(lines.join("\n")))!;
    expect(parsed.file).toEqual(UNKNOWN_FILE);
    expect(parsed.entries.map((e) => e.uid)).toEqual([2]);
    const again = await refresh(path, parsed);
    expect(again.index.entries.map((e) => e.uid)).toEqual([3, 2]);
    expect(again.index.entries[1]!.uidl).toBe(index.entries[1]!.uidl);
  });

  test("an unusable header means no index", async () => {
    expect(await parseIndex("")).toBeUndefined();
    expect(await parseIndex("pop3d-mbox-index 2 1 1 0 x 1 1 1 1 1 1\n")).toBeUndefined();
  });
});
