/** STLS (§7): offered only with allowstarttls and a certificate; pipelined input is discarded. */
import type { Handler } from "../session.ts";
import { R } from "../responses.ts";

export const startTls: Handler = async (session, { argument }) => {
  if (!session.settings.starttlsAvailable || !session.io.startTls) return session.send(R.unrecognized);
  if (argument !== undefined) return session.send(R.extraArgument);
  if (session.tlsActive) return session.send(R.alreadyTls);
  // CVE-2011-0411 class: nothing the client sent before the handshake may be executed after it
  session.discardBufferedInput();
  session.send(R.beginTls);
  await session.flushAndWait();
  const ok = await session.io.startTls();
  session.discardBufferedInput();
  if (!ok) {
    session.log.notice(`TLS negiation failed: ${session.io.clientHost}`);
    session.finish("tls-failed");
  }
};
