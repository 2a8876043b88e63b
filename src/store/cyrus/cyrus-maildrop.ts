/**
 * One login's snapshot of a Cyrus mailbox (Cyrus pop3d.c openinbox): messages in UID order with the sizes from the
 * index. Nothing is locked or written during the session; QUIT commits through cyrus-commit.ts.
 */
import { StoreError, type CommitRequest, type CommitResult, type Maildrop, type MessageSource } from "../maildrop.ts";
import { commitToMailbox, type CommitTarget } from "./cyrus-commit.ts";
import type { CyrusStoreOptions } from "./cyrus-settings.ts";
import { messageFile } from "./mailbox-files.ts";
import type { CyrusSnapshot } from "./mailbox-open.ts";
import { buildMessageList, LISTED_MESSAGE_BYTES, type ListedMessage } from "../message-list.ts";
import type { MessageInfo } from "../maildrop.ts";
import { openCyrusMessage } from "./message-source.ts";

export class CyrusMaildrop implements Maildrop {
  readonly messages: readonly MessageInfo[];
  private readonly sources = new Set<MessageSource>();
  private closed = false;

  constructor(
    private readonly opts: CyrusStoreOptions,
    private readonly target: CommitTarget,
    private readonly snapshot: CyrusSnapshot,
    messages: readonly ListedMessage[],
    readonly newUidl: boolean,
    /** popuseacl rights, or undefined when ACLs are not enforced. */
    private readonly rights: ReadonlySet<string> | undefined,
  ) {
    this.messages = messages;
  }

  /** The maildrop for `snapshot`, its message list built in time slices. */
  static async of(
    opts: CyrusStoreOptions,
    target: CommitTarget,
    snapshot: CyrusSnapshot,
    newUidl: boolean,
    rights: ReadonlySet<string> | undefined,
  ): Promise<CyrusMaildrop> {
    const messages = await buildMessageList(snapshot.count, (i) => snapshot.uid(i), (i) => snapshot.size(i));
    return new CyrusMaildrop(opts, target, snapshot, messages, newUidl, rights);
  }

  /** Every byte the snapshot keeps for its messages: the typed arrays and the message list. */
  get snapshotBytes(): number {
    return this.snapshot.byteLength + this.snapshot.count * LISTED_MESSAGE_BYTES;
  }

  /**
   * popuseacl (pop3d.c cmd_dele): DELE needs the t right. The session answers "-ERR [SYS/PERM] Permission
   * denied" when this is false.
   */
  get mayDelete(): boolean {
    return this.rights === undefined || this.rights.has("t");
  }

  get uidValidity(): number {
    return this.target.uidValidity;
  }

  open(index: number): MessageSource {
    const message = this.message(index);
    const where = [messageFile(this.target.files, message.uid, message.archived), messageFile(this.target.files, message.uid, !message.archived)];
    const source = openCyrusMessage([...new Set(where)], (s) => this.sources.delete(s));
    this.sources.add(source);
    return source;
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    if (this.closed) throw new Error(`maildrop ${this.target.internalName} committed after close`);
    if (this.opts.conversations) {
      throw new StoreError("perm", "System I/O error", `${this.target.internalName}: conversations: 1 is not supported; nothing was changed`);
    }
    const deleted = [...new Set(request.deleted)].map((i) => this.message(i).uid);
    // pop3d.c update: \Seen needs popuseimapflags, and the s right when popuseacl is on.
    const markSeen = this.opts.popUseImapFlags && (this.rights === undefined || this.rights.has("s"));
    const seen = markSeen ? request.retrieved.map((i) => this.message(i).uid) : [];
    const expunged = await commitToMailbox(this.opts, this.target, deleted, seen);
    return { expunged, mailboxName: this.target.internalName };
  }

  close(): void {
    this.closed = true;
    for (const source of [...this.sources]) source.close();
  }

  private message(index: number): { readonly uid: number; readonly archived: boolean } {
    if (!Number.isInteger(index) || index < 0 || index >= this.snapshot.count) {
      throw new RangeError(`message index ${index} outside 0..${this.snapshot.count - 1} of ${this.target.internalName}`);
    }
    return { uid: this.snapshot.uid(index), archived: this.snapshot.archived(index) };
  }
}
