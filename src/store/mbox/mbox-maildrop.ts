/**
 * One login's snapshot of an mbox (RFC 1939 section 3: the maildrop as it was at login). The session reads messages through a descriptor opened
 * while the snapshot was taken, so a rewrite by another session (a rename) does not move them under
 * it. Nothing changes on disk before commit() (RFC 1939 section 6, the UPDATE state).
 */
import { readSync } from "node:fs";
import { StoreError, type CommitRequest, type CommitResult, type Maildrop, type MessageInfo, type MessageSource } from "../maildrop.ts";
import { FileLockTimeoutError } from "../../sys/file-lock.ts";
import type { FromQuoting } from "./mbox-format.ts";
import { readIndex, writeIndex, type MboxIndex } from "./mbox-index.ts";
import { MboxSnapshot, type SnapshotEntry } from "./mbox-snapshot.ts";
import { TimeSlicer } from "../fs/time-slice.ts";
import { closeMboxDescriptor, withMboxLock, type MboxLock } from "./mbox-lock.ts";
import { refreshIndex, type RefreshOptions } from "./index-refresh.ts";
import { changedByOthers, rewriteMbox } from "./mbox-rewrite.ts";
import { MboxMessageSource } from "./message-source.ts";

const COULD_NOT_READ = "Could not read message file";

export interface MboxSessionOptions {
  readonly refresh: RefreshOptions;
  /** Whether messages carry their recorded UIDL (false: uidl_format renders uid and uidvalidity). */
  readonly storeUidls: boolean;
  readonly lockTimeoutMs: number;
}

export class MboxMaildrop implements Maildrop {
  readonly newUidl = true;
  readonly uidValidity: number;
  readonly messages: readonly MessageInfo[];
  private readonly epoch: number;
  private closed = false;

  private constructor(
    private readonly path: string,
    index: MboxIndex,
    private readonly snapshot: MboxSnapshot,
    messages: readonly MessageInfo[],
    /** Read-only descriptor of the mbox the snapshot describes; undefined when there is no mbox. */
    private readonly fd: number | undefined,
    private readonly options: MboxSessionOptions,
  ) {
    this.uidValidity = index.uidValidity;
    this.epoch = index.epoch;
    this.messages = messages;
  }

  /** The session's snapshot of `index`, kept compact (mbox-snapshot.ts); the index entries can go. */
  static async of(path: string, index: MboxIndex, fd: number | undefined, options: MboxSessionOptions): Promise<MboxMaildrop> {
    const slicer = new TimeSlicer();
    const snapshot = await MboxSnapshot.of(index.entries, options.storeUidls, slicer);
    return new MboxMaildrop(path, index, snapshot, await snapshot.messageList(slicer), fd, options);
  }

  /** Every byte the snapshot keeps for its messages. */
  get snapshotBytes(): number {
    return this.snapshot.byteLength;
  }

  open(index: number): MessageSource {
    const entry = this.entry(index);
    const describe = `${this.path} message uid ${entry.uid} at offset ${entry.offset}`;
    if (this.closed || this.fd === undefined) throw new StoreError("perm", COULD_NOT_READ, `${describe}: maildrop closed`);
    const fromLength = entry.contentStart - entry.offset;
    const fromLine = Buffer.alloc(fromLength);
    let got: number;
    try {
      got = readSync(this.fd, fromLine, 0, fromLength, entry.offset);
    } catch (error) {
      throw new StoreError("perm", COULD_NOT_READ, `${describe}: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Another program may have rewritten the file in place since the snapshot.
    if (got !== fromLength || Bun.hash.crc32(fromLine) >>> 0 !== entry.fromCrc) {
      throw new StoreError("perm", COULD_NOT_READ, `${describe}: its From_ line is no longer there`);
    }
    const quoting: FromQuoting = entry.unquote ? this.options.refresh.parse.quoting : "none";
    return new MboxMessageSource(this.fd, entry.contentStart, entry.contentEnd, quoting, describe);
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    if (this.closed) throw new Error(`maildrop ${this.path} committed after close`);
    const deleteUids = new Set(request.deleted.map((i) => this.entry(i).uid));
    if (deleteUids.size === 0) return { expunged: 0, mailboxName: this.path };
    try {
      return await withMboxLock(this.path, (lock) => this.expungeLocked(lock, deleteUids), this.options.lockTimeoutMs);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      if (error instanceof FileLockTimeoutError) throw new StoreError("temp", `Mailbox ${this.path} is locked; nothing was deleted`, error.message);
      throw new StoreError("perm", `System I/O error on ${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== undefined) closeMboxDescriptor(this.path, this.fd);
  }

  private entry(index: number): SnapshotEntry {
    if (!Number.isInteger(index) || index < 0 || index >= this.snapshot.count) {
      throw new RangeError(`message index ${index} outside 0..${this.snapshot.count - 1} of ${this.path}`);
    }
    return this.snapshot.entry(index);
  }

  private async expungeLocked(lock: MboxLock, deleteUids: ReadonlySet<number>): Promise<CommitResult> {
    // The whole mbox removed meanwhile: its messages are gone, which is what DELE asked (RFC 1939 section 6).
    if (lock.fd === undefined) return { expunged: 0, mailboxName: this.path };
    const { index, changed } = await refreshIndex(this.path, lock.fd, await readIndex(this.path), this.options.refresh);
    if (index.uidValidity !== this.uidValidity || index.epoch !== this.epoch) {
      if (changed) await writeIndex(this.path, index);
      throw changedByOthers(this.path, `index uidvalidity/epoch ${this.uidValidity}/${this.epoch} became ${index.uidValidity}/${index.epoch}`);
    }
    // Messages another session already removed are skipped (as Cyrus's pop3d.c update does).
    if (!index.entries.some((e) => deleteUids.has(e.uid))) {
      if (changed) await writeIndex(this.path, index);
      return { expunged: 0, mailboxName: this.path };
    }
    const result = await rewriteMbox(this.path, lock, index, deleteUids);
    try {
      await writeIndex(this.path, { ...index, file: result.file, entries: result.entries });
    } catch {
      // The mbox is already replaced; an index that no longer matches it is re-derived at the next
      // login (UIDs follow the identity digest), so the expunge still stands.
    }
    return { expunged: result.expunged, mailboxName: this.path };
  }
}
