/**
 * Standalone mode: we listen ourselves (Bun.listen), many concurrent sessions in one process.
 * SIGTERM stops accepting, lets running sessions finish for GRACEFUL_STOP_SECONDS, then cuts them.
 */
import type { TCPSocketListener } from "bun";
import type { Session, SessionDeps } from "../pop3/session.ts";
import type { Log } from "../log/log.ts";
import { sessionHandlers, type SocketData } from "./socket-session.ts";
import { GRACEFUL_STOP_SECONDS } from "../limits.ts";

export interface ListenAddress {
  hostname: string;
  port: number;
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
  /** Called with each bound address, e.g. to print it. */
  announce(address: string): void;
  /** Runs once every listener is bound (dropping root); false stops the server. */
  afterListen?(): boolean;
}

export async function runStandalone(options: StandaloneOptions): Promise<number> {
  const sessions = new Set<Session>();
  const handlers = sessionHandlers({
    deps: options.deps,
    track: (s) => sessions.add(s),
    closed: (s) => sessions.delete(s),
  });
  const listeners: TCPSocketListener<SocketData>[] = [];
  for (const address of options.listen) {
    const listener = Bun.listen<SocketData>({
      hostname: address.hostname,
      port: address.port,
      allowHalfOpen: true,
      socket: handlers,
    });
    listeners.push(listener);
    const shown = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
    options.announce(`${shown}:${listener.port}`);
  }

  if (options.afterListen && !options.afterListen()) {
    for (const l of listeners) l.stop(true);
    options.log.err("Fatal error: must run as the Cyrus user");
    return 64;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
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
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
