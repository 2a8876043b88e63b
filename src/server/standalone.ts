/**
 * Many sessions in one process on listening sockets: standalone mode (we bind `--listen`
 * addresses), systemd socket activation and inetd `wait = yes` (the sockets are inherited fds).
 * SIGTERM stops accepting, lets running sessions finish for GRACEFUL_STOP_SECONDS, then cuts them.
 * SIGHUP reloads the TLS certificates without giving up any socket: pop3s listeners are plain
 * listeners whose connections start TLS with the settings current at accept time, so a process
 * that bound port 995 as root and then left root keeps serving it.
 */
import type { SocketListener } from "bun";
import type { Session, SessionDeps } from "../pop3/session.ts";
import type { Log } from "../log/log.ts";
import { manySessionDeps, sessionHandlers, type SessionStarter, type SocketData } from "./socket-session.ts";
import type { TlsSettings } from "./tls.ts";
import { FULL_PROCESS_REFUSAL_DELAY_MS, GRACEFUL_STOP_SECONDS } from "../limits.ts";
import { listenTcp } from "../sys/libc.ts";
import { PausableListener, connectionBudget } from "./pausable-listener.ts";
import { MemoryShrinker } from "./memory-shrinker.ts";
import type { ProcessSignals } from "./signals.ts";
import { refuseWhenFull } from "./refuse-when-full.ts";

export interface ListenAddress {
  hostname: string;
  port: number;
  /** An inherited listening socket (systemd, inetd wait = yes, a worker's share) instead of binding. */
  fd?: number;
  /** pop3s: TLS from the first byte. */
  tls?: boolean;
  /** Expect a PROXY header first (-H or --listen-proxy). */
  proxy?: boolean;
}

/** "[addr:]port", "[v6addr]:port" or "port" (all interfaces). */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`invalid listen address "${text}" (want [addr:]port)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in listen address "${text}"`);
  return { hostname: m[1] ?? m[2] ?? "0.0.0.0", port };
}

type Listening =
  | { kind: "pausable"; listener: PausableListener<SocketData> }
  | { kind: "bun"; listener: SocketListener<SocketData> };

export interface StandaloneOptions {
  listen: ListenAddress[];
  deps: SessionDeps;
  log: Log;
  /** Current TLS settings; reloadTls() re-reads them on SIGHUP. */
  tls: () => TlsSettings | undefined;
  reloadTls?: () => void;
  /** Which peers may send PROXY headers. */
  proxyTrusted: (address: string) => boolean;
  /** Called with each bound address, e.g. to print it. */
  announce(address: string): void;
  /** Runs once every listener is bound (dropping root); false stops the server. */
  afterListen?(): boolean;
  /** Exit 0 after this many seconds without any session (inetd wait = yes hands the socket back). */
  idleExitSeconds?: number;
  /** Every session as it starts (the caller's first-session chores). */
  sessionStarted?(session: Session): void;
  signals: ProcessSignals;
}

/** sysexits.h: the operating system refused (Cyrus's service.c exits so on socket errors). */
const EX_OSERR = 71;

export async function runStandalone(options: StandaloneOptions): Promise<number> {
  const sessions = new Set<Session>();
  let connections = 0;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let idleExit: (() => void) | undefined;
  const armIdleTimer = () => {
    if (!options.idleExitSeconds || connections > 0) return;
    idleTimer = setTimeout(() => idleExit?.(), options.idleExitSeconds * 1000);
  };

  const deps = manySessionDeps(options.deps);
  const starterFor = (address: ListenAddress): SessionStarter => ({
    deps,
    tls: options.tls,
    // TLS is started per connection, so a certificate reload needs no new socket
    implicitTls: address.tls ? "upgrade" : undefined,
    proxy: address.proxy ? { trusted: options.proxyTrusted } : undefined,
    track: (s) => {
      sessions.add(s);
      options.sessionStarted?.(s);
    },
    closed: (s) => {
      if (s) sessions.delete(s);
      connections--;
      if (connections === budget - 1 && refusals > 0) {
        options.log.notice(`below the descriptor limit again; ${refusals} connection(s) were refused meanwhile`);
        refusals = 0;
        listenForAll();
      }
      armIdleTimer();
    },
    failed: (reason, host) => options.log.notice(reason.includes(host) ? reason : `${reason} (${host})`),
  });

  // descriptors: at the budget, new connections are answered -ERR and closed (refuse-when-full.ts),
  // so accept(2) never fails with EMFILE and no client waits in the backlog without an answer
  const budget = connectionBudget();
  const listeners: Listening[] = [];
  const pausable = (): PausableListener<SocketData>[] => listeners.flatMap((l) => (l.kind === "pausable" ? [l.listener] : []));
  let stopping = false;
  let refusals = 0;
  let pacing: ReturnType<typeof setTimeout> | undefined;
  const listenForAll = () => {
    if (pacing) clearTimeout(pacing);
    pacing = undefined;
    if (stopping) return;
    for (const l of pausable()) l.resume();
  };
  const refused = () => {
    if (refusals++ === 0) options.log.warning(`${connections} connections: at the descriptor limit, refusing new connections until one ends`);
    if (pacing) return;
    // after this accept burst, listen again only for connections no sibling with room has taken
    pacing = setTimeout(() => {
      for (const l of pausable()) l.pause();
      pacing = setTimeout(listenForAll, FULL_PROCESS_REFUSAL_DELAY_MS);
    }, 0);
  };

  const handlersFor = (address: ListenAddress) => {
    if (address.tls && !options.tls()) throw new Error("pop3s: required TLS options not present (tls_server_cert, tls_server_key)");
    const handlers = sessionHandlers(starterFor(address));
    const open = handlers.open!;
    return refuseWhenFull<SocketData>(
      {
        ...handlers,
        open: (s: Parameters<typeof open>[0]) => {
          connections++;
          if (idleTimer) clearTimeout(idleTimer);
          idleTimer = undefined;
          return open(s);
        },
      },
      { full: () => connections >= budget, tls: address.tls === true, refused },
    );
  };

  for (const address of options.listen) {
    try {
      const flags = `${address.tls ? " (tls)" : ""}${address.proxy ? " (proxy)" : ""}`;
      if (address.fd !== undefined) {
        const listener = new PausableListener<SocketData>(address.fd, handlersFor(address));
        listener.resume();
        listeners.push({ kind: "pausable", listener });
        options.announce(`fd ${address.fd}${flags}`);
        continue;
      }
      let bound: { fd: number; port: number } | undefined;
      try {
        bound = listenTcp(address.hostname, address.port);
      } catch (error) {
        // a host name rather than an address: Bun resolves it, and that listener cannot pause
        if (!(error instanceof Error) || !error.message.includes("numeric")) throw error;
      }
      const shown = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
      if (bound) {
        const listener = new PausableListener<SocketData>(bound.fd, handlersFor(address));
        listener.resume();
        listeners.push({ kind: "pausable", listener });
        options.announce(`${shown}:${bound.port}${flags}`);
      } else {
        const listener = Bun.listen<SocketData>({
          hostname: address.hostname,
          port: address.port,
          allowHalfOpen: true,
          socket: handlersFor(address),
        } as unknown as Parameters<typeof Bun.listen<SocketData>>[0]) as SocketListener<SocketData> & { port: number };
        listeners.push({ kind: "bun", listener });
        options.announce(`${shown}:${listener.port}${flags}`);
      }
    } catch (error) {
      // name the address and where it came from instead of Bun's "Failed to listen at <host>"
      const e = error as { code?: string; errno?: number; message?: string };
      const text = `${e.code ?? ""} ${e.message ?? ""}`;
      const why =
        e.errno === 98 || /EADDRINUSE|in use/i.test(text) ? "address already in use"
        : e.errno === 13 || /EACCES|permission/i.test(text) ? "permission denied (a port below 1024 needs root)"
        : (e.message ?? String(error));
      const option = address.tls ? "--listen-tls" : address.proxy ? "--listen-proxy or -H" : "--listen or pop3_listen";
      const message = `cannot listen on ${address.hostname}:${address.port} (${option}): ${why}`;
      options.log.err(message);
      for (const l of listeners) l.kind === "pausable" ? l.listener.close() : l.listener.stop(false);
      return EX_OSERR;
    }
  }
  const stopAll = () => {
    for (const l of listeners) {
      if (l.kind === "pausable") l.listener.close();
      else l.listener.stop(false);
    }
  };
  if (options.afterListen && !options.afterListen()) {
    stopAll();
    options.log.err("Fatal error: must run as the Cyrus user");
    return 64;
  }

  options.signals.onHangup(() => {
    if (!options.reloadTls) return;
    try {
      options.reloadTls();
    } catch (error) {
      options.log.err(`TLS reload failed, keeping the old certificates: ${(error as Error).message}`);
      return;
    }
    options.log.notice("reloaded TLS certificates");
  });

  // what a burst of connections or logins leaves behind goes back once the process is quiet
  const shrinker = new MemoryShrinker();
  shrinker.start();
  const served = new Promise<number>((resolve) => {
    idleExit = () => {
      if (stopping || connections > 0) return;
      stopping = true;
      stopAll();
      resolve(0);
    };
    armIdleTimer();
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      options.log.notice(`${signal}: graceful shutdown, ${sessions.size} session(s) still running`);
      stopAll();
      const finishUp = () => resolve(0);
      if (sessions.size === 0) return finishUp();
      const cut = setTimeout(() => {
        for (const s of sessions) s.shutdown();
        setTimeout(finishUp, 100);
      }, GRACEFUL_STOP_SECONDS * 1000);
      const poll = setInterval(() => {
        if (sessions.size === 0) {
          clearInterval(poll);
          clearTimeout(cut);
          finishUp();
        }
      }, 100);
    };
    options.signals.onTerminate(stop);
  });
  return served.finally(() => shrinker.stop());
}
