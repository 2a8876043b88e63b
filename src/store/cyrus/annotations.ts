/**
 * Per-message annotations of a mailbox, from its cyrus.annotations twoskip file (imap/annotate.c).
 * Expunging a message takes its annotations out of the index header's quota_annot_used and
 * synccrcs.annot (mailbox_annot_update_counts). Older index versions keep savedate,
 * createdmodseq and thrid here as real annotations; newer ones have them in the record and
 * only pretend ("virtual annotations"), and those do not count.
 *
 * Keys are `<uid> NUL <entry> NUL <userid> NUL`, the mailbox owner's userid being stored as a
 * token. Values are a length in network order in a native `unsigned long` (8 bytes on the 64-bit
 * Linux Cyrus runs on), the value, NUL, a content type, NUL, 8 unused bytes, an 8-byte modseq
 * and a flags byte whose bit 0 marks a deleted entry.
 */
import { existsSync } from "node:fs";
import { withTwoskip } from "./twoskip.ts";

const OWNER_TOKEN = "[.OwNeR.]";
const ANNOT_NS = "/vendor/cmu/cyrus-imapd/";
const LENGTH_FIELD = 8;
const FLAG_DELETED = 1;

export interface MessageAnnotation {
  readonly entry: string;
  readonly userid: string;
  readonly value: Buffer;
}

/** mailbox_is_virtannot: the annotations a record of this index version carries itself. */
export function isVirtualAnnotation(entry: string, minorVersion: number): boolean {
  if (minorVersion >= 13 && entry === `${ANNOT_NS}thrid`) return true;
  if (minorVersion >= 15 && entry === `${ANNOT_NS}savedate`) return true;
  return minorVersion >= 16 && entry === `${ANNOT_NS}createdmodseq`;
}

/** crc_annot: one annotation's contribution to synccrcs.annot. */
export function annotationCrc(uid: number, a: MessageAnnotation): number {
  return Bun.hash.crc32(Buffer.concat([Buffer.from(`${uid} ${a.entry} ${a.userid} `, "utf8"), a.value]));
}

function parseValue(data: Buffer): { value: Buffer; deleted: boolean } | undefined {
  if (data.length < LENGTH_FIELD) return undefined;
  const length = data.readUInt32BE(0);
  const valueEnd = LENGTH_FIELD + length;
  if (valueEnd > data.length) return undefined;
  const value = data.subarray(LENGTH_FIELD, valueEnd);
  let p = valueEnd + 1;
  let flags = 0;
  if (p < data.length) {
    const typeEnd = data.indexOf(0, p);
    p = (typeEnd < 0 ? data.length : typeEnd + 1) + 8; // content type, modifiedsince
    p += 8; // modseq
    if (p < data.length) flags = data[p]!;
  }
  return { value: Buffer.from(value), deleted: (flags & FLAG_DELETED) !== 0 };
}

/**
 * The live annotations of each of `uids`, as annotatemore_findall_mailbox reports them:
 * tombstones and empty values skipped, the owner token turned back into `owner`.
 */
export async function readMessageAnnotations(path: string, uids: readonly number[], owner: string): Promise<Map<number, MessageAnnotation[]>> {
  const found = new Map<number, MessageAnnotation[]>();
  if (uids.length === 0 || !existsSync(path)) return found;
  await withTwoskip(path, (db) => {
    for (const uid of uids) {
      const list: MessageAnnotation[] = [];
      for (const [key, data] of db.withPrefix(Buffer.from(`${uid}\0`))) {
        const fields = key.toString("utf8").split("\0");
        const entry = fields[1] ?? "";
        const userid = fields[2] ?? "";
        const parsed = parseValue(data);
        if (parsed === undefined || parsed.deleted || parsed.value.length === 0) continue;
        list.push({ entry, userid: userid === OWNER_TOKEN ? owner : userid, value: parsed.value });
      }
      if (list.length > 0) found.set(uid, list);
    }
  });
  return found;
}
