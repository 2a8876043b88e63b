/**
 * One login's snapshot of a Maildir (§5.2): the messages known when the session opened, in UID
 * order. Mail delivered later is not in it and is never touched; nothing changes on disk before
 * commit() (§5.5, §5.6).
 */
import { renameSync, unlinkSync } from "node:fs";
import { isNotRegularFile, openRegularFile } from "../fs/safe-open.ts";
import { StoreError, type CommitRequest, type CommitResult, type Maildrop, type MessageInfo, type MessageSource } from "../maildrop.ts";
import { FileLockTimeoutError, withFileLock } from "../../sys/file-lock.ts";
import { nameWithSeenFlag } from "./maildir-name.ts";
import { messagePath, sameFile, scanMaildir, type MaildirFile } from "./maildir-scan.ts";
import { FileMessageSource } from "../file-message-source.ts";
import { errorCode, isNotFound } from "../fs/errors.ts";
import { fsyncDirectory } from "../fs/durable.ts";
import type { MaildirMessage } from "./maildir-message.ts";
import { UNKNOWN_CTIMES } from "./directory-state.ts";
import { readUidList, UID_LIST_LOCK_FILE, writeUidList } from "./uid-list.ts";

const COULD_NOT_READ = "Could not read message file";

type Outcome = "done" | "gone";

export class MaildirMaildrop implements Maildrop {
  readonly newUidl = true;
  readonly messages: readonly MessageInfo[];
  private readonly sources = new Set<MessageSource>();
  private closed = false;
  /** A fresh listing, taken at most once per operation when a message is not where it was. */
  private relocated: ReadonlyMap<string, MaildirFile> | undefined;

  constructor(
    private readonly dir: string,
    readonly uidValidity: number,
    private readonly snapshot: MaildirMessage[],
    private readonly markSeen: boolean,
  ) {
    this.messages = snapshot;
  }

  open(index: number): MessageSource {
    const message = this.message(index);
    this.relocated = undefined;
    for (;;) {
      const path = messagePath(this.dir, message.file);
      try {
        const source = new FileMessageSource(openRegularFile(path).fd, path, (closed) => this.sources.delete(closed));
        this.sources.add(source);
        return source;
      } catch (error) {
        if (isNotRegularFile(error) || !isNotFound(error)) throw new StoreError("perm", COULD_NOT_READ, `${path}: ${describe(error)}`);
        if (!this.relocate(message)) throw new StoreError("perm", COULD_NOT_READ, `${path}: message ${message.baseName} is gone`);
      }
    }
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    if (this.closed) throw new Error(`maildrop ${this.dir} committed after close`);
    const deleted = [...new Set(request.deleted)].map((i) => this.message(i));
    const deletedSet = new Set(deleted);
    const seen = this.markSeen ? request.retrieved.map((i) => this.message(i)).filter((m) => !deletedSet.has(m)) : [];
    if (deleted.length === 0 && seen.length === 0) return { expunged: 0, mailboxName: this.dir };
    try {
      return await withFileLock(`${this.dir}/${UID_LIST_LOCK_FILE}`, "write", () => this.applyUpdate(deleted, seen));
    } catch (error) {
      if (error instanceof StoreError) throw error;
      if (error instanceof FileLockTimeoutError) throw new StoreError("temp", "Mailbox is locked", error.message);
      throw new StoreError("perm", "System I/O error", `cannot update maildir ${this.dir}: ${describe(error)}`);
    }
  }

  close(): void {
    this.closed = true;
    for (const source of [...this.sources]) source.close();
  }

  private message(index: number): MaildirMessage {
    const message = this.snapshot[index];
    if (message === undefined) throw new RangeError(`message index ${index} outside 0..${this.snapshot.length - 1} of ${this.dir}`);
    return message;
  }

  /**
   * Find a message that moved (new/→cur/, flag change); false when it is no longer there at all.
   * One listing updates every message, as an IMAP client usually renames many at once.
   */
  private relocate(message: MaildirMessage): boolean {
    const before = message.file;
    if (this.relocated === undefined) {
      try {
        this.relocated = scanMaildir(this.dir);
      } catch {
        this.relocated = new Map();
      }
      for (const m of this.snapshot) m.file = this.relocated.get(m.baseName) ?? m.file;
    }
    const file = this.relocated.get(message.baseName);
    if (file === undefined || sameFile(file, before)) return false;
    message.file = file;
    return true;
  }

  /** Apply `change` to the message's file, following it if it moved; "gone" if someone removed it. */
  private withCurrentFile(message: MaildirMessage, change: (path: string) => void): Outcome {
    for (;;) {
      try {
        change(messagePath(this.dir, message.file));
        return "done";
      } catch (error) {
        if (!isNotFound(error) || !this.relocate(message)) {
          if (isNotFound(error)) return "gone";
          throw error;
        }
      }
    }
  }

  private applyUpdate(deleted: MaildirMessage[], seen: MaildirMessage[]): CommitResult {
    this.relocated = undefined;
    const gone = new Set<string>();
    const failures: string[] = [];
    let expunged = 0;
    for (const message of deleted) {
      try {
        // Removing a message someone else already removed is harmless (§5.7).
        if (this.withCurrentFile(message, unlinkSync) === "done") expunged++;
        gone.add(message.baseName);
      } catch (error) {
        failures.push(`${messagePath(this.dir, message.file)}: ${errorCode(error) ?? describe(error)}`);
      }
    }
    if (expunged > 0) {
      // The unlinks must be durable before the uid list forgets the messages.
      fsyncDirectory(`${this.dir}/new`);
      fsyncDirectory(`${this.dir}/cur`);
    }
    for (const message of seen) this.markMessageSeen(message);
    if (gone.size > 0) this.forget(gone);
    if (failures.length > 0) {
      throw new StoreError("perm", "Some deleted messages were not removed", `${this.dir}: expunged ${expunged}; ${failures.join("; ")}`);
    }
    return { expunged, mailboxName: this.dir };
  }

  /** \Seen for popuseimapflags (§5.10): rename into cur/ with S among the `:2,` flags. */
  private markMessageSeen(message: MaildirMessage): void {
    try {
      this.withCurrentFile(message, (path) => {
        const target = nameWithSeenFlag(message.file.name) ?? message.file.name;
        if (message.file.subdir === "cur" && target === message.file.name) return;
        renameSync(path, `${this.dir}/cur/${target}`);
        message.file = { subdir: "cur", name: target };
      });
    } catch {
      // A missing \Seen flag is cosmetic; it must not turn a successful QUIT into an error.
    }
  }

  private forget(gone: ReadonlySet<string>): void {
    const list = readUidList(this.dir);
    if (list === undefined) return;
    const messages = list.messages.filter((m) => !gone.has(m.baseName));
    if (messages.length !== list.messages.length) writeUidList(this.dir, { ...list, ctimes: UNKNOWN_CTIMES, messages }, { durableRename: false });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
