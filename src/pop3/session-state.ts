/**
 * The states of a POP3 session (RFC 1939 section 3) as types. Each state carries exactly the data
 * that exists in it: a pending USER only in AUTHORIZATION, the maildrop and its deleted/retrieved
 * marks only in TRANSACTION. A command handler receives the state it runs in, so a command for
 * the wrong state cannot reach the fields it would need. The session moves between states only
 * through its named transitions (see SessionContext).
 */
import type { Maildrop } from "../store/maildrop.ts";
import type { SessionEnd } from "./session-io.ts";

/** USER given and waiting for PASS: the canonical name and what the client typed. */
export interface PendingUser {
  readonly user: string;
  readonly subfolder?: string;
  readonly typed: string;
}

/** Who logged in, and how. */
export interface Login {
  readonly user: string;
  readonly subfolder?: string;
  /** A successful AUTH replaces the TLS ssf with the SASL layer's (0): CAPA then hides SASL (pop3d.c:cmd_capa). */
  readonly viaSasl: boolean;
}

export interface AuthorizationState {
  readonly kind: "authorization";
  readonly pendingUser: PendingUser | undefined;
}

/** A message's marks in Transaction.marks. */
const DELETED = 1;
const RETRIEVED = 2;

/** The open maildrop with this session's marks; nothing is changed on disk before QUIT (RFC 1939 section 6). */
export class Transaction {
  readonly kind = "transaction";
  /**
   * DELETED and RETRIEVED per message, made at the first DELE or RETR: a session that only looks
   * (STAT, LIST, UIDL), or sits idle, keeps no array for them.
   */
  private marks: Uint8Array | undefined;

  constructor(
    readonly login: Login,
    readonly maildrop: Maildrop,
  ) {}

  get messageCount(): number {
    return this.maildrop.messages.length;
  }

  isDeleted(index: number): boolean {
    return this.marks !== undefined && (this.marks[index]! & DELETED) !== 0;
  }

  markDeleted(index: number): void {
    this.markAs(index, DELETED);
  }

  markRetrieved(index: number): void {
    this.markAs(index, RETRIEVED);
  }

  private markAs(index: number, mark: number): void {
    const marks = (this.marks ??= new Uint8Array(this.messageCount));
    marks[index] = marks[index]! | mark;
  }

  /** 1-based message number to 0-based index, or undefined when it does not exist or is deleted. */
  existingIndex(number: number): number | undefined {
    if (number < 1 || number > this.messageCount || this.isDeleted(number - 1)) return undefined;
    return number - 1;
  }

  /** The UPDATE state's work list (RFC 1939 section 6): deleted messages, and retrieved ones that stay. */
  updatePlan(): { deleted: number[]; retrieved: number[] } {
    const deleted: number[] = [];
    const retrieved: number[] = [];
    const marks = this.marks ?? [];
    for (let i = 0; i < marks.length; i++) {
      if (marks[i]! & DELETED) deleted.push(i);
      else if (marks[i]! & RETRIEVED) retrieved.push(i);
    }
    return { deleted, retrieved };
  }

  /** RSET also clears the retrieved marks, so no \Seen is set for them at QUIT (pop3d.c:cmd_rset). */
  reset(): void {
    this.marks?.fill(0);
  }
}

/**
 * The client's bytes go to another server that holds the mailbox (Cyrus's pop3d proxy mode,
 * pop3d.c:openproxy): the session only relays from then on.
 */
export interface Relay {
  /** Bytes from the client, to the backend. */
  send(chunk: Uint8Array): void;
  /** The client went away, or the session is being shut down. */
  close(): void;
}

export interface ProxiedState {
  readonly kind: "proxied";
  readonly login: Login;
  readonly relay: Relay;
}

export interface EndedState {
  readonly kind: "ended";
  readonly reason: SessionEnd;
}

export type SessionState = AuthorizationState | Transaction | ProxiedState | EndedState;

/** The user name a state knows of, for the proc entry and the log. */
export function userOf(state: SessionState): string | undefined {
  switch (state.kind) {
    case "authorization":
      return state.pendingUser?.user;
    case "transaction":
    case "proxied":
      return state.login.user;
    default:
      return undefined;
  }
}
