/**
 * The cyrus.index layouts Cyrus 3.x writes (imap/mailbox.h, imap/mailbox.c): minor versions 12–17
 * (2.4 to 3.8), 18, and 19 (3.10, 3.12), which moved the 64-bit fields onto 8-byte boundaries. All
 * fields are big-endian. The header ends in a CRC32 of everything before it (at byte 124 for
 * versions 12/13, 156 otherwise); each record ends in a CRC32 of the bytes before it.
 *
 * Writes patch the fields that change into the bytes as read and recompute the CRC, so anything
 * we do not interpret is kept as Cyrus wrote it.
 */

export const MIN_MINOR_VERSION = 12;
export const MAX_MINOR_VERSION = 19;

// Record system_flags word: IMAP flags in the low half, internal flags in the high half.
export const FLAG_ANSWERED = 1 << 0;
export const FLAG_FLAGGED = 1 << 1;
export const FLAG_DELETED = 1 << 2;
export const FLAG_DRAFT = 1 << 3;
export const FLAG_SEEN = 1 << 4;
export const FLAG_INTERNAL_NEEDS_CLEANUP = 1 << 28;
export const FLAG_INTERNAL_ARCHIVED = 1 << 29;
export const FLAG_INTERNAL_UNLINKED = 1 << 30;
export const FLAG_INTERNAL_EXPUNGED = 2 ** 31;

// Header options word.
export const OPT_POP3_NEW_UIDL = 1 << 0;
export const OPT_MAILBOX_NEEDS_UNLINK = 1 << 29;
export const OPT_MAILBOX_NEEDS_REPACK = 1 << 30;
export const OPT_MAILBOX_DELETED = 2 ** 31;
/** MAILBOX_OPT_VALID: the option bits Cyrus keeps when it writes the header. */
const OPT_VALID_BITS = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | OPT_MAILBOX_NEEDS_UNLINK | OPT_MAILBOX_NEEDS_REPACK | OPT_MAILBOX_DELETED;

export class IndexFormatError extends Error {
  constructor(
    message: string,
    /** A CRC mismatch (IMAP_MAILBOX_CHECKSUM) rather than a malformed file (IMAP_MAILBOX_BADFORMAT). */
    readonly checksum = false,
  ) {
    super(message);
    this.name = "IndexFormatError";
  }
}

type Width = 4 | 8;
interface Field {
  readonly width: Width;
  /** Byte offset for a minor version, or undefined when that version lacks the field. */
  readonly at: (version: number) => number | undefined;
}

const always = (offset: number, width: Width = 4): Field => ({ width, at: () => offset });
const split = (pre19: number | undefined, v19: number, width: Width = 4, since = MIN_MINOR_VERSION): Field => ({
  width,
  at: (v) => (v >= 19 ? v19 : v >= since ? pre19 : undefined),
});

/** Header fields we read or rewrite, by name. */
const HEADER_FIELDS = {
  startOffset: always(12),
  recordSize: always(16),
  numRecords: always(20),
  lastUid: always(28),
  quotaMailboxUsed: always(32, 8),
  pop3LastLogin: always(40),
  uidValidity: always(44),
  deleted: always(48),
  answered: always(52),
  flagged: always(56),
  exists: split(84, 60),
  options: split(60, 64),
  highestModseq: split(68, 72, 8),
  firstExpunged: always(88),
  syncCrcBasic: always(100),
  pop3ShowAfter: split(112, 112, 4, 13),
  quotaAnnotUsed: split(116, 116, 4, 13),
  syncCrcAnnot: split(120, 120, 4, 13),
  unseen: split(124, 124, 4, 14),
  quotaDeletedUsed: split(140, 136, 8, 18),
  quotaExpungedUsed: split(148, 144, 8, 18),
} as const satisfies Record<string, Field>;

export type HeaderField = keyof typeof HEADER_FIELDS;
export type IndexHeaderValues = Record<HeaderField, number>;

export interface IndexHeader extends IndexHeaderValues {
  readonly minorVersion: number;
  /** Header bytes exactly as read (start_offset long), for patching. */
  readonly raw: Buffer;
}

function headerLength(version: number): number {
  return version < 14 ? 128 : 160;
}

function readField(buf: Buffer, field: Field, version: number): number {
  const at = field.at(version);
  if (at === undefined) return 0;
  if (field.width === 4) return buf.readUInt32BE(at);
  const value = buf.readBigUInt64BE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new IndexFormatError(`64-bit index field at ${at} is too large: ${value}`);
  return Number(value);
}

function writeField(buf: Buffer, field: Field, version: number, value: number): void {
  const at = field.at(version);
  if (at === undefined) return;
  if (field.width === 4) buf.writeUInt32BE(value >>> 0, at);
  else buf.writeBigUInt64BE(BigInt(value), at);
}

/** mailbox_buf_to_index_header for the versions we support, including its CRC check. */
export function parseIndexHeader(bytes: Buffer): IndexHeader {
  if (bytes.length < 12) throw new IndexFormatError(`cyrus.index too short (${bytes.length} bytes)`);
  const version = bytes.readUInt32BE(8);
  if (version < MIN_MINOR_VERSION || version > MAX_MINOR_VERSION) {
    throw new IndexFormatError(`unsupported cyrus.index minor version ${version}`);
  }
  const length = headerLength(version);
  if (bytes.length < length) throw new IndexFormatError(`cyrus.index header truncated (${bytes.length} of ${length} bytes)`);
  if (Bun.hash.crc32(bytes.subarray(0, length - 4)) !== bytes.readUInt32BE(length - 4)) {
    throw new IndexFormatError("cyrus.index header CRC mismatch", true);
  }
  const values = {} as IndexHeaderValues;
  for (const [name, field] of Object.entries(HEADER_FIELDS)) values[name as HeaderField] = readField(bytes, field, version);
  if (values.startOffset < length || values.recordSize < recordCrcOffset(version) + 4) {
    throw new IndexFormatError(`cyrus.index has start_offset ${values.startOffset} and record_size ${values.recordSize} for version ${version}`);
  }
  // As Cyrus does on every read: an empty mailbox always gets the new UIDL style (pop3d.c:uidl_msg).
  if (values.exists === 0) values.options = (values.options | OPT_POP3_NEW_UIDL) >>> 0;
  if (values.highestModseq === 0) values.highestModseq = 1;
  return { ...values, minorVersion: version, raw: Buffer.from(bytes.subarray(0, values.startOffset)) };
}

/** The header bytes with `values` patched in and a fresh CRC (mailbox_index_header_to_buf). */
export function serializeIndexHeader(header: IndexHeader, values: IndexHeaderValues): Buffer {
  const buf = Buffer.from(header.raw);
  const version = header.minorVersion;
  for (const [name, field] of Object.entries(HEADER_FIELDS)) {
    let value = values[name as HeaderField];
    if (name === "options") value = (value & OPT_VALID_BITS) >>> 0;
    writeField(buf, field, version, value);
  }
  const length = headerLength(version);
  buf.writeUInt32BE(Bun.hash.crc32(buf.subarray(0, length - 4)), length - 4);
  return buf;
}

/** Where the record CRC sits: after cache_crc, which moved as fields were added. */
export function recordCrcOffset(version: number): number {
  if (version < 13) return 92;
  if (version < 16) return 100;
  return 108;
}

export interface IndexRecord {
  /** 1-based position in the index. */
  readonly recno: number;
  readonly uid: number;
  readonly internalDate: number;
  readonly size: number;
  readonly lastUpdated: number;
  /** IMAP and internal flags (the whole stored word). */
  readonly flags: number;
  readonly userFlags: readonly [number, number, number, number];
  readonly savedate: number;
  readonly guid: Buffer;
  readonly modseq: number;
  /** Conversation id: a 64-bit hash, so kept exact. */
  readonly cid: bigint;
  readonly createdModseq: number;
  /** The record bytes as read, for patching. */
  readonly raw: Buffer;
}

const OFFSET_UID = 0;
const OFFSET_INTERNALDATE = 4;
const OFFSET_SIZE = 12;
const OFFSET_LAST_UPDATED = 28;
const OFFSET_SYSTEM_FLAGS = 32;
const OFFSET_USER_FLAGS = 36;
const OFFSET_SAVEDATE = 52;
const OFFSET_GUID = 60;
const GUID_LENGTH = 20;
const OFFSET_MODSEQ = 80;
const OFFSET_THRID = 88;
const OFFSET_CREATEDMODSEQ = 96;

function u64(buf: Buffer, at: number): number {
  return Number(buf.readBigUInt64BE(at));
}

/** mailbox_buf_to_index_record, with the record CRC check. */
export function parseIndexRecord(bytes: Buffer, version: number, recno: number): IndexRecord {
  const crcAt = recordCrcOffset(version);
  if (Bun.hash.crc32(bytes.subarray(0, crcAt)) !== bytes.readUInt32BE(crcAt)) {
    throw new IndexFormatError(`cyrus.index record ${recno} CRC mismatch`, true);
  }
  return {
    recno,
    uid: bytes.readUInt32BE(OFFSET_UID),
    internalDate: bytes.readUInt32BE(OFFSET_INTERNALDATE),
    size: bytes.readUInt32BE(OFFSET_SIZE),
    lastUpdated: bytes.readUInt32BE(OFFSET_LAST_UPDATED),
    flags: bytes.readUInt32BE(OFFSET_SYSTEM_FLAGS),
    userFlags: [0, 1, 2, 3].map((i) => bytes.readUInt32BE(OFFSET_USER_FLAGS + 4 * i)) as [number, number, number, number],
    savedate: version >= 15 ? bytes.readUInt32BE(OFFSET_SAVEDATE) : 0,
    guid: Buffer.from(bytes.subarray(OFFSET_GUID, OFFSET_GUID + GUID_LENGTH)),
    modseq: u64(bytes, OFFSET_MODSEQ),
    cid: version >= 13 ? bytes.readBigUInt64BE(OFFSET_THRID) : 0n,
    createdModseq: version >= 16 ? u64(bytes, OFFSET_CREATEDMODSEQ) : 0,
    raw: Buffer.from(bytes),
  };
}

export interface RecordChange {
  readonly flags: number;
  readonly modseq: number;
  readonly lastUpdated: number;
}

/** The record bytes with new flags, modseq and last_updated and a fresh CRC (mailbox_index_record_to_buf). */
export function serializeIndexRecord(record: IndexRecord, version: number, change: RecordChange): Buffer {
  const buf = Buffer.from(record.raw);
  buf.writeUInt32BE(change.lastUpdated >>> 0, OFFSET_LAST_UPDATED);
  buf.writeUInt32BE(change.flags >>> 0, OFFSET_SYSTEM_FLAGS);
  buf.writeBigUInt64BE(BigInt(change.modseq), OFFSET_MODSEQ);
  const crcAt = recordCrcOffset(version);
  buf.writeUInt32BE(Bun.hash.crc32(buf.subarray(0, crcAt)), crcAt);
  return buf;
}

/** The record with a change applied, as the in-memory view after the write. */
export function applyRecordChange(record: IndexRecord, version: number, change: RecordChange): IndexRecord {
  const raw = serializeIndexRecord(record, version, change);
  return { ...record, flags: change.flags >>> 0, modseq: change.modseq, lastUpdated: change.lastUpdated, raw };
}
