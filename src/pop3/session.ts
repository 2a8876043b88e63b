/**
 * One POP3 session: the AUTHORIZATION/TRANSACTION state machine of RFC 1939 with Cyrus 3.12's
 * wire behaviour. Commands run strictly one after another from a single loop, so pipelined
 * commands get complete responses in order; output is corked and flushed before the loop waits
 * for input, as Cyrus's prot layer does.
 *
 * Flow control: the loop takes the next command only once the transport has sent the previous
 * answers (Dovecot's POP3_OUTBUF_THROTTLE_SIZE idea), and stops reading from the client while it
 * waits. A client that pipelines without reading therefore costs at most one answer plus
 * MAX_PENDING_INPUT of buffered input, whatever it sends.
 *
 * Turns: the kernel takes megabytes of answers before it reports backpressure, so the loop also
 * lets the rest of the process run (a macrotask) after COMMANDS_PER_TURN commands or
 * OUTPUT_BYTES_PER_TURN bytes of answers: one session never holds a multi-session process.
 */
import type { Maildrop, MailStore } from "../store/maildrop.ts";
import type { PasswordDb } from "../auth/passdb/passdb.ts";
import type { Log } from "../log/log.ts";
import type { TelemetryLog } from "../log/telemetry.ts";
import type { SessionIO, SessionEnd } from "./session-io.ts";
import type { SessionSettings } from "./settings.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { SessionContext } from "./session-context.ts";
import type { BackendConnector } from "./backend-link.ts";
import { LineReader } from "./line-reader.ts";
import { parseCommand, type Command } from "./parser.ts";
import { CRLF, E, PopError, shutdownNotice } from "./responses.ts";
import {
  COMMANDS_PER_TURN,
  MAX_COMMAND_LINE,
  MAX_INPUT_WHILE_UNREAD,
  MAX_PENDING_INPUT,
  OUTPUT_BYTES_PER_TURN,
  OUTPUT_CORK_BYTES,
  OUTPUT_THROTTLE_BYTES,
} from "../limits.ts";
import { makeApopChallenge } from "../auth/apop.ts";
import { AUTHORIZATION_COMMANDS } from "./commands/authorization.ts";
import { TRANSACTION_COMMANDS } from "./commands/transaction.ts";
import { ANY_STATE_COMMANDS } from "./commands/any-state.ts";
import { newSessionId } from "./session-id.ts";
import { IMPLEMENTATION } from "../version.ts";
import { checkShutdownFiles } from "./shutdown-file.ts";
import { CpuAccount, releaseCpu, switchCpuTo } from "./cpu-meter.ts";
import { Transaction, userOf, type Login, type PendingUser, type Relay, type SessionState } from "./session-state.ts";

export interface SessionDeps {
  settings: SessionSettings;
  store: MailStore;
  passdb: PasswordDb;
  log: Log;
  /** Login bookkeeping for maxlogins_* (proc files in one-session processes, memory standalone). */
  registry?: SessionRegistry;
  /** Murder frontend: logs in to the backend holding a remote mailbox (docs/murder.md). */
  backends?: BackendConnector;
  /** A session entered TRANSACTION (a process serving many sessions settles its heap then). */
  loggedIn?: () => void;
}

export class Session implements SessionContext {
  readonly settings: SessionSettings;
  readonly store: MailStore;
  readonly passdb: PasswordDb;
  readonly log: Log;
  readonly registry: SessionRegistry | undefined;
  readonly backends: BackendConnector | undefined;
  private readonly loggedIn: (() => void) | undefined;
  readonly sessionId: string;
  telemetry: TelemetryLog | undefined;
  apopChallenge: string | undefined;
  readonly counts = { retr: 0, top: 0, dele: 0 };
  /** This session's own CPU time, for the USAGE line. */
  readonly cpu = new CpuAccount();

  private current: SessionState = { kind: "authorization", pendingUser: undefined };
  private readonly reader = new LineReader();
  private cork: string[] = [];
  private corkBytes = 0;
  private wakeReader: (() => void) | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private inputPaused = false;
  /** The transport holds bytes it could not send yet: the client is not reading. */
  private outputHeld = false;
  /** Commands taken, and answer bytes written, since the session last let the process run. */
  private commandsThisTurn = 0;
  private bytesThisTurn = 0;
  /** The bounded reverse lookup of the client's name is over (io.clientHostReady settled). */
  private clientHostKnown = false;
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
    this.backends = deps.backends;
    this.loggedIn = deps.loggedIn;
    this.sessionId = newSessionId(deps.settings.sessionIdPrefix);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get state(): SessionState {
    return this.current;
  }

  get tlsActive(): boolean {
    return this.io.tlsActive;
  }

  get endReason(): SessionEnd | undefined {
    return this.current.kind === "ended" ? this.current.reason : undefined;
  }

  get isOver(): boolean {
    return this.current.kind === "ended";
  }

  /** AUTHORIZATION or TRANSACTION: the command loop runs (not once proxied or ended). */
  private get runsCommands(): boolean {
    const kind = this.current.kind;
    return kind === "authorization" || kind === "transaction";
  }

  /** Send the greeting and run the command loop until QUIT, EOF, timeout or shutdown. */
  start(): Promise<SessionEnd> {
    switchCpuTo(this.cpu);
    this.armIdleTimer();
    const s = this.settings;
    if ((!s.tlsRequired || this.tlsActive) && s.allowApop) {
      this.apopChallenge = makeApopChallenge(s.servername);
    }
    let greeting = "+OK";
    if (s.serverinfo !== "off") greeting += " " + s.servername;
    if (s.serverinfo === "on") greeting += " " + IMPLEMENTATION;
    // pop3d.c:cmdloop: "server ready " keeps its trailing space when there is no challenge
    greeting += " server ready " + (this.apopChallenge ?? "");
    this.send(greeting);
    // the proc entry gets the client's name as soon as the reverse lookup has it
    void this.io.clientHostReady?.then(() => {
      if (!this.isOver) this.updateRegistry();
    });
    void this.loop();
    return this.done;
  }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    const state = this.current;
    if (state.kind === "ended") return;
    switchCpuTo(this.cpu);
    this.telemetry?.record("in", chunk);
    this.armIdleTimer();
    if (state.kind === "proxied") {
      state.relay.send(chunk);
      return;
    }
    this.reader.push(chunk);
    if (this.reader.pendingBytes > MAX_PENDING_INPUT) this.pauseInput();
    this.wake();
  }

  /** The client closed its side (or the connection dropped). */
  receiveEnd(): void {
    this.reader.end();
    // pop3d.c:bitpipe returns to service_main when either side closes: like a QUIT, and the
    // process may serve the next connection
    if (this.current.kind === "proxied") this.finish("quit");
    this.wake();
  }

  /** The transport is gone: end without committing anything (pop3d.c:shut_down). */
  connectionLost(): void {
    this.finish("eof");
  }

  /** SIGTERM and friends: close at once without committing, nothing more to the client (pop3d.c:shut_down). */
  shutdown(reason: SessionEnd = "shutdown"): void {
    this.finish(reason);
  }

  // ---- output -------------------------------------------------------------------------------

  send(line: string): void {
    this.cork.push(line, CRLF);
    this.corkBytes += line.length + 2;
  }

  reject(error: PopError): void {
    this.send(error.line);
  }

  async sendBulk(text: string): Promise<void> {
    this.cork.push(text);
    this.corkBytes += text.length;
    if (this.corkBytes < OUTPUT_CORK_BYTES) return;
    await this.flushAndWait();
    if (this.bytesThisTurn >= OUTPUT_BYTES_PER_TURN) await this.yieldTurn();
  }

  flush(): boolean {
    if (this.corkBytes === 0) return !this.outputHeld;
    // the pieces straight into one buffer: no joined string in between
    const data = Buffer.allocUnsafe(this.corkBytes);
    let at = 0;
    for (const piece of this.cork) at += data.write(piece, at, "latin1");
    this.cork.length = 0;
    this.corkBytes = 0;
    if (this.isOver) return true;
    this.telemetry?.record("out", data);
    this.bytesThisTurn += data.length;
    this.outputHeld = !this.io.write(data);
    return !this.outputHeld;
  }

  async flushAndWait(): Promise<void> {
    if (!this.flush()) await this.outputDrained();
  }

  writeRaw(data: Uint8Array): boolean {
    if (this.isOver) return true;
    this.telemetry?.record("out", data);
    this.bytesThisTurn += data.length;
    this.outputHeld = !this.io.write(data);
    return !this.outputHeld;
  }

  async outputDrained(): Promise<void> {
    releaseCpu(this.cpu);
    await this.io.drained();
    this.outputHeld = false;
    switchCpuTo(this.cpu);
    // the idle timer times out reads, not transfers: progress on output restarts it (pop3d.c:cmd_retr)
    this.armIdleTimer();
  }

  // ---- input ------------------------------------------------------------------------------

  async nextLine(maxLength: number): Promise<Buffer | null> {
    for (;;) {
      if (!this.runsCommands) return null;
      // the output throttle: answers to pipelined commands pile up only to a few KiB, and no
      // further command is taken while the transport still holds unsent bytes
      if (this.corkBytes >= OUTPUT_THROTTLE_BYTES) this.flush();
      if (this.outputHeld) {
        if (this.reader.pendingBytes > MAX_INPUT_WHILE_UNREAD) {
          // Dovecot's "Input buffer full": a client this far ahead of what it reads is not a client
          this.log.notice(`${this.io.clientHost}: ${this.reader.pendingBytes} bytes of pipelined commands while not reading the answers; disconnecting`);
          this.finish("fatal");
          return null;
        }
        this.holdInput();
        await this.outputDrained();
        continue;
      }
      // the turn budget: pipelined commands the kernel takes the answers of without complaint
      // still give the rest of the process its turn every so often
      if (this.commandsThisTurn >= COMMANDS_PER_TURN || this.bytesThisTurn >= OUTPUT_BYTES_PER_TURN) {
        this.flush();
        await this.yieldTurn();
        continue;
      }
      const line = this.takeLine(maxLength);
      if (line) return line;
      if (this.reader.atEnd) return null;
      // everything answered so far goes out, and is sent, before we wait for more input
      if (!this.flush()) {
        this.holdInput();
        await this.outputDrained();
        continue;
      }
      this.resumeInput();
      // an idle logged-in session keeps no input buffer while it waits
      this.reader.release();
      releaseCpu(this.cpu);
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      switchCpuTo(this.cpu);
      // input arrives from an I/O callback: the process has had its turn
      this.newTurn();
    }
  }

  /**
   * nextLine's fast path, without a promise: the next pipelined line when nothing needs waiting for
   * first (no output held or due, the turn not used up). A pipelining client's commands cost less
   * garbage this way.
   */
  private lineAtHand(maxLength: number): Buffer | null {
    if (!this.runsCommands || this.outputHeld || this.corkBytes >= OUTPUT_THROTTLE_BYTES) return null;
    if (this.commandsThisTurn >= COMMANDS_PER_TURN || this.bytesThisTurn >= OUTPUT_BYTES_PER_TURN) return null;
    return this.takeLine(maxLength);
  }

  private takeLine(maxLength: number): Buffer | null {
    const line = this.reader.next(maxLength);
    if (!line) return null;
    if (this.inputPaused && this.reader.pendingBytes <= MAX_PENDING_INPUT / 2) this.resumeInput();
    this.commandsThisTurn++;
    return line;
  }

  /**
   * Let timers, I/O and other sessions run (a macrotask) before going on. The CPU meter stays on
   * this session: other sessions switch to themselves when they resume, and what the event loop
   * does in between (freeing this burst's garbage, sending its answers) is this session's work —
   * releasing it here left half of a busy session's CPU out of its USAGE line.
   */
  private async yieldTurn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    switchCpuTo(this.cpu);
    this.newTurn();
  }

  private newTurn(): void {
    this.commandsThisTurn = 0;
    this.bytesThisTurn = 0;
  }

  discardBufferedInput(): void {
    this.reader.discard();
  }

  private armIdleTimer(): void {
    if (this.isOver) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.finish("idle"), this.settings.idleTimeoutMs);
  }

  private pauseInput(): void {
    if (this.inputPaused) return;
    this.inputPaused = true;
    this.io.pauseInput();
  }

  /** The client is not reading its answers: no more input, and what is buffered kept compactly. */
  private holdInput(): void {
    this.pauseInput();
    this.reader.trim();
  }

  private resumeInput(): void {
    if (!this.inputPaused) return;
    this.inputPaused = false;
    this.io.resumeInput();
  }

  // ---- transitions --------------------------------------------------------------------------

  expectPass(pendingUser: PendingUser): void {
    if (this.current.kind === "authorization") this.current = { kind: "authorization", pendingUser };
  }

  forgetUser(): void {
    if (this.current.kind === "authorization") this.current = { kind: "authorization", pendingUser: undefined };
  }

  enterTransaction(login: Login, maildrop: Maildrop): Transaction {
    if (this.current.kind !== "authorization") throw new Error(`enterTransaction in state ${this.current.kind}`);
    const tx = new Transaction(login, maildrop);
    this.current = tx;
    this.loggedIn?.();
    return tx;
  }

  becomeProxy(login: Login, relay: Relay): void {
    if (this.current.kind !== "authorization") throw new Error(`becomeProxy in state ${this.current.kind}`);
    this.current = { kind: "proxied", login, relay };
    this.flush();
    const rest = this.reader.takeRest();
    if (rest.length > 0) relay.send(rest);
    this.resumeInput();
  }

  finish(reason: SessionEnd): void {
    const state = this.current;
    if (state.kind === "ended") return;
    this.flush();
    this.current = { kind: "ended", reason };
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (state.kind === "transaction") state.maildrop.close();
    if (state.kind === "proxied") state.relay.close();
    const c = this.counts;
    // pop3d.c:shut_down logs USAGE for popd_userid, which USER sets before any PASS
    const userid = userOf(state);
    switchCpuTo(this.cpu);
    releaseCpu(this.cpu);
    // QUIT reports CPU time before the reset logs the counts; the signal path (shut_down) has no USAGE
    if (userid && reason !== "shutdown") this.log.notice(`USAGE ${userid} ${this.cpu.report()}`);
    // the angle brackets are literal in Cyrus's format string
    this.log.notice(`counts: retr=<${c.retr}> top=<${c.top}> dele=<${c.dele}>`);
    this.telemetry?.close();
    this.telemetry = undefined;
    this.registry?.remove(this);
    // pop3d.c:shut_down flushes and closes; a client that does not read gets a short deadline,
    // and none at all when the process is going away
    this.io.close(reason === "shutdown" ? "now" : "drain");
    this.wake();
    this.resolveDone(reason);
  }

  updateRegistry(): void {
    const state = this.current;
    this.registry?.update(this, {
      service: this.settings.service,
      clientHost: this.io.clientHost,
      userid: userOf(state) ?? "",
      // Cyrus records the mailbox's internal name (user.alice), not the user
      mailbox: state.kind === "transaction" ? (this.settings.procMailbox?.(state.login.user, state.login.subfolder) ?? state.login.user) : "",
    });
  }

  /** pop3d.c:cmdloop: once USER named someone, user_deny.db is checked before every command. */
  private denyNotice(): PopError | undefined {
    const user = userOf(this.current);
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
        if (this.registry) this.updateRegistry();
        const notice = checkShutdownFiles(this.settings.shutdownFiles) ?? this.denyNotice();
        if (notice !== undefined) {
          this.reject(notice);
          this.finish("notice");
          return;
        }
        const line = this.lineAtHand(MAX_COMMAND_LINE) ?? (await this.nextLine(MAX_COMMAND_LINE));
        if (!this.runsCommands) return;
        if (line === null) {
          this.finish("eof");
          return;
        }
        // log lines name the client as Cyrus's do ("host [ip]"); the lookup is bounded
        if (!this.clientHostKnown && this.io.clientHostReady) await this.io.clientHostReady;
        this.clientHostKnown = true;
        // most commands (STAT, NOOP, CAPA, DELE ...) finish at once: no promise to wait for then
        const running = this.execute(parseCommand(line));
        if (running) await running;
        if (!this.runsCommands) return;
      }
    } catch (error) {
      // pop3d.c:fatal: a fixed text to the client, the detail to the log, end without committing
      const message = (error as Error)?.message ?? String(error);
      this.log.err(`Fatal error: ${message.split("\n", 1)[0]}`);
      this.log.debug(`session ${this.sessionId}: ${(error as Error)?.stack ?? error}`);
      this.reject(E.internal);
      this.finish("fatal");
    }
  }

  private execute(command: Command): Promise<void> | void {
    if (this.settings.chatty) this.log.notice(`command: ${command.keyword}`);
    // pop3d.c:cmdloop: "STAT ", "XYZ " ... all get Syntax error before dispatch; "AUTH " means bare AUTH (Outlook)
    if (command.emptyArgument && command.keyword !== "auth") return this.reject(E.syntaxError);
    let running: Promise<void> | void;
    try {
      running = this.dispatch(command);
    } catch (error) {
      return this.commandFailed(error);
    }
    return running?.catch((error: unknown) => this.commandFailed(error));
  }

  /** A handler may throw the client-visible error it wants sent; anything else is fatal. */
  private commandFailed(error: unknown): void {
    if (!(error instanceof PopError)) throw error;
    this.reject(error);
  }

  private dispatch(command: Command): Promise<void> | void {
    const { keyword } = command;
    const anyState = ANY_STATE_COMMANDS.get(keyword);
    if (anyState) return anyState(this, command);
    const state = this.current;
    if (state.kind === "authorization") {
      const handler = AUTHORIZATION_COMMANDS.get(keyword);
      if (handler) return handler(this, state, command);
    } else if (state.kind === "transaction") {
      const handler = TRANSACTION_COMMANDS.get(keyword);
      if (handler) return handler(this, state, command);
    }
    this.reject(E.unrecognized);
  }
}
