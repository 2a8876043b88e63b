/**
 * Bun socket handlers that run one POP3 session per socket, in every launch mode: standalone
 * (Bun.listen), stdio (Bun.connect({fd: 0})) and master (Bun.connect({fd}) after accept4).
 * Order per connection, as in Cyrus (§2.8): PROXY header (-H), implicit TLS (-s), greeting.
 */
import type { Socket, SocketHandler } from "bun";
import { Connection, clientHostOf } from "./connection.ts";
import { Session, type SessionDeps } from "../pop3/session.ts";
import type { SessionEnd } from "../pop3/session-io.ts";
import { R, CRLF } from "../pop3/responses.ts";
import { parseProxyHeader, type ProxiedAddress } from "./haproxy.ts";
import { PROXY_HEADER_TIMEOUT_MS } from "./proxy-fd.ts";
import { describeTls, type TlsSettings } from "./tls.ts";

/** -s: Cyrus bounds the pop3s handshake at 180 s (§7). */
export const IMPLICIT_TLS_HANDSHAKE_SECONDS = 180;

export interface SocketData {
  conn?: Connection;
  session?: Session;
  /** Bytes of a PROXY header read so far (standalone -H). */
  proxyBytes?: Buffer;
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

function beginAfterProxy(socket: Socket<SocketData>, starter: SessionStarter, leftover: Uint8Array | undefined): void {
  if (starter.implicitTls === "upgrade" || (starter.implicitTls === "listener" && !socket.data.conn!.tlsActive)) {
    const settings = starter.tls?.();
    // bytes behind the PROXY header belong to the ClientHello, which Bun's TLS layer cannot be handed
    if (!settings || (leftover && leftover.length > 0)) {
      starter.failed?.(settings ? "TLS data arrived with the PROXY header" : "no TLS settings", socket.data.conn!.clientHost);
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
  if (leftover && leftover.length > 0) socket.data.session!.receive(leftover);
}

function acceptProxyBytes(socket: Socket<SocketData>, starter: SessionStarter, chunk: Uint8Array): void {
  const data = socket.data;
  data.proxyBytes = data.proxyBytes ? Buffer.concat([data.proxyBytes, chunk]) : Buffer.from(chunk);
  const header = parseProxyHeader(data.proxyBytes);
  if (header.status === "incomplete") return;
  clearTimeout(data.timer);
  if (header.status === "invalid") {
    starter.failed?.(`unable to read HAProxy protocol header: ${header.reason}`, data.conn!.clientHost);
    socket.write(R.haproxyFailed + CRLF);
    socket.end();
    return;
  }
  if (header.source) data.conn!.clientHost = clientHostOf(header.source.address);
  const leftover = data.proxyBytes.subarray(header.length);
  data.proxyBytes = undefined;
  beginAfterProxy(socket, starter, leftover);
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
        socket.data.timer = setTimeout(() => socket.end(), PROXY_HEADER_TIMEOUT_MS);
        return;
      }
      // a TLS listener greets from the handshake handler (writes before it return 0, bun-findings §1)
      if (starter.implicitTls !== "listener") beginAfterProxy(socket, starter, undefined);
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
      if (!session) {
        if (starter.proxy) acceptProxyBytes(socket, starter, chunk);
        return;
      }
      session.receive(chunk);
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
