/**
 * Opening a Cyrus mailbox for a POP login (pop3d.c openinbox), with the locks a Cyrus 3.13 reader
 * takes (user namespace, mailbox name lock and cyrus.index, all shared) held only while the
 * mailbox is looked up and its index read.
 */
import { readFileSync } from "node:fs";
import { RemoteMailboxError, StoreError } from "../maildrop.ts";
import { myRights } from "./acl.ts";
import {
  IMAP_MAILBOX_MOVED,
  IMAP_MAILBOX_NONEXISTENT,
  IMAP_MAILBOX_RESERVED,
  IMAP_PERMISSION_DENIED,
  lookupError,
  openError,
} from "./cyrus-errors.ts";
import { LockStack, lockDataFile, lockNameFile } from "./cyrus-lock.ts";
import type { CyrusStoreOptions } from "./cyrus-settings.ts";
import { IndexFile } from "./index-file.ts";
import { FLAG_DELETED, FLAG_INTERNAL_ARCHIVED, OPT_MAILBOX_DELETED, type IndexHeader } from "./index-format.ts";
import { parseMailboxHeader, type MailboxHeader } from "./mailbox-header.ts";
import { lockPath, mailboxFiles, type MailboxFiles } from "./mailbox-files.ts";
import { namespaceLockNames, type MailboxName } from "./mailbox-name.ts";
import { lookupMailbox, type MailboxEntry } from "./mboxlist.ts";
import { withTwoskip } from "./twoskip.ts";
import { TimeSlicer } from "../fs/time-slice.ts";

/**
 * The messages a login sees, in UID order, kept as typed arrays (13 bytes a message) rather than
 * one object each: a session on a 100,000-message mailbox holds this for its whole life.
 */
export class CyrusSnapshot {
  constructor(
    readonly count: number,
    private readonly uids: Float64Array,
    private readonly sizes: Float64Array,
    /** 1 when the file lives on the archive partition (FLAG_INTERNAL_ARCHIVED). */
    private readonly archivedFlags: Uint8Array,
  ) {}

  uid(i: number): number {
    return this.uids[i]!;
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  archived(i: number): boolean {
    return this.archivedFlags[i] === 1;
  }

  get byteLength(): number {
    return this.uids.buffer.byteLength + this.sizes.buffer.byteLength + this.archivedFlags.buffer.byteLength;
  }
}

export interface OpenedMailbox {
  readonly entry: MailboxEntry;
  readonly uniqueid: string;
  readonly files: MailboxFiles;
  readonly header: MailboxHeader;
  readonly index: IndexHeader;
  readonly messages: CyrusSnapshot;
  /** The user's rights under popuseacl, else undefined (all allowed). */
  readonly rights: ReadonlySet<string> | undefined;
}

function temp(message: string, detail: string): StoreError {
  return new StoreError("temp", message, detail);
}

/** The checks Cyrus makes on the mailboxes.db entry (pop3d.c openinbox), in its order. */
function checkEntry(opts: CyrusStoreOptions, entry: MailboxEntry | undefined, name: string, userid: string): asserts entry is MailboxEntry {
  if (entry === undefined) throw temp(IMAP_MAILBOX_NONEXISTENT, `${name}: no mailboxes.db entry`);
  if (entry.type.reserved) throw temp(IMAP_MAILBOX_RESERVED, `${name}: reserved`);
  if (entry.type.deleted || entry.type.intermediate) throw temp(IMAP_MAILBOX_NONEXISTENT, `${name}: deleted or intermediate entry`);
  if (opts.popUseAcl) {
    const rights = myRights(entry.acl, userid);
    if (!rights.has("r")) {
      throw temp(rights.has("l") ? IMAP_PERMISSION_DENIED : IMAP_MAILBOX_NONEXISTENT, `${name}: ${userid} lacks the r right`);
    }
  }
  if (entry.type.moving) throw temp(IMAP_MAILBOX_MOVED, `${name}: being moved`);
  // A Murder frontend's entry for a mailbox on a backend (mboxlist_insertremote): report where it is,
  // so the session can proxy there (pop3d.c:openinbox). Under mupdate_config unified our own
  // servername means the mailbox is local.
  if (entry.type.remote || (entry.server !== undefined && entry.server !== opts.serverName)) {
    if (entry.server === undefined) throw temp(IMAP_MAILBOX_MOVED, `${name}: remote entry without a server`);
    throw new RemoteMailboxError(entry.server, IMAP_MAILBOX_MOVED, `${name}: on server ${entry.server}`);
  }
}

async function snapshot(index: IndexFile, popUseImapFlags: boolean, slicer: TimeSlicer): Promise<CyrusSnapshot> {
  const header = index.header;
  const capacity = Math.min(header.exists, index.count);
  const uids = new Float64Array(capacity);
  const sizes = new Float64Array(capacity);
  const archived = new Uint8Array(capacity);
  let n = 0;
  for (let recno = 1; recno <= index.count && n < capacity; recno++) {
    if ((recno & 1023) === 0 && slicer.due()) await slicer.yield();
    const uid = index.uidAt(recno);
    if (uid === 0 || index.isExpungedAt(recno)) continue;
    const flags = index.flagsAt(recno);
    if (popUseImapFlags && (flags & FLAG_DELETED) !== 0) continue;
    if (header.pop3ShowAfter !== 0 && index.internalDateAt(recno) <= header.pop3ShowAfter) continue;
    uids[n] = uid;
    sizes[n] = index.sizeAt(recno);
    archived[n] = (flags & FLAG_INTERNAL_ARCHIVED) !== 0 ? 1 : 0;
    n++;
  }
  return new CyrusSnapshot(n, uids, sizes, archived);
}

export async function openMailbox(opts: CyrusStoreOptions, name: MailboxName, intname: string, userid: string): Promise<OpenedMailbox> {
  const locks = new LockStack();
  try {
    let entry: MailboxEntry | undefined;
    try {
      for (const lockName of namespaceLockNames(name)) locks.push(await lockNameFile(lockPath(opts, lockName), "shared"));
      entry = await withTwoskip(opts.mailboxesDb, (db) => lookupMailbox(db, name));
    } catch (error) {
      throw lookupError(error, `looking up ${intname} in ${opts.mailboxesDb}`);
    }
    checkEntry(opts, entry, intname, userid);
    const rights = opts.popUseAcl ? myRights(entry.acl, userid) : undefined;

    let files: MailboxFiles | undefined;
    try {
      if (entry.partition === undefined) throw new StoreError("perm", IMAP_MAILBOX_NONEXISTENT, `${intname}: entry has no partition`);
      if (entry.uniqueid === undefined && !entry.type.legacyDirs) throw new StoreError("perm", IMAP_MAILBOX_NONEXISTENT, `${intname}: entry has no uniqueid`);
      files = mailboxFiles(opts, entry, entry.partition, entry.uniqueid ?? "");
      locks.push(await lockNameFile(files.nameLock, "shared"));
      const indexLock = locks.push(await lockDataFile(files.index, "shared", false));
      const header = parseMailboxHeader(readFileSync(files.header));
      const slicer = new TimeSlicer();
      const index = await IndexFile.readAsync(indexLock.fd);
      await index.verifyAllInSlices(slicer);
      if ((index.header.options & OPT_MAILBOX_DELETED) !== 0) throw new StoreError("perm", IMAP_MAILBOX_NONEXISTENT, `${intname}: being deleted`);
      const uniqueid = entry.uniqueid ?? header.uniqueid ?? "";
      return { entry, uniqueid, files, header, index: index.header, messages: await snapshot(index, opts.popUseImapFlags, slicer), rights };
    } catch (error) {
      throw openError(error, `opening ${intname} (${files?.index ?? "no index path"})`);
    }
  } finally {
    locks.releaseAll();
  }
}
