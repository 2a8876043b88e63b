/**
 * The QUIT commit on a Cyrus mailbox (pop3d.c:cmd_quit) under Cyrus's locks, taken in Cyrus's order: the
 * $GLOBAL name lock shared (3.12 global_lock), the user namespace lock exclusive, the mailbox
 * name lock shared, then cyrus.index exclusive. Like mailbox_commit, the quota root is updated
 * first, then the changed records and the header are written in place (in one write) and the
 * index is fsynced.
 */
import { readFileSync, writeSync } from "node:fs";
import { fsyncAsync } from "../fs/durable.ts";
import { StoreError } from "../maildrop.ts";
import { readMessageAnnotations } from "./annotations.ts";
import { IMAP_MAILBOX_NONEXISTENT, openError } from "./cyrus-errors.ts";
import { LockStack, lockDataFile, lockNameFile } from "./cyrus-lock.ts";
import type { CyrusStoreOptions } from "./cyrus-settings.ts";
import { IndexFile } from "./index-file.ts";
import { OPT_MAILBOX_DELETED } from "./index-format.ts";
import { planIndexUpdate, type IndexUpdate } from "./index-update.ts";
import { parseMailboxHeader } from "./mailbox-header.ts";
import { lockPath, type MailboxFiles } from "./mailbox-files.ts";
import { GLOBAL_LOCK_NAME, namespaceLockNames, ownerUserid, type MailboxName } from "./mailbox-name.ts";
import { quotaFilePath, updateQuotaUsage, type QuotaDelta } from "./quota-legacy.ts";
import { appendSyncLog, syncQuoteName } from "./sync-log.ts";

let warnedStatusCache = false;

export interface CommitTarget {
  readonly name: MailboxName;
  readonly internalName: string;
  readonly files: MailboxFiles;
  /** The UIDVALIDITY the session's UIDs belong to; a recreated mailbox is left alone. */
  readonly uidValidity: number;
  readonly loginTime: number;
}

function writeAll(fd: number, bytes: Buffer, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function quotaChanged(q: QuotaDelta): boolean {
  return q.storage !== 0 || q.messages !== 0 || q.annotStorage !== 0;
}

async function updateQuota(opts: CyrusStoreOptions, target: CommitTarget, root: string | undefined, delta: QuotaDelta): Promise<void> {
  if (root === undefined || !quotaChanged(delta)) return;
  const warn = opts.warn ?? (() => undefined);
  const lost = `LOSTQUOTA: unable to record change of ${delta.storage} bytes and ${delta.messages} messages in quota ${root}`;
  if (opts.quotaLegacyDir === undefined) {
    warn(`${lost}: only quota_db quotalegacy is supported`);
    return;
  }
  const path = quotaFilePath(opts.quotaLegacyDir, root, opts.naming.virtDomains, opts.hash.fullDirHash);
  try {
    // As in Cyrus, a failed quota update is logged and the mailbox change still goes ahead.
    if (!(await updateQuotaUsage(path, target.internalName, delta))) warn(`${lost}: ${path} does not exist`);
  } catch (error) {
    warn(`${lost}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Expunges `deletedUids`, marks `seenUids` \Seen and records the login; returns the number expunged. */
export async function commitToMailbox(
  opts: CyrusStoreOptions,
  target: CommitTarget,
  deletedUids: readonly number[],
  seenUids: readonly number[],
): Promise<number> {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const locks = new LockStack();
  let update: IndexUpdate;
  try {
    if (opts.globalLock) locks.push(await lockNameFile(lockPath(opts, GLOBAL_LOCK_NAME), "shared"));
    for (const name of namespaceLockNames(target.name)) locks.push(await lockNameFile(lockPath(opts, name), "exclusive"));
    locks.push(await lockNameFile(target.files.nameLock, "shared"));
    const indexLock = locks.push(await lockDataFile(target.files.index, "exclusive", true));

    // Read off the JS thread: a big mailbox's index is megabytes.
    const index = await IndexFile.readAsync(indexLock.fd);
    if ((index.header.options & OPT_MAILBOX_DELETED) !== 0) {
      throw new StoreError("perm", IMAP_MAILBOX_NONEXISTENT, `${target.internalName}: being deleted`);
    }
    if (index.header.uidValidity !== target.uidValidity) {
      throw new StoreError("perm", IMAP_MAILBOX_NONEXISTENT, `${target.internalName}: UIDVALIDITY is now ${index.header.uidValidity}, not ${target.uidValidity}`);
    }
    const header = parseMailboxHeader(readFileSync(target.files.header));
    const annotations = await readMessageAnnotations(target.files.annotations, deletedUids, ownerUserid(target.name));
    update = planIndexUpdate(index, {
      deletedUids,
      seenUids,
      userFlags: header.userFlags,
      annotations,
      expungeMode: opts.expungeMode,
      loginTime: target.loginTime,
      now: now(),
      popMinPollSeconds: opts.popMinPollSeconds,
      popPollPadding: opts.popPollPadding,
    });

    await updateQuota(opts, target, header.quotaroot, update.quota);

    // One write for the header and every changed record (IndexFile.patched): kill -9 during QUIT
    // then leaves all of its deletions or none.
    writeAll(indexLock.fd, index.patched(update.header, update.records), 0);
    await fsyncAsync(indexLock.fd);
  } catch (error) {
    throw openError(error, `committing to ${target.internalName} (${target.files.index})`);
  } finally {
    locks.releaseAll();
  }

  if (opts.syncLogChannels.length > 0) {
    await appendSyncLog(opts.configDirectory, opts.syncLogChannels, `MAILBOX ${syncQuoteName(target.internalName)}\n`, opts.warn ?? (() => undefined));
  }
  if (opts.statusCache && !warnedStatusCache) {
    warnedStatusCache = true;
    opts.warn?.("statuscache: 1 is on, but we cannot update Cyrus's status cache: IMAP STATUS may show stale counts until Cyrus next changes a mailbox");
  }
  return update.expunged;
}
