/**
 * One session on an already-connected socket fd: stdio mode's fd 0 and master mode's accepted fd.
 * With -H the PROXY header is read from the fd first (imap/haproxy.c:haproxy_read_hdr); with -s TLS starts right after (imap/tls.c:tls_init_serverengine).
 */
import { writeSync } from "node:fs";
import type { Session, SessionDeps } from "../pop3/session.ts";
import type { SessionEnd } from "../pop3/session-io.ts";
import type { Log } from "../log/log.ts";
import { R, CRLF } from "../pop3/responses.ts";
import { closeFd } from "../sys/libc.ts";
import { readProxyHeaderFromFd } from "./proxy-fd.ts";
import type { ProxiedAddress } from "./haproxy.ts";
import { sessionHandlers, type SocketData } from "./socket-session.ts";
import type { TlsSettings } from "./tls.ts";

export interface FdSessionOptions {
  deps: SessionDeps;
  log: Log;
  tls: () => TlsSettings | undefined;
  implicitTls: boolean;
  haproxy: boolean;
  track(session: Session | undefined): void;
}

/** What happened to the connection: a session end, or a failure before any session (pop3d.c:shut_down codes). */
export type FdOutcome = { end: SessionEnd } | { exitCode: number };

const EX_IOERR = 74;
const EX_PROTOCOL = 76;

export async function serveFd(fd: number, o: FdSessionOptions): Promise<FdOutcome> {
  let proxiedClient: ProxiedAddress | undefined;
  if (o.haproxy) {
    const header = await readProxyHeaderFromFd(fd);
    if (header.status !== "ok") {
      o.log.err(`Fatal error: unable to read HAProxy protocol header (${header.status === "invalid" ? header.reason : "incomplete"})`);
      try {
        writeSync(fd, R.haproxyFailed + CRLF);
      } catch {
        // the client is gone anyway
      }
      return { exitCode: EX_IOERR };
    }
    proxiedClient = header.source;
  }
  return new Promise<FdOutcome>((resolve, reject) => {
    let failedTls = false;
    Bun.connect<SocketData>({
      fd,
      allowHalfOpen: true,
      socket: sessionHandlers({
        deps: o.deps,
        tls: o.tls,
        implicitTls: o.implicitTls ? "upgrade" : undefined,
        proxiedClient,
        track: (s) => o.track(s),
        failed: (reason) => {
          o.log.notice(reason);
          if (reason.startsWith("TLS")) failedTls = true;
        },
        closed: (session, end) => {
          o.track(undefined);
          resolve(session ? { end } : { exitCode: failedTls ? EX_PROTOCOL : 0 });
        },
      }),
    } as any).catch((error: unknown) => {
      closeFd(fd);
      reject(error);
    });
  });
}
