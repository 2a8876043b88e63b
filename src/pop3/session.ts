/**
 * One POP3 session: the AUTHORIZATION/TRANSACTION state machine of RFC 1939 with Cyrus 3.12's
 * wire behaviour. Commands run strictly one after another from a single loop, so pipelined
 * commands get complete responses in order; output is corked and flushed before the loop waits
 * for input, as Cyrus's prot layer does.
 */
import type { Maildrop, MailStore } from "../store/maildrop.ts";
import type { PasswordDb } from "../auth/passdb/passdb.ts";
import type { Log } from "../log/log.ts";
import type { SessionIO, SessionEnd } from "./session-io.ts";
import type { SessionSettings } from "./settings.ts";
import { LineReader } from "./line-reader.ts";
import { parseCommand, type Command } from "./parser.ts";
import { CRLF, R, fatalError, shutdownNotice } from "./responses.ts";
import { MAX_COMMAND_LINE, MAX_PENDING_INPUT } from "../limits.ts";
import { makeApopChallenge } from "../auth/apop.ts";
import { AUTHORIZATION_COMMANDS } from "./commands/authorization.ts";
import { TRANSACTION_COMMANDS } from "./commands/transaction.ts";
import { ANY_STATE_COMMANDS } from "./commands/any-state.ts";
import { newSessionId } from "./session-id.ts";
import { IMPLEMENTATION } from "../version.ts";
import { checkShutdownFiles } from "./shutdown-file.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { TelemetryLog } from "../log/telemetry.ts";

let lastCpu = process.cpuUsage();

/** §8: "user: <s>.<usec> sys: <s>.<usec>", the CPU time since the previous report. */
function cpuUsageSinceLastReport(): string {
  const now = process.cpuUsage();
  const part = (micros: number) => `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, "0")}`;
  const text = `user: ${part(now.user - lastCpu.user)} sys: ${part(now.system - lastCpu.system)}`;
  lastCpu = now;
  return text;
}

/** Output is flushed to the transport in pieces of about this size (bounded memory for big LISTs). */
const CORK_LIMIT = 16 * 1024;

export interface SessionDeps {
  settings: SessionSettings;
  store: MailStore;
  passdb: PasswordDb;
  log: Log;
  /** Login bookkeeping for maxlogins_* (proc files in one-session processes, memory standalone). */
  registry?: SessionRegistry;
}

export type Handler = (session: Session, command: Command) => Promise<void> | void;

export class Session {
  readonly settings: SessionSettings;
  readonly store: MailStore;
  readonly passdb: PasswordDb;
  readonly log: Log;
  readonly registry: SessionRegistry | undefined;
  readonly sessionId: string;
  /** §8: open from just before "+OK Mailbox locked" until the session ends. */
  telemetry: TelemetryLog | undefined;

  state: "authorization" | "transaction" = "authorization";
  /** USER given and waiting for PASS: the canonical name and what the client typed. */
  pendingUser: { user: string; subfolder?: string; typed: string } | undefined;
  /** The banner's APOP challenge; undefined means APOP is "Unrecognized" for the session (§3). */
  apopChallenge: string | undefined;
  userid: string | undefined;
  subfolder: string | undefined;
  /** A successful AUTH replaces the TLS ssf with the SASL layer's (0): CAPA then hides SASL (§4.5). */
  loggedInViaSasl = false;
  maildrop: Maildrop | undefined;
  deleted = new Uint8Array(0);
  retrieved = new Uint8Array(0);
  readonly counts = { retr: 0, top: 0, dele: 0 };

  private readonly reader = new LineReader();
  private cork: string[] = [];
  private corkBytes = 0;
  private wakeReader: (() => void) | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private inputPaused = false;
  private ended: SessionEnd | undefined;
  private resolveDone!: (end: SessionEnd) => void;
  /** Resolves with the reason once the session is over and the connection closed. */
  readonly done: Promise<SessionEnd>;

  constructor(
    readonly io: SessionIO,
    deps: SessionDeps,
  ) {
    this.settings = deps.settings;
    this.store = deps.store;
    this.passdb = deps.passdb;
    this.log = deps.log;
    this.registry = deps.registry;
    this.sessionId = newSessionId(deps.settings.sessionIdPrefix);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get tlsActive(): boolean {
    return this.io.tlsActive;
  }

  get endReason(): SessionEnd | undefined {
    return this.ended;
  }

  get isOver(): boolean {
    return this.ended !== undefined;
  }

  /** Send the greeting and run the command loop until QUIT, EOF, timeout or shutdown. */
  start(): Promise<SessionEnd> {
    this.armIdleTimer();
    const s = this.settings;
    if ((!s.tlsRequired || this.tlsActive) && s.allowApop) {
      this.apopChallenge = makeApopChallenge(s.servername);
    }
    let greeting = "+OK";
    if (s.serverinfo !== "off") greeting += " " + s.servername;
    if (s.serverinfo === "on") greeting += " " + IMPLEMENTATION;
    // §3: "server ready " keeps its trailing space when there is no challenge
    greeting += " server ready " + (this.apopChallenge ?? "");
    this.send(greeting);
    void this.loop();
    return this.done;
  }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    if (this.ended) return;
    this.telemetry?.record("in", chunk);
    this.armIdleTimer();
    this.reader.push(chunk);
    if (this.reader.pendingBytes > MAX_PENDING_INPUT && !this.inputPaused) {
      this.inputPaused = true;
      this.io.pauseInput();
    }
    this.wake();
  }

  /** The client closed its side (or the connection dropped). */
  receiveEnd(): void {
    this.reader.end();
    this.wake();
  }

  /** The transport is gone: end without committing anything (§5.6). */
  connectionLost(): void {
    this.finish("eof");
  }

  /** SIGTERM and friends: close without committing, nothing more to the client (§2.4). */
  shutdown(reason: SessionEnd = "shutdown"): void {
    this.finish(reason);
  }

  // ---- output -------------------------------------------------------------------------------

  /** Queue one response line (CRLF added). */
  send(line: string): void {
    this.cork.push(line, CRLF);
    this.corkBytes += line.length + 2;
  }

  /** Queue a multi-line body piece; flushes and waits for the socket when enough has piled up. */
  async sendBulk(text: string): Promise<void> {
    this.cork.push(text);
    this.corkBytes += text.length;
    if (this.corkBytes >= CORK_LIMIT) await this.flushAndWait();
  }

  flush(): boolean {
    if (this.corkBytes === 0) return true;
    const data = Buffer.from(this.cork.join(""), "latin1");
    this.cork = [];
    this.corkBytes = 0;
    if (this.ended) return false;
    this.telemetry?.record("out", data);
    return this.io.write(data);
  }

  async flushAndWait(): Promise<void> {
    if (!this.flush()) await this.io.drained();
  }

  /** Raw message bytes (already encoded); returns false when the caller should wait for drain. */
  writeRaw(data: Uint8Array): boolean {
    if (this.ended) return false;
    this.telemetry?.record("out", data);
    return this.io.write(data);
  }

  // ---- input ------------------------------------------------------------------------------

  /**
   * The next line from the client, at most `maxLength` bytes (longer lines come back in pieces,
   * §4.1); null at end of input. Flushes pending output first so the client sees every answer.
   */
  async nextLine(maxLength: number): Promise<Buffer | null> {
    for (;;) {
      if (this.ended) return null;
      const line = this.reader.next(maxLength);
      if (line) {
        if (this.inputPaused && this.reader.pendingBytes <= MAX_PENDING_INPUT / 2) {
          this.inputPaused = false;
          this.io.resumeInput();
        }
        return line;
      }
      if (this.reader.atEnd) return null;
      this.flush();
      if (this.inputPaused) {
        this.inputPaused = false;
        this.io.resumeInput();
      }
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }

  /** STLS (§7): everything the client pipelined behind the command is thrown away. */
  discardBufferedInput(): void {
    this.reader.discard();
  }

  armIdleTimer(): void {
    if (this.ended) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.finish("idle"), this.settings.idleTimeoutMs);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Forget the login (§5.1: any failure while opening the maildrop logs the user out again). */
  resetLogin(): void {
    this.userid = undefined;
    this.subfolder = undefined;
    this.pendingUser = undefined;
    this.loggedInViaSasl = false;
    this.maildrop?.close();
    this.maildrop = undefined;
    this.state = "authorization";
  }

  enterTransaction(maildrop: Maildrop): void {
    this.maildrop = maildrop;
    this.deleted = new Uint8Array(maildrop.messages.length);
    this.retrieved = new Uint8Array(maildrop.messages.length);
    this.state = "transaction";
  }

  /** End the session: close the maildrop without committing, flush, close the connection. */
  finish(reason: SessionEnd): void {
    if (this.ended) return;
    this.flush();
    this.ended = reason;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.maildrop?.close();
    this.maildrop = undefined;
    const c = this.counts;
    // QUIT reports CPU time before the reset logs the counts; the signal path (shut_down) has no USAGE
    if (this.userid && reason !== "shutdown") this.log.notice(`USAGE ${this.userid} ${cpuUsageSinceLastReport()}`);
    // the angle brackets are literal in Cyrus's format string
    this.log.notice(`counts: retr=<${c.retr}> top=<${c.top}> dele=<${c.dele}>`);
    this.telemetry?.close();
    this.telemetry = undefined;
    this.registry?.remove(this);
    this.io.close();
    this.wake();
    this.resolveDone(reason);
  }

  /** §4.1 step 1: the proc entry carries the USER name as soon as it is given. */
  updateRegistry(): void {
    this.registry?.update(this, {
      service: this.settings.service,
      clientHost: this.io.clientHost,
      userid: this.userid ?? this.pendingUser?.user ?? "",
      mailbox: this.state === "transaction" ? (this.userid ?? "") : "",
    });
  }

  /** pop3d.c:cmdloop: once USER named someone, user_deny.db is checked before every command. */
  private denyNotice(): string | undefined {
    const user = this.userid ?? this.pendingUser?.user;
    const message = user !== undefined ? this.settings.userDeny?.(user) : undefined;
    return message === undefined ? undefined : shutdownNotice(message);
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        // as in Cyrus, the proc entry is written before the pending output (the greeting) is flushed
        this.updateRegistry();
        const notice = checkShutdownFiles(this.settings.shutdownFiles) ?? this.denyNotice();
        if (notice !== undefined) {
          this.send(notice);
          this.finish("notice");
          return;
        }
        const line = await this.nextLine(MAX_COMMAND_LINE);
        if (line === null) {
          this.finish("eof");
          return;
        }
        await this.execute(parseCommand(line));
        if (this.ended) return;
      }
    } catch (error) {
      // Cyrus's fatal(): tell the client, log "Fatal error: ...", end without committing (§2.6)
      const message = (error as Error)?.message ?? String(error);
      this.log.err(`Fatal error: ${message}`);
      this.log.debug(`session ${this.sessionId}: ${(error as Error)?.stack ?? error}`);
      this.send(fatalError(message.split("\n", 1)[0]!));
      this.finish("fatal");
    }
  }

  private async execute(command: Command): Promise<void> {
    if (this.settings.chatty) this.log.notice(`command: ${command.keyword}`);
    // §4.1: "STAT ", "XYZ " ... all get Syntax error before dispatch; "AUTH " means bare AUTH (Outlook)
    if (command.emptyArgument && command.keyword !== "auth") {
      this.send(R.syntaxError);
      return;
    }
    const { keyword } = command;
    const anyState = ANY_STATE_COMMANDS.get(keyword);
    if (anyState) return anyState(this, command);
    const table = this.state === "authorization" ? AUTHORIZATION_COMMANDS : TRANSACTION_COMMANDS;
    const handler = table.get(keyword);
    if (!handler) {
      this.send(R.unrecognized);
      return;
    }
    await handler(this, command);
  }
}
