import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { annotationCrc, isVirtualAnnotation, readMessageAnnotations } from "../../../../src/store/cyrus/annotations.ts";
import { IndexFile } from "../../../../src/store/cyrus/index-file.ts";
import {
  FLAG_DELETED,
  FLAG_INTERNAL_EXPUNGED,
  FLAG_INTERNAL_NEEDS_CLEANUP,
  FLAG_INTERNAL_UNLINKED,
  IndexFormatError,
  OPT_MAILBOX_NEEDS_REPACK,
  OPT_MAILBOX_NEEDS_UNLINK,
  parseIndexHeader,
  serializeIndexHeader,
  serializeIndexRecord,
} from "../../../../src/store/cyrus/index-format.ts";
import { nextLastLogin, planIndexUpdate, type UpdateRequest } from "../../../../src/store/cyrus/index-update.ts";
import { parseMailboxHeader } from "../../../../src/store/cyrus/mailbox-header.ts";
import { recalculated } from "./recalc.ts";
import { CAROL_UNIQUEID, FIXTURE } from "./store-fixture.ts";

/** Index files written by Cyrus 3.6.1, the older versions through its `reconstruct -V`. */
const FIXTURES = {
  13: join(import.meta.dir, "fixtures/index-v13"),
  16: join(import.meta.dir, "fixtures/index-v16"),
  17: join(FIXTURE, "spool/uuid/4/d", CAROL_UNIQUEID),
} as const;

function load(dir: string, bytes?: Buffer): IndexFile {
  if (bytes !== undefined) return IndexFile.fromBytes(bytes);
  const fd = openSync(join(dir, "cyrus.index"), "r");
  try {
    return IndexFile.read(fd);
  } finally {
    closeSync(fd);
  }
}

/** synccrcs.annot also covers annotations kept in cyrus.annotations (savedate etc. before v15/16). */
async function expectedHeader(dir: string, index: IndexFile, owner: string) {
  const base = recalculated(index, join(dir, "cyrus.header"));
  const live: number[] = [];
  for (let recno = 1; recno <= index.count; recno++) if (!index.isExpungedAt(recno)) live.push(index.uidAt(recno));
  const annotations = await readMessageAnnotations(join(dir, "cyrus.annotations"), live, owner);
  let annot = base.syncCrcAnnot;
  let used = 0;
  for (const [uid, list] of annotations) {
    for (const a of list) {
      if (!isVirtualAnnotation(a.entry, index.header.minorVersion)) annot ^= annotationCrc(uid, a);
      used += a.value.length;
    }
  }
  const { unseen, ...rest } = base;
  // Version 13 has no unseen count in its header.
  return { ...rest, ...(index.header.minorVersion >= 14 ? { unseen } : {}), syncCrcAnnot: annot >>> 0, quotaAnnotUsed: used };
}

const request = (overrides: Partial<UpdateRequest>): UpdateRequest => ({
  deletedUids: [],
  seenUids: [],
  userFlags: [],
  annotations: new Map(),
  expungeMode: "delayed",
  loginTime: 1_800_000_000,
  now: 1_800_000_100,
  popMinPollSeconds: 0,
  popPollPadding: 1,
  ...overrides,
});

describe("index layouts written by Cyrus", () => {
  for (const [version, dir] of Object.entries(FIXTURES)) {
    test(`version ${version}: header counts and sync CRCs recompute to what Cyrus stored`, async () => {
      const index = load(dir);
      expect(index.header.minorVersion).toBe(Number(version));
      expect(index.header).toMatchObject(await expectedHeader(dir, index, "owner"));
    });

    test(`version ${version}: unchanged fields serialize to the same bytes`, () => {
      const index = load(dir);
      expect(serializeIndexHeader(index.header, index.header)).toEqual(index.header.raw);
      const record = index.record(1);
      expect(serializeIndexRecord(record, index.header.minorVersion, record)).toEqual(record.raw);
    });

    test(`version ${version}: an expunge leaves a header that recomputes identically`, async () => {
      const index = load(dir);
      const userFlags = parseMailboxHeader(readFileSync(join(dir, "cyrus.header"))).userFlags;
      const annotations = await readMessageAnnotations(join(dir, "cyrus.annotations"), [1, 2], "owner");
      const update = planIndexUpdate(index, request({ deletedUids: [1], seenUids: [2], userFlags, annotations }));
      expect(update.expunged).toBe(1);
      const bytes = Buffer.from(readFileSync(join(dir, "cyrus.index")));
      update.header.copy(bytes, 0);
      for (const r of update.records) r.bytes.copy(bytes, index.header.startOffset + (r.recno - 1) * index.header.recordSize);
      const after = load(dir, bytes);
      expect(after.header).toMatchObject(await expectedHeader(dir, after, "owner"));
      expect(update.quota.messages).toBe(-1);
      expect(update.quota.storage).toBe(-index.record(1).size);
    });
  }

  test("a header CRC mismatch is corruption", () => {
    const bytes = Buffer.from(readFileSync(join(FIXTURES[17], "cyrus.index")));
    bytes[45] ^= 1;
    expect(() => parseIndexHeader(bytes)).toThrow(IndexFormatError);
    try {
      parseIndexHeader(bytes);
    } catch (error) {
      expect((error as IndexFormatError).checksum).toBe(true);
    }
  });

  test("unknown minor versions are refused, not guessed", () => {
    const bytes = Buffer.from(readFileSync(join(FIXTURES[17], "cyrus.index")));
    bytes.writeUInt32BE(20, 8);
    expect(() => parseIndexHeader(bytes)).toThrow(/unsupported cyrus.index minor version 20/);
  });
});

/** The 3.10+ layout (version 19): the v17 values moved to their new offsets. */
function asVersion19(v17: Buffer): Buffer {
  const out = Buffer.from(v17);
  out.writeUInt32BE(19, 8);
  out.writeUInt32BE(v17.readUInt32BE(84), 60); // exists
  out.writeUInt32BE(v17.readUInt32BE(60), 64); // options
  out.writeUInt32BE(v17.readUInt32BE(64), 68); // leaked cache
  out.writeBigUInt64BE(v17.readBigUInt64BE(68), 72); // highestmodseq
  out.writeBigUInt64BE(v17.readBigUInt64BE(76), 80); // deletedmodseq
  out.writeBigUInt64BE(v17.readBigUInt64BE(128), 128); // createdmodseq
  out.writeBigUInt64BE(0n, 136); // quota_deleted_used
  out.writeBigUInt64BE(0n, 144); // quota_expunged_used
  out.writeUInt32BE(v17.readUInt32BE(136), 152); // changes_epoch
  out.writeUInt32BE(Bun.hash.crc32(out.subarray(0, 156)), 156);
  return out;
}

describe("version 19 (Cyrus 3.10 and 3.12)", () => {
  test("reads the same values from the rearranged header and tracks deleted/expunged bytes", () => {
    const v17 = readFileSync(join(FIXTURES[17], "cyrus.index"));
    const old = load(FIXTURES[17]);
    const index = IndexFile.fromBytes(asVersion19(v17));
    for (const field of ["exists", "options", "highestModseq", "uidValidity", "quotaMailboxUsed", "syncCrcBasic", "unseen"] as const) {
      expect(index.header[field]).toBe(old.header[field]);
    }
    const update = planIndexUpdate(index, request({ deletedUids: [2] }));
    const after = parseIndexHeader(update.header);
    expect(after.quotaExpungedUsed).toBe(index.record(2).size);
    expect(after.exists).toBe(index.header.exists - 1);
    expect(after.highestModseq).toBe(index.header.highestModseq + 1);
  });
});

describe("expunge modes and the login record", () => {
  test("immediate marks records unlinked and asks for unlink and repack; semidelayed only unlink", () => {
    const index = load(FIXTURES[17]);
    const immediate = planIndexUpdate(index, request({ deletedUids: [1], expungeMode: "immediate" }));
    const flags = immediate.records[0]!.bytes.readUInt32BE(32);
    const want = (FLAG_DELETED | FLAG_INTERNAL_EXPUNGED | FLAG_INTERNAL_UNLINKED | FLAG_INTERNAL_NEEDS_CLEANUP) >>> 0;
    expect((flags & want) >>> 0).toBe(want);
    expect((parseIndexHeader(immediate.header).options & (OPT_MAILBOX_NEEDS_UNLINK | OPT_MAILBOX_NEEDS_REPACK)) >>> 0).toBe(
      (OPT_MAILBOX_NEEDS_UNLINK | OPT_MAILBOX_NEEDS_REPACK) >>> 0,
    );
    const semi = parseIndexHeader(planIndexUpdate(index, request({ deletedUids: [1], expungeMode: "semidelayed" })).header);
    expect((semi.options & OPT_MAILBOX_NEEDS_REPACK) >>> 0).toBe(0);
    expect((semi.options & OPT_MAILBOX_NEEDS_UNLINK) >>> 0).toBe(OPT_MAILBOX_NEEDS_UNLINK);
  });

  test("a QUIT with nothing to do only records the login", () => {
    const index = load(FIXTURES[17]);
    const update = planIndexUpdate(index, request({ deletedUids: [99] }));
    expect(update.records).toEqual([]);
    const header = parseIndexHeader(update.header);
    expect(header.pop3LastLogin).toBe(1_800_000_000);
    expect(header.highestModseq).toBe(index.header.highestModseq);
  });

  test("poppollpadding allows bursts refilled one per popminpoll (pop3d.c:openinbox)", () => {
    const login = 10_000;
    expect(nextLastLogin(9_990, login, 60, 1)).toBe(login);
    expect(nextLastLogin(0, login, 60, 3)).toBe(login - 180 + 60);
    expect(nextLastLogin(login - 100, login, 60, 3)).toBe(login - 40);
    expect(nextLastLogin(500, login, 0, 3)).toBe(login);
  });
});
