/**
 * Bringing a uid list up to date with what is in the Maildir: known messages keep their UIDs,
 * vanished ones are dropped, and new ones get the next UIDs in delivery order.
 */
import { statSync } from "node:fs";
import { sameCtimes, type DirectoryCtimes } from "./directory-state.ts";
import { readDovecotUidList, type DovecotUids } from "./dovecot-uidlist.ts";
import { MaildirMessage } from "./maildir-message.ts";
import { compareDelivery, deliveryKeyFromMtime, deliveryKeyFromName, type DeliveryKey } from "./maildir-name.ts";
import { messagePath, sameFile, type MaildirFile, type MaildirSubdir, type SkipReporter } from "./maildir-scan.ts";
import { isNotRegularFile } from "../fs/safe-open.ts";
import { maildirMessageSize } from "./message-size.ts";
import { sortInSlices, TimeSlicer } from "../fs/time-slice.ts";
import { isNotFound } from "../fs/errors.ts";
import { draftOf, type UidList, type UidListDraft } from "./uid-list.ts";

/** One look at a Maildir. */
export interface Observation {
  /** The uid list file as read, to tell later whether another session rewrote it. */
  readonly listBytes: Buffer | undefined;
  readonly list: UidList | undefined;
  /** The directory ctimes to record for this look: 0 where a directory changed too recently. */
  readonly ctimes: DirectoryCtimes;
  /** The directories that were listed; the list's entries for the others are known to be current. */
  readonly listed: readonly MaildirSubdir[];
  /** Base name → file, for the listed directories. */
  readonly files: ReadonlyMap<string, MaildirFile>;
}

export interface UidListUpdate {
  readonly list: UidListDraft;
  /** Whether `list` differs from the one on disk and should be written. */
  readonly changed: boolean;
  /** Whether it hands out UIDs (or a UIDVALIDITY) that clients may see and must never change. */
  readonly uidsAssigned: boolean;
}

/** Sizes of messages not yet in the list, by base name; measured before taking the lock. */
export type MeasuredSizes = Map<string, number>;

/** The base names the list knows in the listed directories. */
async function knownInListed(observation: Observation, slicer: TimeSlicer): Promise<Set<string>> {
  const known = new Set<string>();
  const table = observation.list?.table;
  for (let i = 0; table !== undefined && i < table.count; i++) {
    if ((i & 1023) === 0 && slicer.due()) await slicer.yield();
    if (observation.listed.includes(table.subdir(i))) known.add(table.baseName(i));
  }
  return known;
}

/**
 * Size every listed file the uid list does not know yet. A file that vanished or cannot be read is
 * left out; it stays out of the list too, so a later login tries again.
 */
export async function measureNewMessages(
  dir: string,
  observation: Observation,
  sizes: MeasuredSizes = new Map(),
  onSkip?: SkipReporter,
  slicer = new TimeSlicer(),
): Promise<MeasuredSizes> {
  const known = await knownInListed(observation, slicer);
  for (const [baseName, file] of observation.files) {
    if (known.has(baseName) || sizes.has(baseName)) continue;
    await slicer.pause();
    try {
      sizes.set(baseName, await maildirMessageSize(messagePath(dir, file), baseName, slicer));
    } catch (error) {
      // Vanished (or unreadable) since the listing: not part of this snapshot.
      if (isNotRegularFile(error)) onSkip?.(error.path, `skipped: ${error.kind === "other" ? "not a regular file" : `a ${error.kind}`}, not a message file`);
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

async function startingList(dir: string, nowMs: number, slicer: TimeSlicer): Promise<{ list: UidListDraft; dovecot: DovecotUids | undefined }> {
  const dovecot = await readDovecotUidList(dir, slicer);
  const uidValidity = dovecot?.uidValidity ?? Math.floor(nowMs / 1000);
  const list: UidListDraft = { uidValidity, nextUid: dovecot?.nextUid ?? 1, ctimes: { new: 0n, cur: 0n }, messages: [] };
  return { list, dovecot };
}

/**
 * The list describing the Maildir as observed. Messages in directories that were not listed pass
 * through untouched: nothing can have left or entered such a directory, so no message of a listed
 * directory can have come from there either. `sizes` must hold every file the list does not know;
 * files without one are left out.
 */
export async function updateUidList(dir: string, observation: Observation, sizes: MeasuredSizes, nowMs: number, slicer = new TimeSlicer()): Promise<UidListUpdate> {
  const previous = observation.list;
  const { list: base, dovecot } = previous === undefined ? await startingList(dir, nowMs, slicer) : { list: draftOf(previous), dovecot: undefined };
  const { files, listed } = observation;
  const messages: MaildirMessage[] = [];
  const known = new Set<string>();
  let removed = false;
  for (const message of base.messages) {
    if ((messages.length & 1023) === 0 && slicer.due()) await slicer.yield();
    if (!listed.includes(message.subdir)) {
      messages.push(message);
      continue;
    }
    const file = files.get(message.baseName);
    if (file === undefined || known.has(message.baseName)) {
      removed = true;
      continue;
    }
    known.add(message.baseName);
    messages.push(sameFile(file, message.file) ? message : message.movedTo(file));
  }

  const arrivals: Array<{ key: DeliveryKey; file: MaildirFile; size: number }> = [];
  const incomplete = new Set<MaildirSubdir>();
  for (const [baseName, file] of files) {
    if (known.has(baseName)) continue;
    await slicer.pause();
    const size = sizes.get(baseName);
    const key = size === undefined ? undefined : deliveryKey(dir, baseName, file);
    if (size === undefined || key === undefined) incomplete.add(file.subdir);
    else arrivals.push({ key, file, size });
  }
  await sortInSlices(arrivals, (a, b) => compareDelivery(a.key, b.key), slicer);

  let nextUid = base.nextUid;
  const importedUids = new Set<number>();
  for (const { key, file, size } of arrivals) {
    const dovecotUid = dovecot?.uidsByBaseName.get(key.name);
    const imported = dovecotUid !== undefined && !importedUids.has(dovecotUid);
    if (imported) importedUids.add(dovecotUid);
    messages.push(MaildirMessage.at(imported ? dovecotUid : nextUid++, size, file));
  }
  if (importedUids.size > 0) await sortInSlices(messages, (a, b) => a.uid - b.uid, slicer);

  // A listing that left files out cannot vouch for its directory.
  const ctimes: DirectoryCtimes = {
    new: incomplete.has("new") ? 0n : observation.ctimes.new,
    cur: incomplete.has("cur") ? 0n : observation.ctimes.cur,
  };
  const list: UidListDraft = { uidValidity: base.uidValidity, nextUid, ctimes, messages };
  const changed = previous === undefined || removed || arrivals.length > 0 || !sameCtimes(previous.ctimes, ctimes);
  return { list, changed, uidsAssigned: previous === undefined || arrivals.length > 0 };
}
