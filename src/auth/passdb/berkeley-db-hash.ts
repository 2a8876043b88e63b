/**
 * A read-only reader of Berkeley DB hash databases (the on-disk format of BDB 4.x–5.x, hash version
 * 8–10), enough for the sasldb2 files that Debian's saslpasswd2 writes: the metadata page, every
 * bucket's chain of hash pages, and overflow pages for items too big for a bucket page.
 *
 * Layout (db_page.h): every page starts with a 26-byte header — LSN (8), pgno (4), prev_pgno (4),
 * next_pgno (4), entries (2), hf_offset (2), level (1), type (1) — followed on hash pages by `entries`
 * 16-bit item offsets. Items alternate key, data; item i spans from its offset to the previous item's
 * offset (the page end for item 0). An item's first byte is its type. Integers are in the byte order
 * of the machine that wrote the file, which the metadata's magic number reveals.
 */

export class BerkeleyDbFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BerkeleyDbFormatError";
  }
}

const HASH_MAGIC = 0x061561;
/** Hash format versions of BDB 4.1 (8) through 5.3/6.x (9, 10); the page layout is the same. */
const SUPPORTED_VERSIONS = new Set([8, 9, 10]);
const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 65536;
const PAGE_HEADER_BYTES = 26;
/** DBMETA flag: pages carry checksums, which move the page layout; saslpasswd2 never sets it. */
const META_CHECKSUM = 0x01;
/** The spares table (NCACHED = 32 entries) maps bucket numbers to page numbers. */
const SPARES_OFFSET = 96;
const SPARES_COUNT = 32;

const enum PageType {
  Invalid = 0,
  HashUnsorted = 2,
  Overflow = 7,
  HashMeta = 8,
  Hash = 13,
}

const enum ItemType {
  KeyData = 1,
  Duplicate = 2,
  OffPage = 3,
  OffDuplicate = 4,
}

/** H_OFFPAGE item: type (1), unused (3), first overflow page (4), total length (4). */
const OFFPAGE_ITEM_BYTES = 12;

class PageReader {
  private readonly view: DataView;
  readonly pageSize: number;
  readonly pageCount: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly le: boolean,
    pageSize: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pageSize = pageSize;
    this.pageCount = Math.floor(bytes.length / pageSize);
  }

  u8(page: number, offset: number): number {
    return this.bytes[page * this.pageSize + offset]!;
  }
  u16(page: number, offset: number): number {
    return this.view.getUint16(page * this.pageSize + offset, this.le);
  }
  u32(page: number, offset: number): number {
    return this.view.getUint32(page * this.pageSize + offset, this.le);
  }
  slice(page: number, offset: number, length: number): Uint8Array {
    const start = page * this.pageSize + offset;
    return this.bytes.subarray(start, start + length);
  }

  header(page: number) {
    if (page <= 0 || page >= this.pageCount) throw new BerkeleyDbFormatError(`page ${page} is outside the file (${this.pageCount} pages)`);
    const h = { next: this.u32(page, 16), entries: this.u16(page, 20), hfOffset: this.u16(page, 22), type: this.u8(page, 25) };
    const pgno = this.u32(page, 8);
    if (pgno !== page && !isNeverWritten(h, pgno)) throw new BerkeleyDbFormatError(`page ${page} claims to be page ${pgno}`);
    return h;
  }
}

/** A bucket page BDB allocated but never wrote (a hole of zeros): BDB reads it as an empty bucket. */
function isNeverWritten(h: { next: number; entries: number; type: number }, pgno: number): boolean {
  return pgno === 0 && h.type === PageType.Invalid && h.entries === 0 && h.next === 0;
}

function readMeta(bytes: Uint8Array): { reader: PageReader; maxBucket: number; spares: number[] } {
  if (bytes.length < MIN_PAGE_SIZE) throw new BerkeleyDbFormatError(`${bytes.length} bytes is too short for a Berkeley DB file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  if (view.getUint32(12, true) !== HASH_MAGIC) {
    if (view.getUint32(12, false) !== HASH_MAGIC) {
      throw new BerkeleyDbFormatError(`not a Berkeley DB hash file (magic 0x${view.getUint32(12, true).toString(16)})`);
    }
    le = false;
  }
  const version = view.getUint32(16, le);
  if (!SUPPORTED_VERSIONS.has(version)) throw new BerkeleyDbFormatError(`hash format version ${version} is not supported`);
  const pageSize = view.getUint32(20, le);
  if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) {
    throw new BerkeleyDbFormatError(`bad page size ${pageSize}`);
  }
  if (bytes[24] !== 0) throw new BerkeleyDbFormatError("the database is encrypted");
  if (bytes[25] !== PageType.HashMeta) throw new BerkeleyDbFormatError(`page 0 has type ${bytes[25]}, not hash metadata`);
  if ((bytes[26]! & META_CHECKSUM) !== 0) throw new BerkeleyDbFormatError("checksummed databases are not supported");
  const reader = new PageReader(bytes, le, pageSize);
  const maxBucket = view.getUint32(72, le);
  const spares = Array.from({ length: SPARES_COUNT }, (_, i) => view.getUint32(SPARES_OFFSET + 4 * i, le));
  return { reader, maxBucket, spares };
}

/** __db_log2: the smallest i with 2^i >= n. */
function ceilLog2(n: number): number {
  let i = 0;
  for (let limit = 1; limit < n; limit *= 2) i++;
  return i;
}

/** An item's bytes, following overflow pages for H_OFFPAGE items. */
function itemValue(r: PageReader, page: number, offset: number, length: number): Uint8Array {
  const type = r.u8(page, offset);
  if (type === ItemType.KeyData) return r.slice(page, offset + 1, length - 1);
  if (type === ItemType.OffPage) {
    if (length < OFFPAGE_ITEM_BYTES) throw new BerkeleyDbFormatError(`page ${page}: truncated off-page item`);
    return readOverflow(r, r.u32(page, offset + 4), r.u32(page, offset + 8));
  }
  if (type === ItemType.Duplicate || type === ItemType.OffDuplicate) {
    throw new BerkeleyDbFormatError(`page ${page}: duplicate keys are not supported`);
  }
  throw new BerkeleyDbFormatError(`page ${page}: unknown item type ${type}`);
}

/** Overflow pages hold `hf_offset` bytes each after the header, chained by next_pgno. */
function readOverflow(r: PageReader, first: number, total: number): Uint8Array {
  const out = new Uint8Array(total);
  let filled = 0;
  let page = first;
  for (let hops = 0; filled < total; hops++) {
    if (hops >= r.pageCount) throw new BerkeleyDbFormatError(`overflow chain from page ${first} loops`);
    const h = r.header(page);
    if (h.type !== PageType.Overflow) throw new BerkeleyDbFormatError(`page ${page} should be an overflow page`);
    const n = Math.min(h.hfOffset, total - filled, r.pageSize - PAGE_HEADER_BYTES);
    if (n <= 0) throw new BerkeleyDbFormatError(`overflow page ${page} is empty`);
    out.set(r.slice(page, PAGE_HEADER_BYTES, n), filled);
    filled += n;
    page = h.next;
  }
  return out;
}

function readHashPage(r: PageReader, page: number, into: Map<string, Uint8Array>): number {
  const h = r.header(page);
  if (h.type === PageType.Invalid && h.entries === 0 && h.next === 0) return 0;
  if (h.type !== PageType.Hash && h.type !== PageType.HashUnsorted) {
    throw new BerkeleyDbFormatError(`page ${page} has type ${h.type}, expected a hash page`);
  }
  if (h.entries % 2 !== 0) throw new BerkeleyDbFormatError(`page ${page} has an odd number of items`);
  if (PAGE_HEADER_BYTES + 2 * h.entries > r.pageSize) throw new BerkeleyDbFormatError(`page ${page}: too many items`);
  let end = r.pageSize;
  const items: Uint8Array[] = [];
  for (let i = 0; i < h.entries; i++) {
    const offset = r.u16(page, PAGE_HEADER_BYTES + 2 * i);
    if (offset >= end || offset < PAGE_HEADER_BYTES + 2 * h.entries) {
      throw new BerkeleyDbFormatError(`page ${page}: item ${i} at bad offset ${offset}`);
    }
    items.push(itemValue(r, page, offset, end - offset));
    end = offset;
  }
  for (let i = 0; i < items.length; i += 2) into.set(Buffer.from(items[i]!).toString("latin1"), items[i + 1]!);
  return h.next;
}

/**
 * Every key/data pair of the database, keys as byte strings ("latin1", one char per byte).
 * Throws BerkeleyDbFormatError when the bytes are not a hash database this reader understands.
 */
export function readBerkeleyHash(bytes: Uint8Array): Map<string, Uint8Array> {
  const { reader, maxBucket, spares } = readMeta(bytes);
  if (maxBucket >= reader.pageCount) throw new BerkeleyDbFormatError(`max bucket ${maxBucket} exceeds the file`);
  const out = new Map<string, Uint8Array>();
  for (let bucket = 0; bucket <= maxBucket; bucket++) {
    const log = ceilLog2(bucket + 1);
    if (log >= SPARES_COUNT) throw new BerkeleyDbFormatError(`bucket ${bucket} beyond the spares table`);
    let page = bucket + spares[log]!;
    for (let hops = 0; page !== 0; hops++) {
      if (hops >= reader.pageCount) throw new BerkeleyDbFormatError(`bucket ${bucket}: page chain loops`);
      page = readHashPage(reader, page, out);
    }
  }
  return out;
}
