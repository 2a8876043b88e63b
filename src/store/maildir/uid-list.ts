/**
 * The uid list kept inside each Maildir (`pop3d-uidlist`), the store's only state:
 *
 *   pop3d-uidlist 1 <uidvalidity> <next uid> <new/ ctime ns> <cur/ ctime ns>
 *   <uid> <size> <new|cur>/<file name>        (one line per message, ascending uid)
 *
 * Messages are identified by base name (the file name before `:`); the full name is where the
 * message was last seen. A directory ctime says which state of that directory the list describes,
 * so a login can trust the list without listing 20,000 files; 0 means "not known, list it".
 * The file is replaced whole (temp file, fsync, rename): a crash leaves the old or the new list.
 */
import { closeSync } from "node:fs";
import { rename } from "node:fs/promises";
import { createFreshFile, isNotRegularFile, readRegularFile } from "../fs/safe-open.ts";
import { UNKNOWN_CTIMES, type DirectoryCtimes } from "./directory-state.ts";
import type { MaildirMessage } from "./maildir-message.ts";
import { isNotFound } from "../fs/errors.ts";
import { fsyncAsync, fsyncDirectoryAsync, writeAllAsync } from "../fs/durable.ts";
import { TimeSlicer } from "../fs/time-slice.ts";
import { UidTable, UidTableBuilder } from "./uid-table.ts";

export const UID_LIST_FILE = "pop3d-uidlist";
export const UID_LIST_LOCK_FILE = "pop3d-uidlist.lock";
/** Written under the lock, so one fixed name suffices; a leftover from a crash is just overwritten. */
export const UID_LIST_TEMP_FILE = "pop3d-uidlist.tmp";
const FORMAT_TAG = "pop3d-uidlist";
const FORMAT_VERSION = "1";
/** The list is mail metadata and gets the same privacy as the mail. */
const UID_LIST_MODE = 0o600;

export interface UidListHeader {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly ctimes: DirectoryCtimes;
}

/** A list as read from its file: the messages, ascending by uid, in a compact table. */
export interface UidList extends UidListHeader {
  readonly table: UidTable;
}

/** A list being written: messages as objects (uid-assignment.ts), ascending by uid. */
export interface UidListDraft extends UidListHeader {
  readonly messages: readonly MaildirMessage[];
}

const LF = 10;
const SPACE = 32;
const SLASH = 47;
const NEWLINE = Buffer.from("\n");

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** "new" or "cur" if bytes[at, at + 4) is `new/` or `cur/`. */
function subdirAt(bytes: Buffer, at: number): "new" | "cur" | undefined {
  if (bytes[at + 3] !== SLASH) return undefined;
  const a = bytes[at];
  const b = bytes[at + 1];
  const c = bytes[at + 2];
  if (a === 110 && b === 101 && c === 119) return "new";
  if (a === 99 && b === 117 && c === 114) return "cur";
  return undefined;
}

/** Decimal numbers of at most this many digits are exact in a double. */
const MAX_DIGITS = 15;

function parseCtime(text: string | undefined): bigint | undefined {
  return text !== undefined && /^\d+$/.test(text) ? BigInt(text) : undefined;
}

function parseHeader(line: string): UidListHeader | undefined {
  const fields = line.split(" ");
  if (fields.length !== 6 || fields[0] !== FORMAT_TAG || fields[1] !== FORMAT_VERSION) return undefined;
  const uidValidity = Number(fields[2]);
  const nextUid = Number(fields[3]);
  const newDir = parseCtime(fields[4]);
  const curDir = parseCtime(fields[5]);
  if (!isCount(uidValidity) || uidValidity === 0 || !isCount(nextUid) || nextUid === 0) return undefined;
  if (newDir === undefined || curDir === undefined) return undefined;
  return { uidValidity, nextUid, ctimes: { new: newDir, cur: curDir } };
}

/**
 * Parse the list; undefined if the header is unusable. Bad lines are dropped: those messages then
 * get fresh UIDs above nextUid, which costs a re-download but never a clash. The writer never puts
 * a base name twice; a hand-edited duplicate is resolved when the list is next updated. Works on
 * bytes and leaves file names undecoded, and yields to the event loop between slices (a login on
 * a big Maildir parses 100,000 lines).
 */
export async function parseUidList(data: Buffer | string, slicer = new TimeSlicer()): Promise<UidList | undefined> {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const headerEnd = bytes.indexOf(LF);
  const header = parseHeader(bytes.toString("utf8", 0, headerEnd < 0 ? bytes.length : headerEnd));
  if (header === undefined) return undefined;

  const rows = new UidTableBuilder(bytes, Math.ceil(bytes.length / 48));
  let sorted = true;
  let dropped = false;
  // One pass over the bytes with the number parsing inlined: this loop runs once per message.
  const length = bytes.length;
  let lastUid = 0;
  for (let pos = headerEnd < 0 ? length : headerEnd + 1, n = 0; pos < length; n++) {
    if ((n & 127) === 0 && slicer.due()) await slicer.yield();
    let end = bytes.indexOf(LF, pos);
    if (end < 0) end = length;
    let at = pos;
    let uid = 0;
    for (let digit; at < end && (digit = bytes[at]! - 48) >= 0 && digit <= 9; at++) uid = uid * 10 + digit;
    const uidDigits = at - pos;
    const sizeStart = at + 1;
    let size = 0;
    if (bytes[at] === SPACE) for (at++; at < end && bytes[at]! >= 48 && bytes[at]! <= 57; at++) size = size * 10 + bytes[at]! - 48;
    const pathAt = at + 1;
    const valid =
      uidDigits > 0 && uidDigits <= MAX_DIGITS && uid > 0 && uid < header.nextUid &&
      at > sizeStart && at - sizeStart <= MAX_DIGITS && bytes[at] === SPACE && end - pathAt >= 5;
    const subdir = valid ? subdirAt(bytes, pathAt) : undefined;
    if (subdir !== undefined) {
      if (uid <= lastUid) sorted = false;
      lastUid = uid;
      rows.add(uid, size, pos, pathAt, end);
    } else if (end > pos) {
      dropped = true;
    }
    pos = end + 1;
  }
  // A damaged list no longer proves anything about the directories.
  return { ...header, ctimes: dropped || !sorted ? UNKNOWN_CTIMES : header.ctimes, table: rows.build(sorted) };
}

/** The list's messages as objects that still point into its bytes, for an update. */
export function draftOf(list: UidList): UidListDraft {
  const { uidValidity, nextUid, ctimes, table } = list;
  return { uidValidity, nextUid, ctimes, messages: Array.from({ length: table.count }, (_, i) => table.message(i)) };
}

/** Unchanged lines are copied from the list they were read from, in runs, rather than re-encoded. */
export async function serializeUidList(list: UidListDraft, slicer = new TimeSlicer()): Promise<Buffer> {
  const { uidValidity, nextUid, ctimes } = list;
  const parts: Uint8Array[] = [Buffer.from(`${FORMAT_TAG} ${FORMAT_VERSION} ${uidValidity} ${nextUid} ${ctimes.new} ${ctimes.cur}\n`)];
  let runBytes: Buffer | undefined;
  let runStart = 0;
  let runEnd = 0;
  // New lines are gathered as text and encoded a batch at a time: one Buffer per line would leave
  // 100,000 objects for the collector after a first login.
  let text = "";
  let n = 0;
  const flushText = (): void => {
    if (text !== "") parts.push(Buffer.from(text, "utf8"));
    text = "";
  };
  for (const message of list.messages) {
    if ((n++ & 255) === 0 && slicer.due()) {
      flushText();
      await slicer.yield();
    }
    const source = message.listSource;
    if (source !== undefined && source === runBytes && message.listLineStart === runEnd + 1) {
      runEnd = message.listLineEnd;
      continue;
    }
    if (runBytes !== undefined) parts.push(runBytes.subarray(runStart, runEnd), NEWLINE);
    runBytes = source;
    if (source !== undefined) {
      flushText();
      runStart = message.listLineStart;
      runEnd = message.listLineEnd;
    } else {
      text += `${message.uid} ${message.size} ${message.file.subdir}/${message.file.name}\n`;
    }
  }
  if (runBytes !== undefined) parts.push(runBytes.subarray(runStart, runEnd), NEWLINE);
  flushText();
  return Buffer.concat(parts);
}

/**
 * The raw list of the Maildir at `dir`, or undefined if it has none yet (or something other than a
 * file sits under its name; the next write replaces it). Read off the JS thread.
 */
export async function readUidListBytes(dir: string): Promise<Buffer | undefined> {
  try {
    return await readRegularFile(`${dir}/${UID_LIST_FILE}`);
  } catch (error) {
    if (isNotFound(error) || isNotRegularFile(error)) return undefined;
    throw error;
  }
}

/** The list of the Maildir at `dir`, or undefined if there is none yet (or it is unusable). */
export async function readUidList(dir: string): Promise<UidList | undefined> {
  const bytes = await readUidListBytes(dir);
  return bytes === undefined ? undefined : parseUidList(bytes);
}

export interface UidListWriteOptions {
  /**
   * Also fsync the directory so the rename itself survives a crash. Needed when the list hands out
   * new UIDs; a list that only forgets messages or records ctimes may safely fall back to the old one.
   */
  readonly durableRename: boolean;
}

/** Drop the messages with these base names from the list on disk (caller holds the lock). */
export async function forgetInUidList(dir: string, gone: ReadonlySet<string>): Promise<void> {
  const list = await readUidList(dir);
  if (list === undefined) return;
  const draft = draftOf(list);
  const messages = draft.messages.filter((m) => !gone.has(m.baseName));
  if (messages.length === draft.messages.length) return;
  // What the directories hold changed: their listing must be taken again.
  const bytes = await serializeUidList({ ...draft, ctimes: UNKNOWN_CTIMES, messages });
  await writeUidList(dir, bytes, { durableRename: false });
}

/**
 * Replace the list atomically with `data` (serializeUidList). The caller holds the uid list lock.
 * The data is always fsynced before the rename: some filesystems would otherwise leave an empty
 * list after a crash, and a lost list means a new UIDVALIDITY and every client downloading
 * everything again. Writes and fsyncs run off the JS thread.
 */
export async function writeUidList(dir: string, data: Buffer, options: UidListWriteOptions): Promise<void> {
  const tempPath = `${dir}/${UID_LIST_TEMP_FILE}`;
  const fd = createFreshFile(tempPath, UID_LIST_MODE);
  try {
    await writeAllAsync(fd, data);
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
  await rename(tempPath, `${dir}/${UID_LIST_FILE}`);
  if (options.durableRename) await fsyncDirectoryAsync(dir);
}
