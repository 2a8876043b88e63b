/**
 * Connections a full process cannot serve get an answer instead of silence: an -ERR with RFC 2449's
 * SYS/TEMP response code (RFC 3206: a temporary condition, try again later), then the connection
 * is closed. Cyrus answers a temporary refusal the same way (pop3d.c:shutdown_file sends
 * "-ERR [SYS/TEMP] <why>" and shuts down). A pop3s connection is closed without a word: plain text
 * before the TLS handshake would be garbage to its client.
 */
import type { Socket, SocketHandler } from "bun";

export const FULL_REFUSAL = "-ERR [SYS/TEMP] Too many connections, try again later\r\n";

export interface RefusalPolicy {
  /** True while the process may take no more connections. */
  full(): boolean;
  /** A listener whose clients expect TLS from the first byte. */
  tls: boolean;
  /** After each refused connection (logging, pacing). */
  refused(): void;
}

/**
 * The listener's handlers, with refusal in front: a connection opened while full() is answered
 * and ended at once (Bun closes its descriptor as soon as the few bytes are written), and none of
 * the session's handlers ever sees it.
 */
export function refuseWhenFull<Data>(handlers: SocketHandler<Data>, policy: RefusalPolicy): SocketHandler<Data> {
  const refused = new WeakSet<Socket<Data>>();
  const open = handlers.open!;
  const passOn = <Args extends unknown[]>(handler: ((socket: Socket<Data>, ...args: Args) => unknown) | undefined) =>
    handler && ((socket: Socket<Data>, ...args: Args) => (refused.has(socket) ? undefined : handler(socket, ...args)));
  return {
    ...handlers,
    open(socket) {
      if (!policy.full()) return open(socket);
      refused.add(socket);
      if (!policy.tls) socket.write(FULL_REFUSAL);
      socket.end();
      policy.refused();
    },
    data: passOn(handlers.data),
    drain: passOn(handlers.drain),
    end: passOn(handlers.end),
    close: passOn(handlers.close),
    error: passOn(handlers.error),
    handshake: passOn(handlers.handshake),
    timeout: passOn(handlers.timeout),
  } as SocketHandler<Data>;
}
