/**
 * Mailbox lookup in mailboxes.db (imap/mboxlist.c). Values are dlists: `%(T e I <uniqueid>
 * P <partition> V <uidvalidity> A %(<id> <rights> ...) ...)`. Cyrus 3.5+ keys entries by
 * `N<dbname>`; 3.0–3.4 by the internal name, and their mailboxes all live in by-name directories.
 */
import { DlistKvList, parseDlistKv } from "./dlist.ts";
import { internalName, legacyMailboxesDbKey, mailboxesDbKey, type MailboxName } from "./mailbox-name.ts";
import type { TwoskipSnapshot } from "./twoskip.ts";

export interface MailboxType {
  readonly deleted: boolean;
  readonly intermediate: boolean;
  readonly reserved: boolean;
  readonly moving: boolean;
  readonly remote: boolean;
  /** The mailbox's files live in the by-name directory, not under uuid/ (MBTYPE_LEGACY_DIRS). */
  readonly legacyDirs: boolean;
}

export interface MailboxEntry {
  readonly name: MailboxName;
  /** Internal name, for logs and name locks of by-name mailboxes. */
  readonly internalName: string;
  readonly uniqueid: string | undefined;
  readonly partition: string | undefined;
  readonly server: string | undefined;
  readonly type: MailboxType;
  /** The ACL as Cyrus keeps it in memory: `id TAB rights TAB ...`. */
  readonly acl: string;
}

export class MailboxEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MailboxEntryError";
  }
}

/** mboxlist_string_to_mbtype: one optional type letter (a b c e n p s), then flag letters. */
function parseType(letters: string, legacyDb: boolean): MailboxType {
  const has = (c: string): boolean => letters.includes(c);
  return {
    deleted: has("d"),
    intermediate: has("i"),
    reserved: has("z"),
    moving: has("m"),
    remote: has("r"),
    legacyDirs: legacyDb || has("l"),
  };
}

function aclString(value: unknown): string {
  if (typeof value === "string") return value;
  if (!(value instanceof DlistKvList)) return "";
  let acl = "";
  for (const [id, rights] of value.entries) acl += `${id}\t${typeof rights === "string" ? rights : ""}\t`;
  return acl;
}

/** Parses a mailboxes.db value (mboxlist_parse_entry, dlist form). */
export function parseMailboxEntry(name: MailboxName, value: Buffer, legacyDb: boolean): MailboxEntry {
  if (value[0] !== 0x25) throw new MailboxEntryError(`mailboxes.db entry for ${internalName(name)} is not a dlist`);
  const kv = parseDlistKv(value);
  return {
    name,
    internalName: internalName(name),
    uniqueid: kv.string("I"),
    partition: kv.string("P"),
    server: kv.string("S"),
    type: parseType(kv.string("T") ?? "", legacyDb),
    acl: aclString(kv.get("A")),
  };
}

/** The entry for `name`, or undefined when mailboxes.db has none. Call with the db read-locked. */
export function lookupMailbox(db: TwoskipSnapshot, name: MailboxName): MailboxEntry | undefined {
  const current = db.get(mailboxesDbKey(name));
  if (current !== undefined) return parseMailboxEntry(name, current, false);
  const legacy = db.get(legacyMailboxesDbKey(name));
  return legacy === undefined ? undefined : parseMailboxEntry(name, legacy, true);
}
