/** The SASL mechanisms this session may offer, filtered the way libsasl filters them for Cyrus (§4.5 (1)). */
import type { Session } from "../session.ts";
import { findMechanism, listMechanisms, mechanismUnavailableReason, type MechanismFilter } from "../../auth/sasl/registry.ts";
import type { SaslMechanism } from "../../auth/sasl/mechanism.ts";

function filterFor(session: Session): MechanismFilter {
  const s = session.settings;
  return {
    tlsActive: session.tlsActive,
    allowPlaintext: s.allowPlaintext,
    externalSsf: s.externalSsf,
    mechList: s.mechList,
    allowAnonymous: s.allowAnonymous,
  };
}

export function availableMechanisms(session: Session): SaslMechanism[] {
  return listMechanisms(filterFor(session));
}

export function mechanismNamed(session: Session, name: string): SaslMechanism | undefined {
  return findMechanism(name, filterFor(session));
}

/** libsasl's reason for refusing `AUTH <name>` ("encryption needed to use mechanism", ...). */
export function unavailableReason(session: Session, name: string): string {
  return mechanismUnavailableReason(name, filterFor(session));
}
