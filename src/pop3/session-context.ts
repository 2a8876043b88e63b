/**
 * What a command handler sees of its session, and the handler types. Kept apart from session.ts so
 * that the commands and the session engine do not import each other.
 */
import type { MailStore, Maildrop } from "../store/maildrop.ts";
import type { PasswordDb } from "../auth/passdb/passdb.ts";
import type { Log } from "../log/log.ts";
import type { TelemetryLog } from "../log/telemetry.ts";
import type { SessionIO, SessionEnd } from "./session-io.ts";
import type { SessionSettings } from "./settings.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { Command } from "./parser.ts";
import type { BackendConnector } from "./backend-link.ts";
import type { PopError } from "./responses.ts";
import type { AuthorizationState, Login, PendingUser, Relay, SessionState, Transaction } from "./session-state.ts";

export interface SessionContext {
  readonly settings: SessionSettings;
  readonly store: MailStore;
  readonly passdb: PasswordDb;
  readonly log: Log;
  readonly registry: SessionRegistry | undefined;
  /** Murder frontend: logs in to the backend holding a remote mailbox (docs/murder.md). */
  readonly backends: BackendConnector | undefined;
  readonly io: SessionIO;
  readonly sessionId: string;
  /** The banner's APOP challenge; undefined means APOP is "Unrecognized" for the session (pop3d.c:cmd_apop). */
  readonly apopChallenge: string | undefined;
  readonly tlsActive: boolean;
  readonly state: SessionState;
  /** The session has ended (the state is "ended"); a handler that awaited something must stop. */
  readonly isOver: boolean;
  readonly counts: { retr: number; top: number; dele: number };
  /** Open from just before "+OK Mailbox locked" until the session ends (Cyrus telemetry). */
  telemetry: TelemetryLog | undefined;

  // ---- output
  /** Queue one positive response line (CRLF added). */
  send(line: string): void;
  /** Queue a -ERR reply. */
  reject(error: PopError): void;
  /** Queue a multi-line body piece; waits for the client when enough has piled up. */
  sendBulk(text: string): Promise<void>;
  /** Hand queued output to the transport; false when the transport holds unsent bytes. */
  flush(): boolean;
  flushAndWait(): Promise<void>;
  /** Raw message bytes; false when the caller should `await outputDrained()`. */
  writeRaw(data: Uint8Array): boolean;
  /** Resolves once the transport has sent everything (or the session ended); restarts the idle timer. */
  outputDrained(): Promise<void>;

  // ---- input
  /** The next line, at most `maxLength` bytes; null at end of input or once the session is over. */
  nextLine(maxLength: number): Promise<Buffer | null>;
  discardBufferedInput(): void;

  // ---- transitions
  /** AUTHORIZATION: USER was accepted, PASS may follow. */
  expectPass(pending: PendingUser): void;
  /** AUTHORIZATION: forget a pending USER. */
  forgetUser(): void;
  /** AUTHORIZATION → TRANSACTION with the opened maildrop. */
  enterTransaction(login: Login, maildrop: Maildrop): Transaction;
  /** AUTHORIZATION → PROXIED: from now on client bytes go to `relay` (a mailbox on a backend). */
  becomeProxy(login: Login, relay: Relay): void;
  /** Any state → ENDED: close the maildrop without committing, close the connection. */
  finish(reason: SessionEnd): void;
  /** The proc entry carries the USER name as soon as it is given (pop3d.c:cmd_user). */
  updateRegistry(): void;
}

export type AnyStateHandler = (session: SessionContext, command: Command) => Promise<void> | void;
export type AuthorizationHandler = (session: SessionContext, state: AuthorizationState, command: Command) => Promise<void> | void;
export type TransactionHandler = (session: SessionContext, tx: Transaction, command: Command) => Promise<void> | void;
