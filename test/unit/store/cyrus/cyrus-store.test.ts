import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, cpSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError, type Maildrop } from "../../../../src/store/maildrop.ts";
import { CyrusStore } from "../../../../src/store/cyrus/cyrus-store.ts";
import type { CyrusMaildrop } from "../../../../src/store/cyrus/cyrus-maildrop.ts";
import type { CyrusStoreOptions } from "../../../../src/store/cyrus/cyrus-settings.ts";
import { IndexFile } from "../../../../src/store/cyrus/index-file.ts";
import { FLAG_DELETED, FLAG_INTERNAL_EXPUNGED, FLAG_SEEN } from "../../../../src/store/cyrus/index-format.ts";
import { CAROL_ENTRY, CAROL_SIZES, CAROL_UIDVALIDITY, copySpool, type SpoolCopy } from "./store-fixture.ts";
import { recalculated } from "./recalc.ts";

let spool: SpoolCopy;
afterEach(() => spool?.remove());

const NOW = 1_800_000_000;

function store(overrides: Partial<CyrusStoreOptions> = {}): CyrusStore {
  return new CyrusStore(spool.options({ now: () => NOW, ...overrides }));
}

async function storeError(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error("expected a StoreError");
}

function readAll(drop: Maildrop, i: number): Buffer {
  const source = drop.open(i);
  const parts: Buffer[] = [];
  const chunk = Buffer.alloc(100);
  for (let n = source.read(chunk); n > 0; n = source.read(chunk)) parts.push(Buffer.from(chunk.subarray(0, n)));
  source.close();
  return Buffer.concat(parts);
}

function indexFile(): IndexFile {
  const fd = openSync(join(spool.carolDir, "cyrus.index"), "r");
  try {
    return IndexFile.read(fd);
  } finally {
    closeSync(fd);
  }
}

const headerPath = (): string => join(spool.carolDir, "cyrus.header");

describe("opening a Cyrus INBOX", () => {
  test("lists the unexpunged records in UID order with the index sizes", async () => {
    spool = copySpool();
    const drop = await store().open("carol", undefined);
    expect(drop.messages.map((m) => [m.uid, m.size])).toEqual(CAROL_SIZES.map((s, i) => [i + 1, s]));
    expect(drop.uidValidity).toBe(CAROL_UIDVALIDITY);
    expect(drop.newUidl).toBe(true);
    expect(readAll(drop, 2)).toEqual(readFileSync(join(spool.carolDir, "3.")));
    drop.close();
  });

  test("the snapshot is typed arrays: well under 150 bytes a message", async () => {
    spool = copySpool();
    const drop = await store().open("carol", undefined);
    expect((drop as CyrusMaildrop).snapshotBytes / drop.messages.length).toBeLessThanOrEqual(150);
    drop.close();
  });

  test("popuseimapflags hides \\Deleted messages", async () => {
    spool = copySpool();
    const drop = await store({ popUseImapFlags: true }).open("carol", undefined);
    expect(drop.messages.map((m) => m.uid)).toEqual([1, 2, 4]);
  });

  test("no mailbox is a temporary 'Mailbox does not exist'", async () => {
    spool = copySpool();
    const error = await storeError(store().open("nobody", undefined));
    expect([error.kind, error.message]).toEqual(["temp", "Mailbox does not exist"]);
    const sub = await storeError(store().open("carol", "Sent"));
    expect([sub.kind, sub.message]).toEqual(["temp", "Mailbox does not exist"]);
  });

  test("an entry whose spool is missing is a permanent I/O error", async () => {
    spool = copySpool();
    const error = await storeError(store().open("alice", undefined));
    expect([error.kind, error.message]).toEqual(["perm", "System I/O error"]);
  });

  test("reserved, deleted and remote entries answer as Cyrus does", async () => {
    spool = copySpool();
    const cases: Array<[string, string]> = [
      ["%(T ez I x P default)", "Mailbox is currently reserved"],
      ["%(T ed I x P default)", "Mailbox does not exist"],
      ["%(T ei I x P default)", "Mailbox does not exist"],
      ["%(T em I x P default)", "Mailbox has been moved to another server"],
      ["%(T e I x P default S other.example)", "Mailbox has been moved to another server"],
    ];
    for (const [value, message] of cases) {
      spool.mailboxes({ "Nuser\x1fcarol": value });
      const error = await storeError(store().open("carol", undefined));
      expect([error.kind, error.message]).toEqual(["temp", message]);
    }
  });

  test("popuseacl needs the r right; without l the mailbox does not exist", async () => {
    spool = copySpool();
    spool.mailboxes({ "Nuser\x1fcarol": CAROL_ENTRY.replace("carol lrswipkxtecdan", "carol lswipkxtecdan") });
    expect((await storeError(store({ popUseAcl: true }).open("carol", undefined))).message).toBe("Permission denied");
    spool.mailboxes({ "Nuser\x1fcarol": CAROL_ENTRY.replace("carol lrswipkxtecdan", "carol swipkxtecdan") });
    expect((await storeError(store({ popUseAcl: true }).open("carol", undefined))).message).toBe("Mailbox does not exist");
    spool.mailboxes({ "Nuser\x1fcarol": CAROL_ENTRY.replace("carol lrswipkxtecdan", "anyone lr carol lrswipkxtecdan -carol r") });
    expect((await storeError(store({ popUseAcl: true }).open("carol", undefined))).message).toBe("Permission denied");
    spool.mailboxes({ "Nuser\x1fcarol": CAROL_ENTRY.replace("carol lrswipkxtecdan", "anyone lr") });
    const readOnly = (await store({ popUseAcl: true }).open("carol", undefined)) as Maildrop & { mayDelete: boolean };
    expect(readOnly.messages.length).toBe(4);
    expect(readOnly.mayDelete).toBe(false);
    spool.mailboxes({ "Nuser\x1fcarol": CAROL_ENTRY.replace("carol lrswipkxtecdan", "anyone lrd") });
    expect(((await store({ popUseAcl: true }).open("carol", undefined)) as Maildrop & { mayDelete: boolean }).mayDelete).toBe(true);
  });

  test("a mailboxes.db from Cyrus 3.0–3.4 (keys are internal names) finds the by-name spool", async () => {
    spool = copySpool();
    const legacyDir = join(spool.dir, "spool/user/carol");
    cpSync(spool.carolDir, legacyDir, { recursive: true });
    spool.mailboxes({ "user.carol": `%(A %(carol lrswipkxtecdan) I ${"4dt9l97fkd57frqfdve9esg5"} P default M 1)` });
    const drop = await store().open("carol", undefined);
    expect(drop.messages.length).toBe(4);
    expect(readAll(drop, 0)).toEqual(readFileSync(join(legacyDir, "1.")));
  });

  test("a record with a bad CRC: [SYS/PERM] corruption, nothing written", async () => {
    spool = copySpool();
    const bytes = spool.index();
    bytes[160 + 112 + 12] ^= 1;
    writeFileSync(join(spool.carolDir, "cyrus.index"), bytes);
    const error = await storeError(store().open("carol", undefined));
    expect([error.kind, error.message]).toEqual(["perm", "Mailbox format corruption detected"]);
    expect(spool.index()).toEqual(bytes);
  });

  test("popminpoll refuses a login too soon after the last QUIT", async () => {
    spool = copySpool();
    const first = await store({ popMinPollSeconds: 60 }).open("carol", undefined);
    await first.commit({ deleted: [], retrieved: [] });
    const error = await storeError(new CyrusStore(spool.options({ popMinPollSeconds: 60, now: () => NOW + 59 })).open("carol", undefined));
    expect(error.kind).toBe("login-delay");
    const later = await new CyrusStore(spool.options({ popMinPollSeconds: 60, now: () => NOW + 60 })).open("carol", undefined);
    expect(later.messages.length).toBe(4);
  });
});

describe("QUIT on a Cyrus INBOX", () => {
  test("expunges, sets \\Seen, and leaves a header Cyrus would recompute identically", async () => {
    spool = copySpool();
    const before = indexFile();
    const drop = await store({ popUseImapFlags: true }).open("carol", undefined);
    const result = await drop.commit({ deleted: [1], retrieved: [0] });
    expect(result).toEqual({ expunged: 1, mailboxName: "user.carol" });

    const after = indexFile();
    const flags = [1, 2, 3, 4].map((recno) => after.record(recno).flags);
    expect((flags[0]! & FLAG_SEEN) !== 0).toBe(true);
    expect((flags[1]! & (FLAG_DELETED | FLAG_INTERNAL_EXPUNGED)) >>> 0).toBe((FLAG_DELETED | FLAG_INTERNAL_EXPUNGED) >>> 0);
    expect(after.record(2).modseq).toBe(before.header.highestModseq + 1);
    expect(after.record(1).modseq).toBe(before.header.highestModseq + 1);
    expect(after.record(2).lastUpdated).toBe(NOW);
    expect(after.record(3).modseq).toBe(before.record(3).modseq);
    expect(after.header.highestModseq).toBe(before.header.highestModseq + 1);
    expect(after.header.pop3LastLogin).toBe(NOW);
    expect(after.header.firstExpunged).toBe(NOW);
    // The untouched fixture shows the yardstick agrees with Cyrus's own header.
    expect(before.header).toMatchObject(recalculated(before, headerPath()));
    expect(after.header).toMatchObject(recalculated(after, headerPath()));

    const quota = readFileSync(join(spool.dir, "conf/quota/c/user.carol"), "utf8");
    expect(quota).toBe(`%(S (${2593 - CAROL_SIZES[1]!} 5000) M (3) AS (0) NF (1) MODSEQ 7)\n`);
    expect((await store().open("carol", undefined)).messages.map((m) => m.uid)).toEqual([1, 3, 4]);
  });

  test("a message expunged by another session is not expunged twice", async () => {
    spool = copySpool();
    const a = await store().open("carol", undefined);
    const b = await store().open("carol", undefined);
    expect((await a.commit({ deleted: [1], retrieved: [] })).expunged).toBe(1);
    expect((await b.commit({ deleted: [1, 3], retrieved: [] })).expunged).toBe(1);
    const quota = readFileSync(join(spool.dir, "conf/quota/c/user.carol"), "utf8");
    expect(quota).toStartWith(`%(S (${2593 - CAROL_SIZES[1]! - CAROL_SIZES[3]!} 5000) M (2)`);
    const after = indexFile();
    expect(after.header).toMatchObject(recalculated(after, headerPath()));
  });

  test("a mailbox recreated since login is left alone", async () => {
    spool = copySpool();
    const drop = await store().open("carol", undefined);
    const bytes = spool.index();
    bytes.writeUInt32BE(CAROL_UIDVALIDITY + 1, 44);
    bytes.writeUInt32BE(Bun.hash.crc32(bytes.subarray(0, 156)), 156);
    writeFileSync(join(spool.carolDir, "cyrus.index"), bytes);
    const error = await storeError(drop.commit({ deleted: [0], retrieved: [] }));
    expect(error.kind).toBe("perm");
    expect(spool.index()).toEqual(bytes);
  });

  test("sync_log gets one MAILBOX line per QUIT", async () => {
    spool = copySpool();
    const drop = await store({ syncLogChannels: ["", "squatter"] }).open("carol", undefined);
    await drop.commit({ deleted: [], retrieved: [] });
    expect(readFileSync(join(spool.dir, "conf/sync/log"), "utf8")).toBe("MAILBOX user.carol\n");
    expect(readFileSync(join(spool.dir, "conf/sync/squatter/log"), "utf8")).toBe("MAILBOX user.carol\n");
  });

  test("with conversations on, nothing is written", async () => {
    spool = copySpool();
    const before = spool.index();
    const drop = await store({ conversations: true }).open("carol", undefined);
    expect((await storeError(drop.commit({ deleted: [0], retrieved: [] }))).kind).toBe("perm");
    expect(spool.index()).toEqual(before);
  });
});
