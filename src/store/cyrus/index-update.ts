/**
 * What a POP QUIT changes in cyrus.index (RFC 1939 section 6), computed from the index as read under the
 * exclusive lock: the rewritten records and header, the way Cyrus's pop3d gets them through
 * mailbox_rewrite_index_record and mailbox_commit. Pure: no I/O here.
 *
 * - Expunge: \Deleted plus the internal EXPUNGED flag (and UNLINKED/NEEDS_CLEANUP with
 *   expunge_mode immediate or semidelayed); records already expunged by someone else are skipped.
 * - \Seen on retrieved messages (popuseimapflags).
 * - Every changed record gets modseq = the header's highestmodseq + 1 and last_updated = now;
 *   header counts, quota usage, sync CRCs and first_expunged follow.
 * - pop3_last_login is always updated (pop3d.c:openinbox).
 */
import { annotationCrc, isVirtualAnnotation, type MessageAnnotation } from "./annotations.ts";
import type { ExpungeMode } from "./cyrus-settings.ts";
import type { IndexFile } from "./index-file.ts";
import {
  FLAG_ANSWERED,
  FLAG_DELETED,
  FLAG_FLAGGED,
  FLAG_INTERNAL_EXPUNGED,
  FLAG_INTERNAL_NEEDS_CLEANUP,
  FLAG_INTERNAL_UNLINKED,
  FLAG_SEEN,
  OPT_MAILBOX_NEEDS_REPACK,
  OPT_MAILBOX_NEEDS_UNLINK,
  applyRecordChange,
  serializeIndexHeader,
  type IndexHeaderValues,
  type IndexRecord,
} from "./index-format.ts";
import type { QuotaDelta } from "./quota-legacy.ts";
import { basicCrc, virtualAnnotCrc } from "./sync-crc.ts";

export interface UpdateRequest {
  readonly deletedUids: readonly number[];
  readonly seenUids: readonly number[];
  readonly userFlags: ReadonlyArray<string | undefined>;
  /** Live per-message annotations of the deleted UIDs (cyrus.annotations). */
  readonly annotations: ReadonlyMap<number, readonly MessageAnnotation[]>;
  readonly expungeMode: ExpungeMode;
  /** When the session logged in (popd_login_time), for pop3_last_login. */
  readonly loginTime: number;
  readonly now: number;
  readonly popMinPollSeconds: number;
  readonly popPollPadding: number;
}

export interface IndexUpdate {
  readonly records: ReadonlyArray<{ readonly recno: number; readonly bytes: Buffer }>;
  readonly header: Buffer;
  readonly expunged: number;
  /** Change of the quota root's usage (mailbox_get_usage before and after). */
  readonly quota: QuotaDelta;
}

const has = (flags: number, bit: number): boolean => (flags & bit) !== 0;

function adjust(count: number, add: boolean, by = 1): number {
  if (add) return count + by;
  return count > by ? count - by : 0;
}

/** header_update_counts; minor version 18+ is Cyrus 3.10+, which also tracks deleted/expunged bytes. */
function updateCounts(v: IndexHeaderValues, record: IndexRecord, add: boolean, version: number): void {
  const flags = record.flags;
  if (version >= 18) {
    if (has(flags, FLAG_INTERNAL_UNLINKED)) return;
    if (has(flags, FLAG_INTERNAL_EXPUNGED)) {
      v.quotaExpungedUsed = adjust(v.quotaExpungedUsed, add, record.size);
      return;
    }
  } else if (has(flags, FLAG_INTERNAL_EXPUNGED)) {
    return;
  }
  if (has(flags, FLAG_ANSWERED)) v.answered = adjust(v.answered, add);
  if (has(flags, FLAG_FLAGGED)) v.flagged = adjust(v.flagged, add);
  if (has(flags, FLAG_DELETED)) {
    v.deleted = adjust(v.deleted, add);
    if (version >= 18) v.quotaDeletedUsed = adjust(v.quotaDeletedUsed, add, record.size);
  }
  if (!has(flags, FLAG_SEEN)) v.unseen = adjust(v.unseen, add);
  v.exists = adjust(v.exists, add);
  v.quotaMailboxUsed = adjust(v.quotaMailboxUsed, add, record.size);
}

/** mailbox_annot_update_counts for an expunged message: its real annotations stop counting. */
function dropAnnotations(v: IndexHeaderValues, uid: number, annotations: readonly MessageAnnotation[], version: number): void {
  let bytes = 0;
  for (const a of annotations) {
    if (!isVirtualAnnotation(a.entry, version)) v.syncCrcAnnot = (v.syncCrcAnnot ^ annotationCrc(uid, a)) >>> 0;
    bytes += a.value.length;
  }
  if (bytes > 0) v.quotaAnnotUsed = adjust(v.quotaAnnotUsed, false, bytes);
}

/** pop3d.c:openinbox: with padding, up to poppollpadding quick logins are allowed, refilled one per popminpoll. */
export function nextLastLogin(last: number, loginTime: number, minPoll: number, padding: number): number {
  if (minPoll > 0 && padding > 1) {
    const minTime = loginTime - minPoll * padding;
    return last < minTime ? minTime + minPoll : last + minPoll;
  }
  return loginTime;
}

export function planIndexUpdate(index: IndexFile, req: UpdateRequest): IndexUpdate {
  const header = index.header;
  const version = header.minorVersion;
  const values: IndexHeaderValues = { ...header };
  values.pop3LastLogin = nextLastLogin(header.pop3LastLogin, req.loginTime, req.popMinPollSeconds, req.popPollPadding);

  const unlinkNow = req.expungeMode !== "delayed";
  const targets = new Map<number, { record: IndexRecord; flags: number }>();
  let expunged = 0;
  for (const uid of req.deletedUids) {
    const recno = index.findUid(uid);
    if (recno === undefined || targets.has(recno)) continue;
    const record = index.record(recno);
    // pop3d.c:openinbox: someone else expunged it since login; nothing to do.
    if (has(record.flags, FLAG_INTERNAL_EXPUNGED)) continue;
    let flags = record.flags | FLAG_DELETED | FLAG_INTERNAL_EXPUNGED;
    if (unlinkNow) flags |= FLAG_INTERNAL_UNLINKED | FLAG_INTERNAL_NEEDS_CLEANUP;
    targets.set(recno, { record, flags: flags >>> 0 });
    expunged++;
  }
  for (const uid of req.seenUids) {
    const recno = index.findUid(uid);
    if (recno === undefined || targets.has(recno)) continue;
    const record = index.record(recno);
    if (has(record.flags, FLAG_INTERNAL_EXPUNGED) || has(record.flags, FLAG_SEEN)) continue;
    targets.set(recno, { record, flags: (record.flags | FLAG_SEEN) >>> 0 });
  }

  const records: Array<{ recno: number; bytes: Buffer }> = [];
  if (targets.size > 0) {
    // mailbox_modseq_dirty: one new modseq for the whole commit.
    values.highestModseq = header.highestModseq + 1;
    for (const [recno, { record, flags }] of [...targets].sort((a, b) => a[0] - b[0])) {
      const updated = applyRecordChange(record, version, { flags, modseq: values.highestModseq, lastUpdated: req.now });
      updateCounts(values, record, false, version);
      updateCounts(values, updated, true, version);
      values.syncCrcBasic = (values.syncCrcBasic ^ basicCrc(record, req.userFlags) ^ basicCrc(updated, req.userFlags)) >>> 0;
      values.syncCrcAnnot = (values.syncCrcAnnot ^ virtualAnnotCrc(record, version) ^ virtualAnnotCrc(updated, version)) >>> 0;
      if (has(updated.flags, FLAG_INTERNAL_EXPUNGED) && !has(record.flags, FLAG_INTERNAL_EXPUNGED)) {
        if (values.firstExpunged === 0 || values.firstExpunged > updated.lastUpdated) values.firstExpunged = updated.lastUpdated;
        dropAnnotations(values, record.uid, req.annotations.get(record.uid) ?? [], version);
      }
      if (has(updated.flags, FLAG_INTERNAL_UNLINKED)) {
        values.options = (values.options | OPT_MAILBOX_NEEDS_UNLINK | (req.expungeMode === "immediate" ? OPT_MAILBOX_NEEDS_REPACK : 0)) >>> 0;
      }
      records.push({ recno, bytes: updated.raw });
    }
  }

  return {
    records,
    header: serializeIndexHeader(header, values),
    expunged,
    quota: {
      storage: values.quotaMailboxUsed - header.quotaMailboxUsed,
      messages: values.exists - header.exists,
      annotStorage: values.quotaAnnotUsed - header.quotaAnnotUsed,
    },
  };
}
