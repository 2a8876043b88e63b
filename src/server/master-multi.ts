/**
 * Many sessions per process under Cyrus master(8) (`pop3_sessions_per_process` > 1), the way
 * Cyrus's master/service-thread.c serves a threaded service: the process stays READY and tells
 * master MASTER_SERVICE_CONNECTION_MULTI for every connection it accepts (master.c counts it and
 * keeps the process ready). At N live connections it sends UNAVAILABLE (master then forks another
 * process when a connection waits), and AVAILABLE again once one ends.
 *
 * Accepting never blocks the event loop: Bun listens on fd 4 through a PausableListener, so the
 * kernel wakes the process when a connection is there; preforked siblings all wait that way and
 * the kernel hands each connection to one of them (no accept lock, as in service-thread.c). A full
 * process pauses the listener inside Bun's open handler, so it takes no more.
 * See docs/launch-modes.md.
 */
import type { Session } from "../pop3/session.ts";
import type { Log } from "../log/log.ts";
import { PausableListener, connectionBudget } from "./pausable-listener.ts";
import {
  LISTEN_FD,
  MASTER_SERVICE_AVAILABLE,
  MASTER_SERVICE_CONNECTION,
  MASTER_SERVICE_CONNECTION_MULTI,
  MASTER_SERVICE_UNAVAILABLE,
  effectiveReuseTimeout,
  executableWatcher,
  notifyMaster,
} from "./master-service.ts";
import { manySessionDeps, sessionHandlers, type SessionStarter, type SocketData } from "./socket-session.ts";
import type { TlsSettings } from "./tls.ts";
import { MemoryShrinker } from "./memory-shrinker.ts";
import type { SessionDeps } from "../pop3/session.ts";

/** sysexits.h: service.c exits EX_OSERR when accept fails for good. */
const EX_OSERR = 71;
const EX_TEMPFAIL = 75;

export interface MultiMasterOptions {
  /** pop3_sessions_per_process: live connections at most. */
  sessionsPerProcess: number;
  /** -U: connections over the process's life. */
  maxUses: number;
  /** -T seconds without any connection before an idle process exits; 0 disables. */
  reuseTimeout: number;
  deps: SessionDeps;
  log: Log;
  tls: () => TlsSettings | undefined;
  implicitTls: boolean;
  haproxy: boolean;
  /** Every session as it starts (the caller's first-session chores). */
  sessionStarted?(session: Session): void;
}

export class MultiMasterService {
  private listener: PausableListener<SocketData> | undefined;
  private readonly sessions = new Set<Session>();
  private live = 0;
  private uses = 0;
  /** master counts a freshly forked process as READY. */
  private available = true;
  /** No more connections: SIGHUP, -U reached, a new binary, or -T expired. */
  private retiring = false;
  private terminated = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private exit: ((code: number) => void) | undefined;
  private readonly executableChanged = executableWatcher();
  /** Hundreds of connections arrive in bursts: what a burst leaves behind goes back once it is over. */
  private readonly shrinker = new MemoryShrinker();
  private readonly limit: number;
  private readonly lifetimeUses: number;

  constructor(private readonly o: MultiMasterOptions) {
    // never more connections than descriptors allow: past that, accept(2) fails with EMFILE
    this.limit = Math.max(1, Math.min(o.sessionsPerProcess, connectionBudget()));
    this.lifetimeUses = Math.max(1, o.maxUses);
  }

  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.exit = resolve;
      if (this.retiring) return this.finish(0);
      this.listen();
      this.shrinker.start();
    });
  }

  /** SIGHUP: take no more connections, let the running sessions finish, then exit 0. */
  onHangup(): void {
    this.retire();
  }

  /** SIGTERM: every session ends now without committing, as Cyrus's shut_down does; exit 75. */
  onTerminate(): void {
    this.o.log.notice("graceful shutdown");
    this.terminated = true;
    this.retiring = true;
    this.stopListening();
    for (const session of [...this.sessions]) session.shutdown();
    // closing the sockets is the kernel's job once we exit; nothing may keep the process alive
    setImmediate(() => this.finish(EX_TEMPFAIL));
  }

  private finish(code: number): void {
    const exit = this.exit;
    this.exit = undefined;
    this.shrinker.stop();
    // sessions that close during SIGTERM's shutdown must not turn its 75 into a clean 0
    exit?.(this.terminated ? EX_TEMPFAIL : code);
  }

  private starter(): SessionStarter {
    return {
      deps: manySessionDeps(this.o.deps),
      tls: this.o.tls,
      implicitTls: this.o.implicitTls ? "upgrade" : undefined,
      // master's -H: every connection starts with a PROXY header (Cyrus trusts whoever master lets in)
      proxy: this.o.haproxy ? { trusted: () => true } : undefined,
      track: (session) => {
        this.sessions.add(session);
        this.o.sessionStarted?.(session);
      },
      closed: (session) => {
        if (session) this.sessions.delete(session);
        this.connectionClosed();
      },
      failed: (reason, host) => this.o.log.notice(reason.includes(host) ? reason : `${reason} (${host})`),
    };
  }

  private listen(): void {
    if (this.retiring) return;
    if (!this.listener) {
      const handlers = sessionHandlers(this.starter());
      const open = handlers.open!;
      this.listener = new PausableListener<SocketData>(LISTEN_FD, {
        ...handlers,
        open: (socket) => {
          this.connectionAccepted();
          return open(socket);
        },
      });
    }
    try {
      this.listener.resume();
    } catch (error) {
      this.fatal(`accept failed: fd ${LISTEN_FD} is not a listening socket (${(error as Error).message})`);
    }
  }

  private fatal(message: string): never {
    this.o.log.err(message);
    process.exit(EX_OSERR);
  }

  /** Pausing inside Bun's open handler ends its accept loop before the next accept. */
  private stopListening(): void {
    this.listener?.pause();
  }

  private connectionAccepted(): void {
    this.uses++;
    this.live++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    // a process that already said UNAVAILABLE is BUSY for master, where CONNECTION is the right word
    notifyMaster(this.available ? MASTER_SERVICE_CONNECTION_MULTI : MASTER_SERVICE_CONNECTION);
    if (this.executableChanged()) {
      this.o.log.notice("process file has changed");
      this.retire();
    } else if (this.uses >= this.lifetimeUses) {
      this.retire();
    } else if (this.live >= this.limit) {
      this.stopListening();
      this.becomeUnavailable();
    }
  }

  private connectionClosed(): void {
    this.live--;
    if (this.retiring) {
      if (this.live <= 0) this.finish(0);
      return;
    }
    if (!this.available && this.live < this.limit) {
      notifyMaster(MASTER_SERVICE_AVAILABLE);
      this.available = true;
      this.listen();
    }
    if (this.live === 0) this.armIdleTimer();
  }

  private becomeUnavailable(): void {
    if (!this.available) return;
    this.available = false;
    notifyMaster(MASTER_SERVICE_UNAVAILABLE);
  }

  /** -T counts from the last connection's end, once the process has served one (service.c). */
  private armIdleTimer(): void {
    const seconds = effectiveReuseTimeout(this.o.reuseTimeout);
    if (seconds <= 0 || this.uses === 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.live === 0) this.retire();
    }, seconds * 1000);
  }

  private retire(): void {
    if (this.retiring) return;
    this.retiring = true;
    this.stopListening();
    // an idle process just exits (service.c); a busy one tells master, which forks a replacement
    // only for processes that are not ready
    if (this.live <= 0) this.finish(0);
    else this.becomeUnavailable();
  }
}
