/**
 * The contract between the POP3 session and every mail store (Maildir, mbox, Cyrus spool).
 *
 * A Maildrop is the login snapshot (pop3d.c:openinbox): message numbers 1..N map to
 * `messages[0..N-1]` for the whole session, and mail delivered afterwards stays invisible.
 */

export interface MessageInfo {
  /** Stable per-mailbox UID (never reused while uidValidity stays the same). */
  readonly uid: number;
  /**
   * Octets RETR sends before dot-stuffing: the message with every bare LF turned into CRLF and a
   * final CRLF added if the last line had none (RFC 1939 section 3, as pop3d.c:blat sends it).
   */
  readonly size: number;
  /** A store-supplied UIDL (e.g. mbox X-UIDL) that overrides the uidl_format rendering. */
  readonly uidl?: string;
}

/** A synchronous byte source for one message; the session pulls from it only when the socket drains. */
export interface MessageSource {
  /** Fill `into` from its start; returns the number of bytes read, 0 at end of message. */
  read(into: Buffer): number;
  close(): void;
}

export interface CommitRequest {
  /** 0-based indexes into `messages` marked by DELE (and not undone by RSET). */
  readonly deleted: readonly number[];
  /** 0-based indexes RETR'd in this session (for \Seen with popuseimapflags). */
  readonly retrieved: readonly number[];
}

export interface CommitResult {
  readonly expunged: number;
  /** Mailbox name for the "Expunged N messages from <mbox>" log line. */
  readonly mailboxName: string;
}

export interface Maildrop {
  readonly uidValidity: number;
  readonly messages: readonly MessageInfo[];
  /** Whether UIDLs use uidl_format (Cyrus POP3_NEW_UIDL) or the legacy bare uid (pop3d.c:cmdloop, UIDL). */
  readonly newUidl: boolean;
  /** False when popuseacl denies the `t` right (pop3d.c:cmdloop, DELE): DELE is refused. Absent means allowed. */
  readonly mayDelete?: boolean;
  /** Throws StoreError (kind "perm") when the message is gone or unreadable. */
  open(index: number): MessageSource;
  /** UPDATE state (RFC 1939 section 6): remove `deleted` atomically. Never called for a dropped session. */
  commit(request: CommitRequest): Promise<CommitResult>;
  /** Release everything without committing (dropped session, SIGTERM, or after commit). */
  close(): void;
}

export interface MailStore {
  /**
   * Open the snapshot for a canonical user. `folder` is the popsubfolders `+folder` part, if any.
   * Throws StoreError: kind "temp" → `-ERR [SYS/TEMP] Unable to open maildrop: <message>`,
   * kind "perm" → `-ERR [SYS/PERM] Unable to open maildrop: <message>`.
   */
  open(user: string, folder: string | undefined): Promise<Maildrop>;
}

export type StoreErrorKind = "temp" | "perm" | "login-delay";

export class StoreError extends Error {
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    /** Extra context for the log only (paths, errno); never sent to the client. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "StoreError";
  }
}

/**
 * The maildrop lives on another server of a Cyrus Murder (its mailboxes.db entry is remote and names
 * that server). A session that can proxy logs in there instead (docs/murder.md); otherwise it is a
 * temporary failure, as "Mailbox has been moved to another server".
 */
export class RemoteMailboxError extends StoreError {
  constructor(
    /** The backend as mailboxes.db names it: `host[:port[/tls][/noauth]]`. */
    readonly server: string,
    message: string,
    detail?: string,
  ) {
    super("temp", message, detail);
    this.name = "RemoteMailboxError";
  }
}
