/**
 * cyrus.header (imap/mailbox.c: mailbox_read_header): a fixed magic, then either one dlist line
 * `%(T e N <name> I <uniqueid> Q <quotaroot> A %(...) U (<flag> ...))` (Cyrus 3.x) or the old
 * three lines `quotaroot TAB uniqueid`, space-separated user flag names, and the ACL.
 */
import { DlistKvList, parseDlistKv } from "./dlist.ts";

export const HEADER_MAGIC = Buffer.from(
  "\xa1\x02\x8b\x0dCyrus mailbox header\n" +
    '"The best thing about this system was that it had lots of goals."\n' +
    "\t--Jim Morris on Andrew\n",
  "latin1",
);

/** MAX_USER_FLAGS in Cyrus: 128 user flags, 4 words of the index record. */
export const MAX_USER_FLAGS = 128;

export interface MailboxHeader {
  readonly uniqueid: string | undefined;
  readonly quotaroot: string | undefined;
  /** User flag names by bit number; undefined for unused bits. */
  readonly userFlags: ReadonlyArray<string | undefined>;
  /** CRC32 of the whole file, which the index header records (header_file_crc). */
  readonly fileCrc: number;
}

export class MailboxHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MailboxHeaderError";
  }
}

function fromDlist(kv: DlistKvList, fileCrc: number): MailboxHeader {
  const flags = kv.get("U");
  const userFlags = Array.isArray(flags) ? flags.slice(0, MAX_USER_FLAGS).map((f) => (typeof f === "string" && f !== "" ? f : undefined)) : [];
  return { uniqueid: kv.string("I"), quotaroot: kv.string("Q") || undefined, userFlags, fileCrc };
}

function fromLines(text: string, fileCrc: number): MailboxHeader {
  const lines = text.split("\n");
  if (lines.length < 3) throw new MailboxHeaderError("cyrus.header is truncated");
  const [first = "", flagLine = ""] = lines;
  const [quotaroot = "", uniqueid] = first.split("\t");
  const userFlags = flagLine.split(" ").slice(0, MAX_USER_FLAGS).map((f) => (f === "" ? undefined : f));
  return { uniqueid, quotaroot: quotaroot || undefined, userFlags, fileCrc };
}

export function parseMailboxHeader(bytes: Buffer): MailboxHeader {
  if (bytes.length < HEADER_MAGIC.length || !bytes.subarray(0, HEADER_MAGIC.length).equals(HEADER_MAGIC)) {
    throw new MailboxHeaderError("cyrus.header has a bad magic");
  }
  const fileCrc = Bun.hash.crc32(bytes);
  const body = bytes.subarray(HEADER_MAGIC.length);
  const eol = body.indexOf(0x0a);
  if (eol < 0) throw new MailboxHeaderError("cyrus.header has no data line");
  if (body[0] === 0x25) return fromDlist(parseDlistKv(body.subarray(0, eol)), fileCrc);
  return fromLines(body.toString("utf8"), fileCrc);
}
