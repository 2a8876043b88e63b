/**
 * Bringing a uid list up to date with a directory listing: known messages keep their UIDs, vanished
 * ones are dropped, and new ones get the next UIDs in delivery order.
 */
import { statSync } from "node:fs";
import { compareDelivery, deliveryKeyFromMtime, deliveryKeyFromName, type DeliveryKey } from "./maildir-name.ts";
import { messagePath, type MaildirFile } from "./maildir-scan.ts";
import { maildirMessageSize } from "./message-size.ts";
import { readDovecotUidList, type DovecotUids } from "./dovecot-uidlist.ts";
import { isNotFound } from "./store-errors.ts";
import { sameCtimes } from "./directory-state.ts";
import { UNKNOWN_CTIMES, type DirectoryCtimes, type MaildirMessage, type UidList } from "./uid-list.ts";

export interface UidListUpdate {
  readonly list: UidList;
  /** Whether `list` differs from the one on disk and should be written. */
  readonly changed: boolean;
}

/** Sizes of messages not yet in the list, measured by base name before taking the lock. */
export type MeasuredSizes = Map<string, number>;

/**
 * Size every listed file the uid list does not know yet. A file that vanished or cannot be read is
 * left out; it stays out of the list too, so a later login tries again.
 */
export function measureNewMessages(dir: string, known: UidList | undefined, files: ReadonlyMap<string, MaildirFile>, sizes: MeasuredSizes = new Map()): MeasuredSizes {
  const knownNames = new Set(known?.messages.map((m) => m.baseName));
  for (const [baseName, file] of files) {
    if (knownNames.has(baseName) || sizes.has(baseName)) continue;
    try {
      sizes.set(baseName, maildirMessageSize(messagePath(dir, file), baseName));
    } catch {
      // Vanished (or unreadable) since the listing: not part of this snapshot.
    }
  }
  return sizes;
}

function deliveryKey(dir: string, baseName: string, file: MaildirFile): DeliveryKey | undefined {
  const fromName = deliveryKeyFromName(baseName);
  if (fromName !== undefined) return fromName;
  try {
    return deliveryKeyFromMtime(baseName, statSync(messagePath(dir, file)).mtimeMs);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function startingList(dir: string, nowMs: number): { list: UidList; dovecot: DovecotUids | undefined } {
  const dovecot = readDovecotUidList(dir);
  const uidValidity = dovecot?.uidValidity ?? Math.floor(nowMs / 1000);
  const list = { uidValidity, nextUid: dovecot?.nextUid ?? 1, ctimes: UNKNOWN_CTIMES, messages: [] };
  return { list, dovecot };
}

/**
 * The list describing `files` (a listing taken after `ctimes` was read). `sizes` must hold the size of
 * every file the previous list does not know; files without one are left out.
 */
export function updateUidList(
  dir: string,
  previous: UidList | undefined,
  files: ReadonlyMap<string, MaildirFile>,
  ctimes: DirectoryCtimes,
  sizes: MeasuredSizes,
  nowMs = Date.now(),
): UidListUpdate {
  const { list: base, dovecot } = previous === undefined ? startingList(dir, nowMs) : { list: previous, dovecot: undefined };
  const messages: MaildirMessage[] = [];
  const knownNames = new Set<string>();
  let removed = false;
  for (const message of base.messages) {
    const file = files.get(message.baseName);
    if (file === undefined || knownNames.has(message.baseName)) {
      removed = true;
      continue;
    }
    knownNames.add(message.baseName);
    messages.push(file === message.file ? message : { ...message, file });
  }

  const arrivals: Array<{ key: DeliveryKey; file: MaildirFile; size: number }> = [];
  let complete = true;
  for (const [baseName, file] of files) {
    if (knownNames.has(baseName)) continue;
    const size = sizes.get(baseName);
    const key = size === undefined ? undefined : deliveryKey(dir, baseName, file);
    if (size === undefined || key === undefined) complete = false;
    else arrivals.push({ key, file, size });
  }
  arrivals.sort((a, b) => compareDelivery(a.key, b.key));

  let nextUid = base.nextUid;
  const importedUids = new Set<number>();
  let imported = false;
  for (const { key, file, size } of arrivals) {
    const dovecotUid = dovecot?.uidsByBaseName.get(key.name);
    let uid: number;
    if (dovecotUid !== undefined && !importedUids.has(dovecotUid)) {
      uid = dovecotUid;
      importedUids.add(uid);
      imported = true;
    } else {
      uid = nextUid++;
    }
    messages.push({ uid, size, baseName: key.name, file });
  }
  if (imported) messages.sort((a, b) => a.uid - b.uid);

  // A listing that left files out cannot vouch for the directories at their current ctimes.
  const recordedCtimes = complete ? ctimes : UNKNOWN_CTIMES;
  const list: UidList = { uidValidity: base.uidValidity, nextUid, ctimes: recordedCtimes, messages };
  const changed = previous === undefined || removed || arrivals.length > 0 || !sameCtimes(previous.ctimes, recordedCtimes);
  return { list, changed };
}
