/** STLS (RFC 2595, pop3d.c:cmd_starttls): offered only with allowstarttls and a certificate; pipelined input is discarded. */
import type { AuthorizationHandler } from "../session-context.ts";
import { E, R } from "../responses.ts";

export const startTls: AuthorizationHandler = async (session, _state, { argument }) => {
  if (!session.settings.starttlsAvailable || !session.io.startTls) return session.reject(E.unrecognized);
  if (argument !== undefined) return session.reject(E.extraArgument);
  if (session.tlsActive) return session.reject(E.alreadyTls);
  // CVE-2011-0411 class: nothing the client sent before the handshake may be executed after it
  session.discardBufferedInput();
  session.send(R.beginTls);
  await session.flushAndWait();
  if (session.isOver) return;
  const ok = await session.io.startTls();
  session.discardBufferedInput();
  if (!ok) {
    session.log.notice(`TLS negiation failed: ${session.io.clientHost}`);
    session.finish("tls-failed");
  }
};
