/**
 * An in-memory MailStore for protocol tests: mailboxes are arrays of raw messages, sizes follow the
 * same CRLF rule as the real stores, and every commit is recorded so tests can assert on it.
 */
import { crlfSize } from "../../src/store/crlf-size.ts";
import {
  StoreError,
  type CommitRequest,
  type CommitResult,
  type MailStore,
  type Maildrop,
  type MessageInfo,
  type MessageSource,
} from "../../src/store/maildrop.ts";

export interface MemoryMailbox {
  uidValidity: number;
  /** Raw message bytes as they would sit on disk (LF or CRLF); strings are taken as UTF-8. */
  messages: Array<Uint8Array | string>;
}

export interface MemoryStoreOptions {
  /** The Maildrop's newUidl (pop3d.c:uidl_msg); true unless a test wants legacy bare-uid UIDLs. */
  newUidl?: boolean;
  /** Cap on the bytes one read() returns, to exercise chunk boundaries in the session. */
  readChunk?: number;
}

export interface RecordedCommit {
  readonly user: string;
  readonly folder: string | undefined;
  readonly deleted: readonly number[];
  readonly retrieved: readonly number[];
  readonly expunged: number;
}

interface StoredMessage {
  readonly uid: number;
  readonly bytes: Uint8Array;
}

interface StoredMailbox {
  readonly uidValidity: number;
  nextUid: number;
  messages: StoredMessage[];
}

const encoder = new TextEncoder();

function toBytes(message: Uint8Array | string): Uint8Array {
  return typeof message === "string" ? encoder.encode(message) : message;
}

function mailboxKey(user: string, folder: string | undefined): string {
  return folder === undefined ? user : `${user}+${folder}`;
}

class MemoryMessageSource implements MessageSource {
  private offset = 0;
  closed = false;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly readChunk: number,
  ) {}

  read(into: Buffer): number {
    if (this.closed) return 0;
    const n = Math.min(into.length, this.readChunk, this.bytes.length - this.offset);
    into.set(this.bytes.subarray(this.offset, this.offset + n), 0);
    this.offset += n;
    return n;
  }

  close(): void {
    this.closed = true;
  }
}

export class MemoryStore implements MailStore {
  readonly commits: RecordedCommit[] = [];
  /** Every open() call, as `user` or `user+folder`. */
  readonly opens: string[] = [];
  closes = 0;
  /** When set, the next open() calls throw it (e.g. a "Mailbox does not exist" StoreError). */
  openError: StoreError | undefined;
  private readonly mailboxes = new Map<string, StoredMailbox>();
  private readonly vanished = new Set<string>();

  constructor(
    mailboxes: ReadonlyMap<string, MemoryMailbox> | Readonly<Record<string, MemoryMailbox>>,
    private readonly options: MemoryStoreOptions = {},
  ) {
    const entries: Array<[string, MemoryMailbox]> = mailboxes instanceof Map ? [...mailboxes] : Object.entries(mailboxes);
    for (const [user, mailbox] of entries) {
      const messages = mailbox.messages.map((m, i) => ({ uid: i + 1, bytes: toBytes(m) }));
      this.mailboxes.set(user, { uidValidity: mailbox.uidValidity, nextUid: messages.length + 1, messages });
    }
  }

  /** Mail arriving now: visible to the next open(), never to a snapshot already taken. */
  deliver(user: string, message: Uint8Array | string): number {
    const mailbox = this.stored(user);
    const uid = mailbox.nextUid++;
    mailbox.messages.push({ uid, bytes: toBytes(message) });
    return uid;
  }

  /** Someone else removes the message at `index` (0-based, current order): open snapshots still list it, but reading it fails. */
  vanish(user: string, index: number): void {
    const mailbox = this.stored(user);
    const message = mailbox.messages[index];
    if (message === undefined) throw new RangeError(`${user} has no message index ${index}`);
    this.vanished.add(`${user}\0${message.uid}`);
    mailbox.messages = mailbox.messages.filter((m) => m !== message);
  }

  /** The uids currently stored for `user`, after all commits. */
  uids(user: string): number[] {
    return this.stored(user).messages.map((m) => m.uid);
  }

  async open(user: string, folder: string | undefined): Promise<Maildrop> {
    const key = mailboxKey(user, folder);
    this.opens.push(key);
    if (this.openError !== undefined) throw this.openError;
    const mailbox = this.mailboxes.get(key);
    if (mailbox === undefined) throw new StoreError("temp", "Mailbox does not exist", `no memory mailbox ${key}`);
    return this.snapshot(user, folder, mailbox);
  }

  private stored(user: string): StoredMailbox {
    const mailbox = this.mailboxes.get(user);
    if (mailbox === undefined) throw new Error(`no memory mailbox ${user}`);
    return mailbox;
  }

  private snapshot(user: string, folder: string | undefined, mailbox: StoredMailbox): Maildrop {
    const store = this;
    const taken = [...mailbox.messages];
    const messages: MessageInfo[] = taken.map((m) => ({ uid: m.uid, size: crlfSize(m.bytes) }));
    const readChunk = this.options.readChunk ?? Number.MAX_SAFE_INTEGER;
    return {
      uidValidity: mailbox.uidValidity,
      newUidl: this.options.newUidl ?? true,
      messages,
      open(index: number): MessageSource {
        const message = taken[index];
        if (message === undefined) throw new RangeError(`message index ${index} outside snapshot of ${taken.length}`);
        if (store.vanished.has(`${user}\0${message.uid}`)) {
          throw new StoreError("perm", "Could not read message file", `memory message uid ${message.uid} vanished`);
        }
        return new MemoryMessageSource(message.bytes, readChunk);
      },
      async commit(request: CommitRequest): Promise<CommitResult> {
        const doomed = new Set(request.deleted.map((i) => taken[i]?.uid));
        const before = mailbox.messages.length;
        mailbox.messages = mailbox.messages.filter((m) => !doomed.has(m.uid));
        const expunged = before - mailbox.messages.length;
        store.commits.push({ user, folder, deleted: [...request.deleted], retrieved: [...request.retrieved], expunged });
        return { expunged, mailboxName: mailboxKey(user, folder) };
      },
      close(): void {
        store.closes++;
      },
    };
  }
}
