/**
 * The uid list kept inside each Maildir (`pop3d-uidlist`), the store's only state:
 *
 *   pop3d-uidlist 1 <uidvalidity> <next uid> <new/ ctime ns> <cur/ ctime ns>
 *   <uid> <size> <new|cur>/<file name>        (one line per message, ascending uid)
 *
 * Messages are identified by base name (the file name before `:`); the full name is where the
 * message was last seen. The directory ctimes say which directory state the list describes, so a
 * login can trust it without listing 20,000 files; 0 means "not known, list the directories".
 * The file is replaced whole (temp file, fsync, rename): a crash leaves the old or the new list.
 */
import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { maildirBaseName } from "./maildir-name.ts";
import type { MaildirFile } from "./maildir-scan.ts";
import { isNotFound } from "./store-errors.ts";

export const UID_LIST_FILE = "pop3d-uidlist";
export const UID_LIST_LOCK_FILE = "pop3d-uidlist.lock";
/** Written under the lock, so one fixed name suffices; a leftover from a crash is just overwritten. */
export const UID_LIST_TEMP_FILE = "pop3d-uidlist.tmp";
const FORMAT_TAG = "pop3d-uidlist";
const FORMAT_VERSION = "1";
/** The list is mail metadata and gets the same privacy as the mail. */
const UID_LIST_MODE = 0o600;

export interface MaildirMessage {
  readonly uid: number;
  /** Wire size (crlf-size.ts), cached so later logins never read the message. */
  readonly size: number;
  readonly baseName: string;
  /** Where the message was last seen; flag changes and new/→cur/ moves change it. */
  file: MaildirFile;
}

export interface DirectoryCtimes {
  readonly newDir: bigint;
  readonly curDir: bigint;
}

export const UNKNOWN_CTIMES: DirectoryCtimes = { newDir: 0n, curDir: 0n };

export interface UidList {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly ctimes: DirectoryCtimes;
  /** Ascending by uid. */
  readonly messages: readonly MaildirMessage[];
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Decimal digits of line[from, to), or -1; hand-rolled because this runs 40,000 times a login. */
function decimalAt(line: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = line.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function parseCtime(text: string): bigint | undefined {
  return /^\d+$/.test(text) ? BigInt(text) : undefined;
}

function parseMessageLine(line: string, nextUid: number): MaildirMessage | undefined {
  const afterUid = line.indexOf(" ");
  const afterSize = afterUid < 0 ? -1 : line.indexOf(" ", afterUid + 1);
  if (afterSize < 0) return undefined;
  const uid = decimalAt(line, 0, afterUid);
  const size = decimalAt(line, afterUid + 1, afterSize);
  if (uid <= 0 || uid >= nextUid || size < 0 || line.charCodeAt(afterSize + 4) !== 47) return undefined;
  const subdir = line.slice(afterSize + 1, afterSize + 4);
  if (subdir !== "new" && subdir !== "cur") return undefined;
  const name = line.slice(afterSize + 5);
  if (name === "") return undefined;
  return { uid, size, baseName: maildirBaseName(name), file: { subdir, name } };
}

/**
 * Parse the list; undefined if the header is unusable. Bad lines are dropped: those messages then
 * get fresh UIDs above nextUid, which costs a re-download but never a clash. The writer never puts
 * a base name twice; a hand-edited duplicate is resolved when the list is next updated.
 */
export function parseUidList(text: string): UidList | undefined {
  const lines = text.split("\n");
  const header = lines[0].split(" ");
  if (header.length !== 6 || header[0] !== FORMAT_TAG || header[1] !== FORMAT_VERSION) return undefined;
  const uidValidity = Number(header[2]);
  const nextUid = Number(header[3]);
  const newDir = parseCtime(header[4]);
  const curDir = parseCtime(header[5]);
  if (!isCount(uidValidity) || uidValidity === 0 || !isCount(nextUid) || nextUid === 0) return undefined;
  if (newDir === undefined || curDir === undefined) return undefined;

  const messages: MaildirMessage[] = [];
  let sorted = true;
  let dropped = false;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === "") continue;
    const message = parseMessageLine(lines[i], nextUid);
    if (message === undefined) {
      dropped = true;
      continue;
    }
    if (messages.length > 0 && message.uid <= messages[messages.length - 1].uid) sorted = false;
    messages.push(message);
  }
  if (!sorted) {
    messages.sort((a, b) => a.uid - b.uid);
    for (let i = messages.length - 1; i > 0; i--) if (messages[i].uid === messages[i - 1].uid) messages.splice(i, 1);
  }
  // A damaged list no longer proves anything about the directories.
  const ctimes = dropped || !sorted ? UNKNOWN_CTIMES : { newDir, curDir };
  return { uidValidity, nextUid, ctimes, messages };
}

export function serializeUidList(list: UidList): string {
  const { uidValidity, nextUid, ctimes } = list;
  const parts = [`${FORMAT_TAG} ${FORMAT_VERSION} ${uidValidity} ${nextUid} ${ctimes.newDir} ${ctimes.curDir}\n`];
  for (const m of list.messages) parts.push(`${m.uid} ${m.size} ${m.file.subdir}/${m.file.name}\n`);
  return parts.join("");
}

/** The list of the Maildir at `dir`, or undefined if there is none yet (or it is unusable). */
export function readUidList(dir: string): UidList | undefined {
  let text: string;
  try {
    text = readFileSync(`${dir}/${UID_LIST_FILE}`, "utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  return parseUidList(text);
}

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace the list atomically. The caller holds the uid list lock. */
export function writeUidList(dir: string, list: UidList): void {
  const tempPath = `${dir}/${UID_LIST_TEMP_FILE}`;
  const data = Buffer.from(serializeUidList(list), "utf8");
  const fd = openSync(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, UID_LIST_MODE);
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tempPath, `${dir}/${UID_LIST_FILE}`);
  fsyncDirectory(dir);
}
