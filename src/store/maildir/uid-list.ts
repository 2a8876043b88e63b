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
import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { UNKNOWN_CTIMES, type DirectoryCtimes } from "./directory-state.ts";
import { MaildirMessage } from "./maildir-message.ts";
import { isNotFound } from "../fs/errors.ts";
import { fsyncDirectory } from "../fs/durable.ts";

export const UID_LIST_FILE = "pop3d-uidlist";
export const UID_LIST_LOCK_FILE = "pop3d-uidlist.lock";
/** Written under the lock, so one fixed name suffices; a leftover from a crash is just overwritten. */
export const UID_LIST_TEMP_FILE = "pop3d-uidlist.tmp";
const FORMAT_TAG = "pop3d-uidlist";
const FORMAT_VERSION = "1";
/** The list is mail metadata and gets the same privacy as the mail. */
const UID_LIST_MODE = 0o600;

export interface UidList {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly ctimes: DirectoryCtimes;
  /** Ascending by uid. */
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

function parseHeader(line: string): Omit<UidList, "messages"> | undefined {
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
 * bytes and leaves file names undecoded, because a login on a big Maildir runs this cold.
 */
export function parseUidList(data: Buffer | string): UidList | undefined {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const headerEnd = bytes.indexOf(LF);
  const header = parseHeader(bytes.toString("utf8", 0, headerEnd < 0 ? bytes.length : headerEnd));
  if (header === undefined) return undefined;

  const messages: MaildirMessage[] = [];
  let sorted = true;
  let dropped = false;
  // One pass over the bytes with the number parsing inlined: this loop runs cold (a fresh process
  // per inetd login) once per message, and calls or allocations in it show in the login time.
  const length = bytes.length;
  let lastUid = 0;
  for (let pos = headerEnd < 0 ? length : headerEnd + 1; pos < length; ) {
    let end = bytes.indexOf(LF, pos);
    if (end < 0) end = length;
    let at = pos;
    let uid = 0;
    for (let digit; at < end && (digit = bytes[at] - 48) >= 0 && digit <= 9; at++) uid = uid * 10 + digit;
    const uidDigits = at - pos;
    const sizeStart = at + 1;
    let size = 0;
    if (bytes[at] === SPACE) for (at++; at < end && bytes[at] >= 48 && bytes[at] <= 57; at++) size = size * 10 + bytes[at] - 48;
    const pathAt = at + 1;
    const valid =
      uidDigits > 0 && uidDigits <= MAX_DIGITS && uid > 0 && uid < header.nextUid &&
      at > sizeStart && at - sizeStart <= MAX_DIGITS && bytes[at] === SPACE && end - pathAt >= 5;
    const subdir = valid ? subdirAt(bytes, pathAt) : undefined;
    if (subdir !== undefined) {
      if (uid <= lastUid) sorted = false;
      lastUid = uid;
      messages.push(MaildirMessage.fromListLine(uid, size, subdir, bytes, pos, pathAt, end));
    } else if (end > pos) {
      dropped = true;
    }
    pos = end + 1;
  }
  if (!sorted) {
    messages.sort((a, b) => a.uid - b.uid);
    for (let i = messages.length - 1; i > 0; i--) if (messages[i].uid === messages[i - 1].uid) messages.splice(i, 1);
  }
  // A damaged list no longer proves anything about the directories.
  return { ...header, ctimes: dropped || !sorted ? UNKNOWN_CTIMES : header.ctimes, messages };
}

/** Unchanged lines are copied from the list they were read from, in runs, rather than re-encoded. */
export function serializeUidList(list: UidList): Buffer {
  const { uidValidity, nextUid, ctimes } = list;
  const parts: Uint8Array[] = [Buffer.from(`${FORMAT_TAG} ${FORMAT_VERSION} ${uidValidity} ${nextUid} ${ctimes.new} ${ctimes.cur}\n`)];
  let runBytes: Buffer | undefined;
  let runStart = 0;
  let runEnd = 0;
  for (const message of list.messages) {
    const source = message.listSource;
    if (source !== undefined && source === runBytes && message.listLineStart === runEnd + 1) {
      runEnd = message.listLineEnd;
      continue;
    }
    if (runBytes !== undefined) parts.push(runBytes.subarray(runStart, runEnd), NEWLINE);
    runBytes = source;
    if (source !== undefined) {
      runStart = message.listLineStart;
      runEnd = message.listLineEnd;
    } else {
      parts.push(Buffer.from(`${message.uid} ${message.size} ${message.file.subdir}/${message.file.name}\n`, "utf8"));
    }
  }
  if (runBytes !== undefined) parts.push(runBytes.subarray(runStart, runEnd), NEWLINE);
  return Buffer.concat(parts);
}

/** The raw list of the Maildir at `dir`, or undefined if it has none yet. */
export function readUidListBytes(dir: string): Buffer | undefined {
  try {
    return readFileSync(`${dir}/${UID_LIST_FILE}`);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The list of the Maildir at `dir`, or undefined if there is none yet (or it is unusable). */
export function readUidList(dir: string): UidList | undefined {
  const bytes = readUidListBytes(dir);
  return bytes === undefined ? undefined : parseUidList(bytes);
}

export interface UidListWriteOptions {
  /**
   * Also fsync the directory so the rename itself survives a crash. Needed when the list hands out
   * new UIDs; a list that only forgets messages or records ctimes may safely fall back to the old one.
   */
  readonly durableRename: boolean;
}

/**
 * Replace the list atomically. The caller holds the uid list lock. The data is always fsynced before
 * the rename: some filesystems would otherwise leave an empty list after a crash, and a lost list
 * means a new UIDVALIDITY and every client downloading everything again.
 */
export function writeUidList(dir: string, list: UidList, options: UidListWriteOptions): void {
  const tempPath = `${dir}/${UID_LIST_TEMP_FILE}`;
  const data = serializeUidList(list);
  const fd = openSync(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, UID_LIST_MODE);
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tempPath, `${dir}/${UID_LIST_FILE}`);
  if (options.durableRename) fsyncDirectory(dir);
}
