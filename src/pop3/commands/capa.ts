/** CAPA (§4.5): the exact lines and order Cyrus 3.12 sends. */
import type { Session } from "../session.ts";
import { R } from "../responses.ts";
import { IMPLEMENTATION } from "../../version.ts";
import { availableMechanisms } from "./mechanisms.ts";

export function capabilityLines(session: Session): string[] {
  const s = session.settings;
  const loggedIn = session.state === "transaction";
  const lines: string[] = [R.capaFollows];
  // (1) Cyrus hides SASL once logged in unless a TLS layer is active (saslprops.ssf ≠ 0); after a
  // successful AUTH the ssf is the SASL layer's (0), so the line disappears then too.
  if (!s.tlsRequired || session.tlsActive) {
    if (!loggedIn || (session.tlsActive && !session.loggedInViaSasl)) {
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

/** USER/PASS availability (§4.4, §6.2): never before TLS with tls_required; else TLS, -p > 1 or allowplaintext. */
export function plaintextAllowed(session: Session): boolean {
  const s = session.settings;
  if (s.tlsRequired && !session.tlsActive) return false;
  return session.tlsActive || s.externalSsf > 1 || s.allowPlaintext;
}
