/**
 * Standalone mode: we listen ourselves (Bun.listen), many concurrent sessions in one process.
 * SIGTERM stops accepting, lets running sessions finish for GRACEFUL_STOP_SECONDS, then cuts them.
 * SIGHUP reloads the TLS certificates: STLS uses them at once; pop3s listeners are re-bound, and
 * sessions already running are not touched.
 */
import type { TCPSocketListener } from "bun";
import type { Session, SessionDeps } from "../pop3/session.ts";
import type { Log } from "../log/log.ts";
import { sessionHandlers, type SessionStarter, type SocketData } from "./socket-session.ts";
import type { TlsSettings } from "./tls.ts";
import { GRACEFUL_STOP_SECONDS } from "../limits.ts";
import type { ProcessSignals } from "./signals.ts";

export interface ListenAddress {
  hostname: string;
  port: number;
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
  signals: ProcessSignals;
}

export async function runStandalone(options: StandaloneOptions): Promise<number> {
  const sessions = new Set<Session>();
  const starterFor = (address: ListenAddress): SessionStarter => ({
    deps: options.deps,
    tls: options.tls,
    implicitTls: address.tls ? (address.proxy ? "upgrade" : "listener") : undefined,
    proxy: address.proxy ? { trusted: options.proxyTrusted } : undefined,
    track: (s) => sessions.add(s),
    closed: (s) => s && sessions.delete(s),
    failed: (reason, host) => options.log.notice(reason.includes(host) ? reason : `${reason} (${host})`),
  });

  const bind = (address: ListenAddress): TCPSocketListener<SocketData> => {
    // a PROXY header comes before the ClientHello, so proxied pop3s listens plain and upgrades itself
    const tls = address.tls && !address.proxy ? options.tls() : undefined;
    if (address.tls && !options.tls()) throw new Error("pop3s: required TLS options not present (tls_server_cert, tls_server_key)");
    return Bun.listen<SocketData>({
      hostname: address.hostname,
      port: address.port,
      allowHalfOpen: true,
      ...(tls ? { tls: tls.options as any } : {}),
      socket: sessionHandlers(starterFor(address)),
    });
  };

  const listeners: { address: ListenAddress; listener: TCPSocketListener<SocketData> }[] = [];
  for (const address of options.listen) {
    const listener = bind(address);
    const bound = { ...address, port: listener.port };
    listeners.push({ address: bound, listener });
    const shown = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
    options.announce(`${shown}:${listener.port}${address.tls ? " (tls)" : ""}${address.proxy ? " (proxy)" : ""}`);
  }
  if (options.afterListen && !options.afterListen()) {
    for (const l of listeners) l.listener.stop(true);
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
    for (const entry of listeners) {
      if (!entry.address.tls || entry.address.proxy) continue;
      entry.listener.stop(false);
      entry.listener = bind(entry.address);
    }
    options.log.notice("reloaded TLS certificates");
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      options.log.notice(`${signal}: graceful shutdown, ${sessions.size} session(s) still running`);
      for (const l of listeners) l.listener.stop(false);
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
