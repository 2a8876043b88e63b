/**
 * Bun socket handlers that run one POP3 session per socket, in every launch mode: standalone
 * (Bun.listen), stdio (Bun.connect({fd: 0})) and master (Bun.connect({fd}) after accept4).
 * Order per connection, as in Cyrus (pop3d.c:service_main): PROXY header (-H), implicit TLS
 * (-s), greeting. Every wait the client controls has a deadline: the PROXY header
 * (PROXY_HEADER_TIMEOUT_MS) and each TLS handshake, pop3s or STLS (TLS_HANDSHAKE_SECONDS).
 */
import type { Socket, SocketHandler } from "bun";
import { Connection, clientHostOf } from "./connection.ts";
import { nameClientHost } from "../log/client-host.ts";
import { Session, type SessionDeps } from "../pop3/session.ts";
import type { SessionEnd } from "../pop3/session-io.ts";
import { R, CRLF } from "../pop3/responses.ts";
import { MAX_V2_PAYLOAD, parseProxyHeader, type ProxiedAddress } from "./haproxy.ts";
import { PROXY_HEADER_TIMEOUT_MS, readProxyHeaderFromFd } from "./proxy-fd.ts";
import { describeTls, type TlsSettings } from "./tls.ts";
import { TLS_HANDSHAKE_SECONDS } from "../limits.ts";
import { processLoginSettler } from "./login-heap-settler.ts";

export interface SocketData {
  conn?: Connection;
  session?: Session;
  timer?: ReturnType<typeof setTimeout>;
  reported?: boolean;
  /** Standalone -H on a plain listener: the PROXY header's bytes so far, until it is whole. */
  proxyBytes?: Buffer;
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

/** Deps for a process that serves several sessions at once: whatever is per process must become per session. */
export function manySessionDeps(deps: SessionDeps): SessionDeps {
  return { ...deps, settings: { ...deps.settings, telemetryPerSession: true }, loggedIn: () => processLoginSettler.loggedIn() };
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
    // a client that never finishes the handshake (or never starts it after STLS) is dropped,
    // as Cyrus's tls_start_servertls does after its 180 s timeout
    let tlsSide: Socket<SocketData> | undefined;
    const deadline = setTimeout(() => {
      settle(false);
      // the raw socket belongs to the TLS layer now: closing the TLS side closes the connection
      tlsSide?.terminate();
      conn.terminate();
      // after whoever awaits the handshake has seen it fail (its log line decides the exit code)
      setImmediate(() => report(socket, starter, "eof"));
    }, TLS_HANDSHAKE_SECONDS * 1000);
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
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
      [, tlsSide] = socket.upgradeTLS<SocketData>({ isServer: true, tls: settings.options as any, data: socket.data, socket: tlsHandlers });
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
      socket.data.conn!.close();
      return;
    }
    void upgradeToTls(socket, settings, starter).then((ok) => {
      if (ok) startSession(socket, starter);
      else starter.failed?.(`TLS negiation failed: ${socket.data.conn!.clientHost}`, socket.data.conn!.clientHost);
    });
    return;
  }
  startSession(socket, starter);
}

/** The PROXY header was bad, incomplete at the deadline, or cut short: say so (plain POP3 only) and close. */
function proxyFailed(socket: Socket<SocketData>, starter: SessionStarter, reason: string): void {
  const conn = socket.data.conn!;
  socket.data.proxyBytes = undefined;
  if (socket.data.timer) clearTimeout(socket.data.timer);
  if (conn.isClosed) return;
  starter.failed?.(`unable to read HAProxy protocol header: ${reason}`, conn.clientHost);
  if (!starter.implicitTls) conn.write(Buffer.from(R.haproxyFailed + CRLF, "latin1"));
  conn.close();
}

function proxyAccepted(socket: Socket<SocketData>, starter: SessionStarter, source: ProxiedAddress | undefined): void {
  if (socket.data.timer) clearTimeout(socket.data.timer);
  if (source) socket.data.conn!.clientHost = clientHostOf(source.address);
  beginAfterProxy(socket, starter);
}

/**
 * Standalone -H. On a plain listener the header comes through the socket's data events, so a
 * connection stalled inside it costs a timer and nothing else. Before a TLS handshake the bytes
 * behind the header (the ClientHello) must stay in the kernel for the TLS layer: the socket is
 * paused and the header peeked from its fd and consumed.
 */
function readProxyHeader(socket: Socket<SocketData>, starter: SessionStarter): void {
  const conn = socket.data.conn!;
  socket.data.timer = setTimeout(() => proxyFailed(socket, starter, "timed out waiting for the PROXY header"), PROXY_HEADER_TIMEOUT_MS);
  if (!starter.implicitTls) {
    socket.data.proxyBytes = Buffer.alloc(0);
    return;
  }
  const fd = (socket as unknown as { fd?: number }).fd;
  if (typeof fd !== "number" || fd < 0) return proxyFailed(socket, starter, "socket has no fd");
  socket.pause();
  void readProxyHeaderFromFd(fd, true).then((header) => {
    if (conn.isClosed) return;
    if (header.status !== "ok") return proxyFailed(socket, starter, header.status === "invalid" ? header.reason : "incomplete");
    proxyAccepted(socket, starter, header.source);
    socket.resume();
  });
}

/** A plain listener's bytes while the PROXY header is incomplete; what follows it goes to the session. */
function proxyData(socket: Socket<SocketData>, starter: SessionStarter, chunk: Uint8Array): void {
  const bytes = Buffer.concat([socket.data.proxyBytes!, chunk]);
  const header = parseProxyHeader(bytes);
  if (header.status === "incomplete") {
    if (bytes.length >= 16 + MAX_V2_PAYLOAD) return proxyFailed(socket, starter, "PROXY header too long");
    socket.data.proxyBytes = bytes;
    return;
  }
  socket.data.proxyBytes = undefined;
  if (header.status === "invalid") return proxyFailed(socket, starter, header.reason);
  proxyAccepted(socket, starter, header.source);
  const rest = bytes.subarray(header.length);
  if (rest.length > 0) socket.data.session?.receive(rest);
}

/** pop3s on a TLS listener: the handshake Bun runs for us gets the same deadline as ours. */
function armListenerHandshakeDeadline(socket: Socket<SocketData>): void {
  socket.data.timer = setTimeout(() => socket.data.conn!.terminate(), TLS_HANDSHAKE_SECONDS * 1000);
}

export function sessionHandlers(starter: SessionStarter): SocketHandler<SocketData> {
  return {
    open(socket) {
      const address = starter.proxiedClient?.address ?? socket.remoteAddress;
      socket.data = { conn: new Connection(socket, clientHostOf(address), starter.implicitTls === "listener") };
      if (starter.proxy) {
        if (!starter.proxy.trusted(socket.remoteAddress)) {
          starter.failed?.("PROXY header refused from an untrusted address", socket.data.conn!.clientHost);
          socket.data.conn!.close();
          return;
        }
        readProxyHeader(socket, starter);
        return;
      }
      // a TLS listener greets from the handshake handler (a TLS socket accepts no writes before it)
      if (starter.implicitTls !== "listener") beginAfterProxy(socket, starter);
      else armListenerHandshakeDeadline(socket);
    },
    handshake(socket, success) {
      if (starter.implicitTls !== "listener" || socket.data.session || starter.proxy) return;
      if (socket.data.timer) clearTimeout(socket.data.timer);
      if (success) starter.deps.log.notice(describeTls(socket));
      if (success) startSession(socket, starter);
      else starter.failed?.(`TLS negiation failed: ${socket.data.conn!.clientHost}`, socket.data.conn!.clientHost);
    },
    data(socket, chunk) {
      const { conn, session } = socket.data ?? {};
      // after upgradeTLS the raw socket still sees the ciphertext: not ours
      if (!conn || conn.upgrading) return;
      if (socket.data.proxyBytes) return proxyData(socket, starter, chunk);
      session?.receive(chunk);
    },
    drain(socket) {
      const conn = socket.data?.conn;
      if (conn && !conn.upgrading) conn.onDrain();
    },
    end(socket) {
      if (socket.data?.conn?.upgrading) return;
      if (socket.data?.proxyBytes) return proxyFailed(socket, starter, "connection closed inside the PROXY header");
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
