/**
 * The index kept next to each mbox (`.<name>.pop3d-index` in the mbox's directory): the UIDs and
 * UIDLs given out so far, and where every message sits, so that a login on an unchanged (or only
 * grown) mbox needs no full parse.
 *
 *   pop3d-mbox-index 1 <uidvalidity> <next uid> <epoch> <parse settings> <dev> <ino> <size> <mtime ns> <head crc> <tail crc>
 *   <uid> <offset> <From_ line length> <content length> <wire size> <body size> <From_ crc> <key> <u|n> <uidl>
 *
 * The file fields say which mbox state the entries describe. `epoch` counts the times the mbox was
 * found rewritten by another program; a commit refuses to work from a snapshot of an older epoch.
 * Written only under the mbox locks, replaced whole (temp file, fsync, rename).
 */
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { isNotRegularFile, readRegularFile } from "../fs/safe-open.ts";
import { basename, dirname } from "node:path";
import { fsyncAsync, fsyncDirectoryAsync, writeAllAsync } from "../fs/durable.ts";
import { TimeSlicer } from "../fs/time-slice.ts";
import { isNotFound } from "../fs/errors.ts";
import { isValidUidl } from "./message-identity.ts";
import type { ScannedMessage } from "./mbox-parser.ts";

const FORMAT_TAG = "pop3d-mbox-index";
const FORMAT_VERSION = "1";
/** The index is mail metadata and gets the same privacy as the mail. */
const INDEX_MODE = 0o600;

export interface IndexEntry extends ScannedMessage {
  readonly uid: number;
  /** The UIDL given out when the message was first seen (X-UIDL or key, made unique). */
  readonly uidl: string;
}

/** Which bytes an index describes. Head and tail crcs cover up to FINGERPRINT_BYTES at each end. */
export interface FileState {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly headCrc: number;
  readonly tailCrc: number;
}

/** A state no file has: forces a parse while keeping the entries for UID matching. */
export const UNKNOWN_FILE: FileState = { dev: 0n, ino: 0n, size: -1, mtimeNs: 0n, headCrc: 0, tailCrc: 0 };

export interface MboxIndex {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly epoch: number;
  /** The parse options the sizes were computed with (see parseSettingsTag). */
  readonly settings: string;
  readonly file: FileState;
  /** In file order. */
  readonly entries: readonly IndexEntry[];
}

export function indexPath(mboxPath: string): string {
  return `${dirname(mboxPath)}/.${basename(mboxPath)}.pop3d-index`;
}

function count(text: string | undefined): number {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return -1;
  return Number(text);
}

function bigCount(text: string | undefined): bigint | undefined {
  return text !== undefined && /^\d{1,30}$/.test(text) ? BigInt(text) : undefined;
}

function parseHeader(line: string): Omit<MboxIndex, "entries"> | undefined {
  const f = line.split(" ");
  if (f.length !== 12 || f[0] !== FORMAT_TAG || f[1] !== FORMAT_VERSION) return undefined;
  const [uidValidity, nextUid, epoch] = [count(f[2]), count(f[3]), count(f[4])];
  const [dev, ino, mtimeNs] = [bigCount(f[6]), bigCount(f[7]), bigCount(f[9])];
  const [size, headCrc, tailCrc] = [count(f[8]), count(f[10]), count(f[11])];
  if (uidValidity <= 0 || nextUid <= 0 || epoch < 0 || !f[5]) return undefined;
  const known = dev !== undefined && ino !== undefined && mtimeNs !== undefined && size >= 0 && headCrc >= 0 && tailCrc >= 0;
  const file = known ? { dev, ino, size, mtimeNs, headCrc, tailCrc } : UNKNOWN_FILE;
  return { uidValidity, nextUid, epoch, settings: f[5]!, file };
}

/** Where the last numberAt() stopped; a module variable, as this runs 7 times per message per login. */
let fieldEnd = 0;

/** The decimal number at line[from] ended by a space, or -1. */
function numberAt(line: string, from: number): number {
  let value = 0;
  let at = from;
  for (; at < line.length; at++) {
    const digit = line.charCodeAt(at) - 48;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  fieldEnd = at;
  return at > from && at - from <= 15 && line.charCodeAt(at) === 32 ? value : -1;
}

const KEY = /^[0-9a-f]{32}$/;

function parseEntry(line: string, nextUid: number): IndexEntry | undefined {
  const numbers = [0, 0, 0, 0, 0, 0, 0];
  let at = 0;
  for (let i = 0; i < numbers.length; i++) {
    const value = numberAt(line, at);
    if (value < 0) return undefined;
    numbers[i] = value;
    at = fieldEnd + 1;
  }
  const [uid, offset, fromLength, contentLength, wireSize, bodySize, fromCrc] = numbers as [number, number, number, number, number, number, number];
  const key = line.slice(at, at + 32);
  const quoting = line.charCodeAt(at + 33);
  const uidl = line.slice(at + 35);
  if (uid <= 0 || uid >= nextUid || fromLength <= 0 || line.charCodeAt(at + 32) !== 32 || line.charCodeAt(at + 34) !== 32) return undefined;
  if (!KEY.test(key) || (quoting !== 117 && quoting !== 110) || !isValidUidl(uidl)) return undefined;
  const contentStart = offset + fromLength;
  return {
    uid,
    offset,
    contentStart,
    contentEnd: contentStart + contentLength,
    wireSize,
    bodySize,
    fromCrc,
    key,
    xUidl: undefined,
    unquote: quoting === 117,
    uidl,
  };
}

/** Entries that tile the file in order; anything else cannot be trusted for offsets. */
function entriesFitFile(entries: readonly IndexEntry[], size: number): boolean {
  let previousEnd = 0;
  const uids = new Set<number>();
  for (const e of entries) {
    if (e.offset < previousEnd || e.contentEnd > size || uids.has(e.uid)) return false;
    uids.add(e.uid);
    previousEnd = e.contentEnd;
  }
  return true;
}

/**
 * Parse an index; undefined when its header is unusable. Damaged entry lines are dropped and the
 * file state forgotten: the mbox is then parsed again and the surviving entries still lend their
 * UIDs to the messages they match.
 */
export async function parseIndex(text: string, slicer = new TimeSlicer()): Promise<MboxIndex | undefined> {
  const headerEnd = text.indexOf("\n");
  const header = parseHeader(headerEnd < 0 ? text : text.slice(0, headerEnd));
  if (header === undefined) return undefined;
  const entries: IndexEntry[] = [];
  let damaged = false;
  for (let pos = headerEnd < 0 ? text.length : headerEnd + 1, n = 0; pos < text.length; n++) {
    if ((n & 255) === 0 && slicer.due()) await slicer.yield();
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 1;
    if (line === "") continue;
    const entry = parseEntry(line, header.nextUid);
    if (entry === undefined) damaged = true;
    else entries.push(entry);
  }
  if (damaged || !entriesFitFile(entries, header.file.size)) {
    const unique = new Map<number, IndexEntry>();
    const uidls = new Set<string>();
    for (const e of entries) {
      if (unique.has(e.uid) || uidls.has(e.uidl)) continue;
      unique.set(e.uid, e);
      uidls.add(e.uidl);
    }
    return { ...header, file: UNKNOWN_FILE, entries: [...unique.values()] };
  }
  return { ...header, entries };
}

export async function serializeIndex(index: MboxIndex, slicer = new TimeSlicer()): Promise<string> {
  const { file } = index;
  const parts = [
    `${FORMAT_TAG} ${FORMAT_VERSION} ${index.uidValidity} ${index.nextUid} ${index.epoch} ${index.settings} ` +
      `${file.dev} ${file.ino} ${file.size} ${file.mtimeNs} ${file.headCrc} ${file.tailCrc}\n`,
  ];
  for (const e of index.entries) {
    if ((parts.length & 255) === 0 && slicer.due()) await slicer.yield();
    parts.push(
      `${e.uid} ${e.offset} ${e.contentStart - e.offset} ${e.contentEnd - e.contentStart} ${e.wireSize} ${e.bodySize} ` +
        `${e.fromCrc} ${e.key} ${e.unquote ? "u" : "n"} ${e.uidl}\n`,
    );
  }
  return parts.join("");
}

/** The index of the mbox at `mboxPath`, or undefined if there is none (or it is unusable). Read off the JS thread. */
export async function readIndex(mboxPath: string): Promise<MboxIndex | undefined> {
  let text: string;
  try {
    // A shared mail directory lets anyone plant a FIFO under the index's name.
    text = (await readRegularFile(indexPath(mboxPath))).toString("latin1");
  } catch (error) {
    // Anything but our file under the index's name is no index; writeIndex replaces it.
    if (isNotFound(error) || isNotRegularFile(error)) return undefined;
    throw error;
  }
  return parseIndex(text);
}

/**
 * Create `path` afresh for writing. Removing a leftover first and creating with O_EXCL means a
 * symlink planted in a shared mail directory is never followed.
 */
export function createExclusive(path: string, mode: number, access = constants.O_WRONLY): number {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return openSync(path, access | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
}

export function writeAll(fd: number, data: Uint8Array, position: number | null = null): void {
  let written = 0;
  while (written < data.length) {
    written += writeSync(fd, data, written, data.length - written, position === null ? null : position + written);
  }
}

/** Replace the index atomically. The caller holds the mbox locks. Written and fsynced off the JS thread. */
export async function writeIndex(mboxPath: string, index: MboxIndex): Promise<void> {
  const target = indexPath(mboxPath);
  const tempPath = `${target}.new`;
  const data = Buffer.from(await serializeIndex(index), "latin1");
  const fd = createExclusive(tempPath, INDEX_MODE);
  try {
    await writeAllAsync(fd, data);
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tempPath, target);
  await fsyncDirectoryAsync(dirname(mboxPath));
}
