/**
 * One login's snapshot of a Maildir (RFC 1939 section 3: the maildrop as it was at login): the
 * messages known when the session opened, in UID order, held as the uid list's compact table
 * (uid-table.ts). Mail delivered later is not in it and is never touched; nothing changes on disk
 * before commit() (the UPDATE state).
 */
import { lstatSync, renameSync, unlinkSync } from "node:fs";
import { isNotRegularFile, openRegularFile } from "../fs/safe-open.ts";
import { StoreError, type CommitRequest, type CommitResult, type Maildrop, type MessageInfo, type MessageSource } from "../maildrop.ts";
import { FileLockTimeoutError, withFileLock } from "../../sys/file-lock.ts";
import { nameWithSeenFlag } from "./maildir-name.ts";
import { messagePath, sameFile, scanMaildirNow, type MaildirFile } from "./maildir-scan.ts";
import { FileMessageSource } from "../file-message-source.ts";
import { describeError, errorCode, isNotFound } from "../fs/errors.ts";
import { fsyncDirectoryAsync } from "../fs/durable.ts";
import { buildMessageList, LISTED_MESSAGE_BYTES, type ListedMessage } from "../message-list.ts";
import { TimeSlicer } from "../fs/time-slice.ts";
import type { UidTable } from "./uid-table.ts";
import { forgetInUidList, UID_LIST_LOCK_FILE } from "./uid-list.ts";
import { clearExpungeIntent, writeExpungeIntent } from "./expunge-intent.ts";

const COULD_NOT_READ = "Could not read message file";

type Outcome = "done" | "gone";

export class MaildirMaildrop implements Maildrop {
  readonly newUidl = true;
  readonly messages: readonly MessageInfo[];
  /** Open message files; made at the first (most sessions on a shelf never fetch: no Set for them). */
  private sources: Set<MessageSource> | undefined;
  private closed = false;
  /** Rows whose file was found elsewhere than the list said (new/→cur/, flag changes); made at the first. */
  private moved: Map<number, MaildirFile> | undefined;
  /**
   * The last full listing, taken when a message was not where it was; kept for the next messages
   * (an IMAP client usually moves many at once), and taken again at most once per operation.
   */
  private listing: ReadonlyMap<string, MaildirFile> | undefined;
  private listedThisOperation = false;

  private constructor(
    private readonly dir: string,
    readonly uidValidity: number,
    private readonly table: UidTable,
    messages: readonly ListedMessage[],
    private readonly markSeen: boolean,
  ) {
    this.messages = messages;
  }

  /** The snapshot of `table`, its message list built in time slices. */
  static async of(dir: string, uidValidity: number, table: UidTable, markSeen: boolean): Promise<MaildirMaildrop> {
    const messages = await buildMessageList(table.count, (i) => table.uid(i), (i) => table.size(i));
    return new MaildirMaildrop(dir, uidValidity, table, messages, markSeen);
  }

  /** Every byte the snapshot keeps for its messages: the table and the message list (moved entries are few). */
  get snapshotBytes(): number {
    return this.table.byteLength + this.table.count * LISTED_MESSAGE_BYTES;
  }

  open(index: number): MessageSource {
    this.checkIndex(index);
    this.listedThisOperation = false;
    for (;;) {
      const path = messagePath(this.dir, this.file(index));
      try {
        const sources = (this.sources ??= new Set());
        const source = new FileMessageSource(openRegularFile(path).fd, path, (closed) => sources.delete(closed));
        sources.add(source);
        return source;
      } catch (error) {
        if (isNotRegularFile(error) || !isNotFound(error)) throw new StoreError("perm", COULD_NOT_READ, `${path}: ${describeError(error)}`);
        if (!this.relocate(index)) throw new StoreError("perm", COULD_NOT_READ, `${path}: message ${this.table.baseName(index)} is gone`);
      }
    }
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    if (this.closed) throw new Error(`maildrop ${this.dir} committed after close`);
    const deleted = [...new Set(request.deleted)];
    for (const index of deleted) this.checkIndex(index);
    const deletedSet = new Set(deleted);
    const seen = this.markSeen ? request.retrieved.filter((i) => !deletedSet.has(i)) : [];
    for (const index of seen) this.checkIndex(index);
    if (deleted.length === 0 && seen.length === 0) return { expunged: 0, mailboxName: this.dir };
    try {
      return await withFileLock(`${this.dir}/${UID_LIST_LOCK_FILE}`, "write", () => this.applyUpdate(deleted, seen));
    } catch (error) {
      if (error instanceof StoreError) throw error;
      if (error instanceof FileLockTimeoutError) throw new StoreError("temp", "Mailbox is locked", error.message);
      throw new StoreError("perm", "System I/O error", `cannot update maildir ${this.dir}: ${describeError(error)}`);
    }
  }

  close(): void {
    this.closed = true;
    for (const source of [...(this.sources ?? [])]) source.close();
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.table.count) {
      throw new RangeError(`message index ${index} outside 0..${this.table.count - 1} of ${this.dir}`);
    }
  }

  private file(index: number): MaildirFile {
    return this.moved?.get(index) ?? this.table.file(index);
  }

  /**
   * Find a message that moved (new/→cur/, flag change); false when it is no longer there at all.
   * One listing serves every message of the operation, as an IMAP client usually renames many at once.
   */
  private relocate(index: number): boolean {
    const before = this.file(index);
    const baseName = this.table.baseName(index);
    const known = this.listing?.get(baseName);
    if (known !== undefined && !sameFile(known, before)) return this.movedTo(index, known);
    if (this.listedThisOperation) return false;
    // A MUA's first move is new/<name> → cur/<name>:2,[S]; two stats beat listing 100,000 names.
    if (before.subdir === "new") {
      for (const name of [`${before.name}:2,`, `${before.name}:2,S`]) {
        if (isRegularFile(`${this.dir}/cur/${name}`)) return this.movedTo(index, { subdir: "cur", name });
      }
    }
    this.listedThisOperation = true;
    try {
      this.listing = scanMaildirNow(this.dir);
    } catch {
      this.listing = new Map();
    }
    const file = this.listing.get(baseName);
    if (file === undefined || sameFile(file, before)) return false;
    return this.movedTo(index, file);
  }

  private movedTo(index: number, file: MaildirFile): true {
    (this.moved ??= new Map()).set(index, file);
    return true;
  }

  /** Apply `change` to the message's file, following it if it moved; "gone" if someone removed it. */
  private withCurrentFile(index: number, change: (path: string) => void): Outcome {
    for (;;) {
      try {
        change(messagePath(this.dir, this.file(index)));
        return "done";
      } catch (error) {
        if (!isNotFound(error) || !this.relocate(index)) {
          if (isNotFound(error)) return "gone";
          throw error;
        }
      }
    }
  }

  private async applyUpdate(deleted: readonly number[], seen: readonly number[]): Promise<CommitResult> {
    this.listedThisOperation = false;
    // All or nothing: once the intent is durable, a crash anywhere below is finished at the next
    // login (expunge-intent.ts); before it, nothing has changed.
    if (deleted.length > 0) {
      const entries = deleted.map((index) => ({ uid: this.table.uid(index), baseName: this.table.baseName(index) }));
      await writeExpungeIntent(this.dir, { uidValidity: this.uidValidity, entries });
    }
    const gone = new Set<string>();
    const failures: string[] = [];
    let expunged = 0;
    // A QUIT that deletes 100,000 messages unlinks for seconds: other sessions run in between.
    const slicer = new TimeSlicer();
    for (const index of deleted) {
      await slicer.pause();
      try {
        // Removing a message someone else already removed is harmless (RFC 1939 section 6).
        if (this.withCurrentFile(index, unlinkSync) === "done") expunged++;
        gone.add(this.table.baseName(index));
      } catch (error) {
        failures.push(`${messagePath(this.dir, this.file(index))}: ${errorCode(error) ?? describeError(error)}`);
      }
    }
    if (expunged > 0) {
      // The unlinks must be durable before the uid list forgets the messages.
      await fsyncDirectoryAsync(`${this.dir}/new`);
      await fsyncDirectoryAsync(`${this.dir}/cur`);
    }
    for (const index of seen) {
      await slicer.pause();
      this.markMessageSeen(index);
    }
    if (gone.size > 0) await forgetInUidList(this.dir, gone);
    if (deleted.length > 0) await clearExpungeIntent(this.dir);
    if (failures.length > 0) {
      throw new StoreError("perm", "Some deleted messages were not removed", `${this.dir}: expunged ${expunged}; ${failures.join("; ")}`);
    }
    return { expunged, mailboxName: this.dir };
  }

  /** \Seen for popuseimapflags (Cyrus's imapd.conf(5)): rename into cur/ with S among the `:2,` flags. */
  private markMessageSeen(index: number): void {
    try {
      this.withCurrentFile(index, (path) => {
        const file = this.file(index);
        const target = nameWithSeenFlag(file.name) ?? file.name;
        if (file.subdir === "cur" && target === file.name) return;
        renameSync(path, `${this.dir}/cur/${target}`);
        this.movedTo(index, { subdir: "cur", name: target });
      });
    } catch {
      // A missing \Seen flag is cosmetic; it must not turn a successful QUIT into an error.
    }
  }

}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}
