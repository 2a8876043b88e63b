/**
 * Bun socket handlers that run one POP3 session per socket, in every launch mode: standalone
 * (Bun.listen), stdio (Bun.connect({fd: 0})) and master (Bun.connect({fd}) after accept4).
 * Order per connection, as in Cyrus (§2.8): PROXY header (-H), implicit TLS (-s), greeting.
 */
import type { Socket, SocketHandler } from "bun";
import { Connection, clientHostOf } from "./connection.ts";
import { nameClientHost } from "../log/client-host.ts";
import { Session, type SessionDeps } from "../pop3/session.ts";
import type { SessionEnd } from "../pop3/session-io.ts";
import { R, CRLF } from "../pop3/responses.ts";
import type { ProxiedAddress } from "./haproxy.ts";
import { readProxyHeaderFromFd } from "./proxy-fd.ts";
import { describeTls, type TlsSettings } from "./tls.ts";

/** -s: Cyrus bounds the pop3s handshake at 180 s (§7). */
export const IMPLICIT_TLS_HANDSHAKE_SECONDS = 180;

export interface SocketData {
  conn?: Connection;
  session?: Session;
  timer?: ReturnType<typeof setTimeout>;
  reported?: boolean;
}

export interface SessionStarter {
  deps: SessionDeps;
  /** The TLS settings now (reloadable); undefined when TLS is not configured. */
  tls?: () => TlsSettings | undefined;
  /** "listener": Bun.listen({tls}) did the handshake; "upgrade": start TLS on the adopted fd (-s). */
  implicitTls?: "listener" | "upgrade";
  /** Standalone -H: read a PROXY header from the socket; only from peers `trusted` accepts. */
  proxy?: { trusted(address: string): boolean };
  /** stdio/master -H: the header was already read from the fd. */
  proxiedClient?: ProxiedAddress;
  /** Every started session, for graceful shutdown. */
  track?(session: Session): void;
  closed?(session: Session | undefined, end: SessionEnd): void;
  /** Connection-level failures (PROXY, TLS) before any session, for the log. */
  failed?(reason: string, clientHost: string): void;
}

function startSession(socket: Socket<SocketData>, starter: SessionStarter): void {
  const { conn } = socket.data;
  if (!conn!.tlsActive && starter.tls?.()) {
    conn!.tlsUpgrade = () => {
      const settings = starter.tls?.();
      return settings ? upgradeToTls(socket, settings, starter) : Promise.resolve(false);
    };
  }
  // the greeting does not wait for the reverse lookup; the first command does (log/client-host.ts)
  conn!.clientHostReady = nameClientHost(conn!);
  const session = new Session(conn!, starter.deps);
  socket.data.session = session;
  starter.track?.(session);
  void session.start();
}

function report(socket: Socket<SocketData>, starter: SessionStarter, end: SessionEnd): void {
  if (socket.data.reported) return;
  socket.data.reported = true;
  if (socket.data.timer) clearTimeout(socket.data.timer);
  starter.closed?.(socket.data.session, socket.data.session?.endReason ?? end);
}

/** Start TLS on the connection's current socket; resolves whether the handshake succeeded. */
export function upgradeToTls(socket: Socket<SocketData>, settings: TlsSettings, starter: SessionStarter): Promise<boolean> {
  const conn = socket.data.conn!;
  conn.upgrading = true;
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      resolve(ok);
    };
    const tlsHandlers: SocketHandler<SocketData> = {
      handshake(tls, ok) {
        if (ok) {
          conn.replaceSocket(tls);
          conn.tlsActive = true;
          conn.tlsSocket = tls;
          starter.deps.log.notice(describeTls(tls));
        }
        settle(ok);
        if (!ok) tls.end();
      },
      data(_tls, chunk) {
        socket.data.session?.receive(chunk);
      },
      drain() {
        conn.onDrain();
      },
      end() {
        socket.data.session?.receiveEnd();
      },
      close() {
        settle(false);
        conn.markGone();
        socket.data.session?.connectionLost();
        report(socket, starter, "eof");
      },
      error() {},
    };
    try {
      socket.upgradeTLS<SocketData>({ isServer: true, tls: settings.options as any, data: socket.data, socket: tlsHandlers });
    } catch {
      settle(false);
    }
  });
}

function beginAfterProxy(socket: Socket<SocketData>, starter: SessionStarter): void {
  if (starter.implicitTls === "upgrade" || (starter.implicitTls === "listener" && !socket.data.conn!.tlsActive)) {
    const settings = starter.tls?.();
    if (!settings) {
      starter.failed?.("pop3s: required TLS options not present", socket.data.conn!.clientHost);
      socket.end();
      return;
    }
    socket.data.timer = setTimeout(() => socket.end(), IMPLICIT_TLS_HANDSHAKE_SECONDS * 1000);
    void upgradeToTls(socket, settings, starter).then((ok) => {
      clearTimeout(socket.data.timer);
      if (ok) startSession(socket, starter);
      else starter.failed?.(`TLS negiation failed: ${socket.data.conn!.clientHost}`, socket.data.conn!.clientHost);
    });
    return;
  }
  startSession(socket, starter);
}

/**
 * Standalone -H: the socket is paused while the header is peeked from its fd and consumed, so
 * everything behind it (commands, or the TLS ClientHello) is still in the kernel afterwards.
 */
function readProxyHeader(socket: Socket<SocketData>, starter: SessionStarter): void {
  const conn = socket.data.conn!;
  const fd = (socket as unknown as { fd?: number }).fd;
  if (typeof fd !== "number" || fd < 0) {
    starter.failed?.("unable to read HAProxy protocol header: socket has no fd", conn.clientHost);
    socket.end();
    return;
  }
  socket.pause();
  void readProxyHeaderFromFd(fd, true).then((header) => {
    if (conn.isClosed) return;
    if (header.status !== "ok") {
      starter.failed?.(`unable to read HAProxy protocol header: ${header.status === "invalid" ? header.reason : "incomplete"}`, conn.clientHost);
      if (!starter.implicitTls) socket.write(R.haproxyFailed + CRLF);
      socket.end();
      return;
    }
    if (header.source) conn.clientHost = clientHostOf(header.source.address);
    beginAfterProxy(socket, starter);
    socket.resume();
  });
}

export function sessionHandlers(starter: SessionStarter): SocketHandler<SocketData> {
  return {
    open(socket) {
      const address = starter.proxiedClient?.address ?? socket.remoteAddress;
      socket.data = { conn: new Connection(socket, clientHostOf(address), starter.implicitTls === "listener") };
      if (starter.proxy) {
        if (!starter.proxy.trusted(socket.remoteAddress)) {
          starter.failed?.("PROXY header refused from an untrusted address", socket.data.conn!.clientHost);
          socket.end();
          return;
        }
        readProxyHeader(socket, starter);
        return;
      }
      // a TLS listener greets from the handshake handler (writes before it return 0, bun-findings §1)
      if (starter.implicitTls !== "listener") beginAfterProxy(socket, starter);
    },
    handshake(socket, success) {
      if (starter.implicitTls !== "listener" || socket.data.session || starter.proxy) return;
      if (success) starter.deps.log.notice(describeTls(socket));
      if (success) startSession(socket, starter);
      else starter.failed?.(`TLS negiation failed: ${socket.data.conn!.clientHost}`, socket.data.conn!.clientHost);
    },
    data(socket, chunk) {
      const { conn, session } = socket.data ?? {};
      // after upgradeTLS the raw socket still sees the ciphertext (bun-findings §2): not ours
      if (!conn || conn.upgrading) return;
      session?.receive(chunk);
    },
    drain(socket) {
      const conn = socket.data?.conn;
      if (conn && !conn.upgrading) conn.onDrain();
    },
    end(socket) {
      if (socket.data?.conn?.upgrading) return;
      socket.data?.session?.receiveEnd();
    },
    close(socket) {
      const { conn, session } = socket.data ?? {};
      if (conn?.upgrading) return; // once upgraded, the TLS socket's handlers report the close
      conn?.markGone();
      session?.connectionLost();
      report(socket, starter, "eof");
    },
    error() {
      // close() follows; the session treats it as a dropped connection
    },
  };
}
