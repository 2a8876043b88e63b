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
import { sessionHandlers, type SessionStarter, type SocketData } from "./socket-session.ts";
import type { TlsSettings } from "./tls.ts";
import { GRACEFUL_STOP_SECONDS } from "../limits.ts";
import type { ProcessSignals } from "./signals.ts";

export interface ListenAddress {
  hostname: string;
  port: number;
  /** An inherited listening socket (systemd, inetd wait = yes, a worker's share) instead of binding. */
  fd?: number;
  /** pop3s: TLS from the first byte. */
  tls?: boolean;
  /** Expect a PROXY header first (-H or --listen-proxy). */
  proxy?: boolean;
  /** SO_REUSEPORT, so that worker processes can each bind the same address. */
  reusePort?: boolean;
}

/** "[addr:]port", "[v6addr]:port" or "port" (all interfaces). */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`invalid listen address "${text}" (want [addr:]port)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in listen address "${text}"`);
  return { hostname: m[1] ?? m[2] ?? "0.0.0.0", port };
}

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

export async function runStandalone(options: StandaloneOptions): Promise<number> {
  const sessions = new Set<Session>();
  let connections = 0;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let idleExit: (() => void) | undefined;
  const armIdleTimer = () => {
    if (!options.idleExitSeconds || connections > 0) return;
    idleTimer = setTimeout(() => idleExit?.(), options.idleExitSeconds * 1000);
  };

  const starterFor = (address: ListenAddress): SessionStarter => ({
    deps: options.deps,
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
      armIdleTimer();
    },
    failed: (reason, host) => options.log.notice(reason.includes(host) ? reason : `${reason} (${host})`),
  });

  const bind = (address: ListenAddress): SocketListener<SocketData> => {
    if (address.tls && !options.tls()) throw new Error("pop3s: required TLS options not present (tls_server_cert, tls_server_key)");
    const handlers = sessionHandlers(starterFor(address));
    const open = handlers.open!;
    const socket = {
      ...handlers,
      open: (s: Parameters<typeof open>[0]) => {
        connections++;
        if (idleTimer) clearTimeout(idleTimer);
        idleTimer = undefined;
        return open(s);
      },
    };
    const where = address.fd !== undefined ? { fd: address.fd } : { hostname: address.hostname, port: address.port, reusePort: address.reusePort };
    return Bun.listen<SocketData>({ ...where, allowHalfOpen: true, socket } as Parameters<typeof Bun.listen<SocketData>>[0]);
  };

  const listeners: SocketListener<SocketData>[] = [];
  for (const address of options.listen) {
    const listener = bind(address) as SocketListener<SocketData> & { hostname?: string; port?: number };
    listeners.push(listener);
    const flags = `${address.tls ? " (tls)" : ""}${address.proxy ? " (proxy)" : ""}`;
    if (address.fd !== undefined) {
      options.announce(`fd ${address.fd}${flags}`);
    } else {
      const host = listener.hostname ?? address.hostname;
      const shown = host.includes(":") ? `[${host}]` : host;
      options.announce(`${shown}:${listener.port ?? address.port}${flags}`);
    }
  }
  if (options.afterListen && !options.afterListen()) {
    for (const l of listeners) l.stop(true);
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

  return new Promise<number>((resolve) => {
    let stopping = false;
    idleExit = () => {
      if (stopping || connections > 0) return;
      stopping = true;
      for (const l of listeners) l.stop(false);
      resolve(0);
    };
    armIdleTimer();
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      options.log.notice(`${signal}: graceful shutdown, ${sessions.size} session(s) still running`);
      for (const l of listeners) l.stop(false);
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
}
