/**
 * Bringing an mbox index up to date with the file, cheapest first:
 *   1. the file is exactly what the index describes → use it as is (no read but two small crcs);
 *   2. the file only grew (same inode, same head and tail up to the recorded size) → parse from the
 *      last known message on;
 *   3. anything else → parse it all. If the old messages are still where they were, they keep
 *      their UIDs by position; otherwise someone rewrote the file, UIDs follow the identity digest
 *      (key + body size, duplicates in order), and the epoch advances.
 * New messages get the next UIDs and a UIDL of their own that never changes afterwards.
 */
import { fstatSync } from "node:fs";
import { StoreError } from "../maildrop.ts";
import { filePeek, scanMbox, type ParseOptions, type ScannedMessage } from "./mbox-parser.ts";
import { MAX_UIDL_LENGTH } from "./message-identity.ts";
import type { FileState, IndexEntry, MboxIndex } from "./mbox-index.ts";

/** Bytes at each end of the file whose crc, with inode, size and mtime, says "unchanged". */
const FINGERPRINT_BYTES = 4096;

export interface RefreshOptions {
  readonly parse: ParseOptions;
  /** Whether a message's own X-UIDL header becomes its UIDL (otherwise the identity digest does). */
  readonly reuseXUidl: boolean;
}

export interface RefreshResult {
  readonly index: MboxIndex;
  /** Whether `index` differs from the recorded one and should be written. */
  readonly changed: boolean;
}

export function parseSettingsTag(options: ParseOptions): string {
  return `${options.quoting}-${options.contentLength ? "cl" : "nocl"}`;
}

function crcOf(fd: number, position: number, length: number): number {
  return Bun.hash.crc32(filePeek(fd, position + length)(position, length));
}

function fingerprint(fd: number, size: number): { headCrc: number; tailCrc: number } {
  const length = Math.min(size, FINGERPRINT_BYTES);
  return { headCrc: crcOf(fd, 0, length), tailCrc: crcOf(fd, size - length, length) };
}

export function fileState(fd: number): FileState {
  const st = fstatSync(fd, { bigint: true });
  const size = Number(st.size);
  return { dev: st.dev, ino: st.ino, size, mtimeNs: st.mtimeNs, ...fingerprint(fd, size) };
}

function sameState(a: FileState, b: FileState): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.headCrc === b.headCrc && a.tailCrc === b.tailCrc;
}

/** The recorded bytes are still the first bytes of the file (which may have grown). */
function onlyGrew(fd: number, recorded: FileState, now: FileState): boolean {
  if (recorded.size < 0 || recorded.dev !== now.dev || recorded.ino !== now.ino || now.size <= recorded.size) return false;
  const length = Math.min(recorded.size, FINGERPRINT_BYTES);
  return crcOf(fd, 0, length) === recorded.headCrc && crcOf(fd, recorded.size - length, length) === recorded.tailCrc;
}

function sameMessage(a: ScannedMessage, b: ScannedMessage): boolean {
  return a.offset === b.offset && a.fromCrc === b.fromCrc && a.key === b.key && a.bodySize === b.bodySize;
}

function identity(m: ScannedMessage): string {
  return `${m.key}/${m.bodySize}`;
}

/** Parsed messages paired with the recorded entry they continue, if any. */
type Pairing = Array<IndexEntry | undefined>;

function pairByPosition(recorded: readonly IndexEntry[], parsed: readonly ScannedMessage[]): Pairing | undefined {
  for (let i = 0; i < recorded.length; i++) if (parsed[i] === undefined || !sameMessage(recorded[i]!, parsed[i]!)) return undefined;
  return parsed.map((_, i) => recorded[i]);
}

function pairByIdentity(recorded: readonly IndexEntry[], parsed: readonly ScannedMessage[]): Pairing {
  const queues = new Map<string, IndexEntry[]>();
  for (const entry of recorded) {
    const id = identity(entry);
    const queue = queues.get(id);
    if (queue === undefined) queues.set(id, [entry]);
    else queue.push(entry);
  }
  return parsed.map((m) => queues.get(identity(m))?.shift());
}

class UidlAllocator {
  private readonly inUse = new Set<string>();

  constructor(kept: Iterable<string>) {
    for (const uidl of kept) this.inUse.add(uidl);
  }

  /**
   * A new message's UIDL: its X-UIDL or key, or — when another message has it already — that with
   * the message's own UID appended, which no later message can take.
   */
  take(message: ScannedMessage, uid: number, reuseXUidl: boolean): string {
    const base = reuseXUidl && message.xUidl !== undefined ? message.xUidl : message.key;
    const candidates = [base, `${base}-${uid}`, `${message.key}-${uid}`];
    let uidl = candidates.find((c) => c.length <= MAX_UIDL_LENGTH && !this.inUse.has(c));
    for (let n = 2; uidl === undefined; n++) {
      const candidate = `${message.key}-${uid}-${n}`;
      if (!this.inUse.has(candidate)) uidl = candidate;
    }
    this.inUse.add(uidl);
    return uidl;
  }
}

interface Numbering {
  uidValidity: number;
  nextUid: number;
}

function numberMessages(
  parsed: readonly ScannedMessage[],
  pairing: Pairing,
  numbering: Numbering,
  reuseXUidl: boolean,
  otherUidls: readonly string[] = [],
): IndexEntry[] {
  const allocator = new UidlAllocator([...otherUidls, ...pairing.flatMap((entry) => (entry === undefined ? [] : [entry.uidl]))]);
  return parsed.map((message, i) => {
    const known = pairing[i];
    if (known !== undefined) return { ...message, uid: known.uid, uidl: known.uidl };
    const uid = numbering.nextUid++;
    return { ...message, uid, uidl: allocator.take(message, uid, reuseXUidl) };
  });
}

function notAnMbox(path: string, detail: string): StoreError {
  return new StoreError("perm", "Mailbox has an invalid format", `${path}: ${detail}`);
}

/** The index describing the locked mbox open at `fd`. */
export async function refreshIndex(path: string, fd: number, recorded: MboxIndex | undefined, options: RefreshOptions, nowMs = Date.now()): Promise<RefreshResult> {
  const now = fileState(fd);
  const settings = parseSettingsTag(options.parse);
  const usable = recorded !== undefined && recorded.settings === settings ? recorded : undefined;
  if (usable !== undefined && sameState(usable.file, now)) return { index: usable, changed: false };

  const numbering: Numbering = recorded ?? { uidValidity: Math.max(1, Math.floor(nowMs / 1000)), nextUid: 1 };
  const { uidValidity } = numbering;
  const epoch = recorded?.epoch ?? 0;
  const base = { uidValidity, settings, file: now };

  if (usable !== undefined && usable.entries.length > 0 && onlyGrew(fd, usable.file, now)) {
    const last = usable.entries[usable.entries.length - 1]!;
    const tail = await scanMbox(fd, last.offset, now.size, options.parse);
    if (tail.end === now.size && tail.messages.length > 0 && sameMessage(last, tail.messages[0]!)) {
      const kept = usable.entries.slice(0, -1);
      const pairing: Pairing = tail.messages.map((_, i) => (i === 0 ? last : undefined));
      const counter = { ...numbering };
      const added = numberMessages(tail.messages, pairing, counter, options.reuseXUidl, kept.map((e) => e.uidl));
      return { index: { ...base, nextUid: counter.nextUid, epoch, entries: [...kept, ...added] }, changed: true };
    }
  }

  const scan = await scanMbox(fd, 0, now.size, options.parse);
  if (scan.end !== now.size) throw new StoreError("temp", "Mailbox is locked", `${path} shrank from ${now.size} to ${scan.end} bytes while locked and being read`);
  if (scan.junkBeforeFirstMessage) throw notAnMbox(path, "text before the first From_ line");
  const previous = recorded?.entries ?? [];
  const byPosition = pairByPosition(previous, scan.messages);
  const pairing = byPosition ?? pairByIdentity(previous, scan.messages);
  const counter = { ...numbering };
  const entries = numberMessages(scan.messages, pairing, counter, options.reuseXUidl);
  const rewritten = byPosition === undefined;
  return { index: { ...base, nextUid: counter.nextUid, epoch: rewritten ? epoch + 1 : epoch, entries }, changed: true };
}
