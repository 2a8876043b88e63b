/**
 * The per-mailbox "sync CRCs" of the index header (imap/mailbox.c: crc_basic, crc_virtannot):
 * XORs over every unexpunged record, so a change to one record is folded in by XORing out its
 * old contribution and XORing in the new one. Replication and reconstruct compare these values.
 */
import { FLAG_ANSWERED, FLAG_DELETED, FLAG_DRAFT, FLAG_FLAGGED, FLAG_INTERNAL_EXPUNGED, FLAG_SEEN, type IndexRecord } from "./index-format.ts";

const ANNOT_NS = "/vendor/cmu/cyrus-imapd/";

function crc32Text(text: string): number {
  return Bun.hash.crc32(Buffer.from(text, "utf8"));
}

const SYSTEM_FLAG_CRCS: ReadonlyArray<readonly [number, number]> = [
  [FLAG_DELETED, crc32Text("\\deleted")],
  [FLAG_ANSWERED, crc32Text("\\answered")],
  [FLAG_FLAGGED, crc32Text("\\flagged")],
  [FLAG_DRAFT, crc32Text("\\draft")],
  [FLAG_SEEN, crc32Text("\\seen")],
];

/** Cyrus's lcase(): ASCII only, byte by byte. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

function isExpunged(record: IndexRecord): boolean {
  return (record.flags & FLAG_INTERNAL_EXPUNGED) !== 0;
}

/** crc_basic: the record's contribution to synccrcs.basic (0 once expunged). */
export function basicCrc(record: IndexRecord, userFlags: ReadonlyArray<string | undefined>): number {
  if (isExpunged(record)) return 0;
  let flagCrc = 0;
  for (const [bit, crc] of SYSTEM_FLAG_CRCS) if ((record.flags & bit) !== 0) flagCrc ^= crc;
  for (let flag = 0; flag < userFlags.length; flag++) {
    const name = userFlags[flag];
    if (name === undefined) continue;
    if (((record.userFlags[flag >>> 5] ?? 0) & (1 << (flag & 31))) === 0) continue;
    flagCrc ^= crc32Text(asciiLower(name));
  }
  flagCrc >>>= 0;
  const guid = record.guid.toString("hex");
  return crc32Text(`${record.uid} ${record.modseq} ${record.lastUpdated} (${flagCrc}) ${record.internalDate} ${guid}`);
}

function annotCrc(uid: number, entry: string, userid: string, value: string): number {
  return crc32Text(`${uid} ${entry} ${userid} ${value}`);
}

/** crc_virtannot: thrid, savedate and createdmodseq count as annotations for synccrcs.annot. */
export function virtualAnnotCrc(record: IndexRecord, minorVersion: number): number {
  if (isExpunged(record)) return 0;
  let crc = 0;
  if (record.cid !== 0n && minorVersion >= 13) crc ^= annotCrc(record.uid, `${ANNOT_NS}thrid`, "", record.cid.toString(16));
  if (record.savedate !== 0 && minorVersion >= 15) crc ^= annotCrc(record.uid, `${ANNOT_NS}savedate`, "", String(record.savedate));
  if (record.createdModseq !== 0 && minorVersion >= 16) {
    crc ^= annotCrc(record.uid, `${ANNOT_NS}createdmodseq`, "", String(record.createdModseq));
  }
  return crc >>> 0;
}
