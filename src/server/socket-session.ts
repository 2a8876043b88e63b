/**
 * Bun socket handlers that run one POP3 session per socket. Standalone (Bun.listen), stdio
 * (Bun.connect({fd: 0})) and master mode (Bun.connect({fd}) after accept4) all use these.
 */
import type { Socket, SocketHandler } from "bun";
import { Connection, clientHostOf } from "./connection.ts";
import { Session, type SessionDeps } from "../pop3/session.ts";
import type { SessionEnd } from "../pop3/session-io.ts";

export interface SocketData {
  conn?: Connection;
  session?: Session;
}

export interface SessionStarter {
  deps: SessionDeps;
  /** Whether the socket is already TLS (pop3s listener). */
  tls?: boolean;
  /** Every started session, for graceful shutdown. */
  track?(session: Session): void;
  closed?(session: Session, end: SessionEnd): void;
}

export function startSessionOn(socket: Socket<SocketData>, starter: SessionStarter): void {
  const conn = new Connection(socket, clientHostOf(socket.remoteAddress), starter.tls ?? false);
  const session = new Session(conn, starter.deps);
  socket.data = { conn, session };
  starter.track?.(session);
  void session.start();
}

export function sessionHandlers(starter: SessionStarter): SocketHandler<SocketData> {
  return {
    open(socket) {
      if (!starter.tls) startSessionOn(socket, starter);
    },
    handshake(socket, success) {
      // pop3s: the greeting goes out only once TLS is up (writes before it return 0, bun-findings §1)
      if (starter.tls && success && !socket.data?.session) startSessionOn(socket, starter);
    },
    data(socket, chunk) {
      const { conn, session } = socket.data ?? {};
      if (!conn || conn.upgrading) return;
      session!.receive(chunk);
    },
    drain(socket) {
      socket.data?.conn?.onDrain();
    },
    end(socket) {
      socket.data?.session?.receiveEnd();
    },
    close(socket) {
      const { conn, session } = socket.data ?? {};
      conn?.markGone();
      if (!session) return;
      session.connectionLost();
      starter.closed?.(session, session.endReason ?? "eof");
    },
    error() {
      // close() follows; the session treats it as a dropped connection
    },
  };
}
