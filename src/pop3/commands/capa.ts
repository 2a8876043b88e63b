/** CAPA (RFC 2449, pop3d.c:cmd_capa): the exact lines and order Cyrus 3.12 sends. */
import type { SessionContext } from "../session-context.ts";
import { plaintextPermitted } from "../../auth/sasl/registry.ts";
import { R } from "../responses.ts";
import { IMPLEMENTATION } from "../../version.ts";
import { availableMechanisms } from "./mechanisms.ts";

/** Per session, the last CAPA answer and what it depended on that can change within a session. */
const lastCapa = new WeakMap<SessionContext, { key: number; lines: readonly string[] }>();

/**
 * capabilityLines, reused while the session's TLS and login state are what they were: a client
 * pipelining CAPA gets the same lines without them being built again. Settings, the transport's
 * STLS ability and a TLS socket's properties do not change within a session.
 */
export function capabilitiesNow(session: SessionContext): readonly string[] {
  const state = session.state;
  const loggedIn = state.kind === "transaction";
  const key = (loggedIn ? 1 : 0) | (loggedIn && state.login.viaSasl ? 2 : 0) | (session.tlsActive ? 4 : 0);
  const last = lastCapa.get(session);
  if (last?.key === key) return last.lines;
  const lines = capabilityLines(session);
  lastCapa.set(session, { key, lines });
  return lines;
}

export function capabilityLines(session: SessionContext): string[] {
  const s = session.settings;
  const state = session.state;
  const loggedIn = state.kind === "transaction";
  const lines: string[] = [R.capaFollows];
  // Cyrus hides SASL once logged in unless a TLS layer is active (saslprops.ssf ≠ 0); after a
  // successful AUTH the ssf is the SASL layer's (0), so the line disappears then too.
  if (!s.tlsRequired || session.tlsActive) {
    if (!loggedIn || (session.tlsActive && !state.login.viaSasl)) {
      const mechs = availableMechanisms(session).map((m) => m.name);
      if (mechs.length > 0) lines.push("SASL " + mechs.join(" "));
    }
  }
  // only where STLS can work: -X over pipes has no socket to upgrade
  if (s.starttlsAvailable && session.io.startTls && !session.tlsActive && !loggedIn) lines.push("STLS");
  lines.push(s.popExpireSeconds < 0 ? "EXPIRE NEVER" : `EXPIRE ${Math.floor(s.popExpireSeconds / 86400)}`);
  lines.push(`LOGIN-DELAY ${s.popMinPollSeconds}`);
  lines.push("TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE");
  if (!loggedIn && plaintextAllowed(session)) lines.push("USER");
  if (loggedIn || s.serverinfo === "on") lines.push(`IMPLEMENTATION ${IMPLEMENTATION}`);
  lines.push(".");
  return lines;
}

/** USER/PASS availability (pop3d.c:cmd_user): never before TLS with tls_required; else as libsasl allows plaintext. */
export function plaintextAllowed(session: SessionContext): boolean {
  const s = session.settings;
  if (s.tlsRequired && !session.tlsActive) return false;
  return plaintextPermitted({ tlsActive: session.tlsActive, allowPlaintext: s.allowPlaintext, externalSsf: s.externalSsf });
}
