/** The SASL mechanisms this session may offer, filtered the way libsasl filters them for Cyrus (pop3d.c:cmd_capa, sasl_listmech). */
import type { SessionContext } from "../session-context.ts";
import { findMechanism, listMechanisms, mechanismUnavailableReason, type MechanismFilter } from "../../auth/sasl/registry.ts";
import type { SaslMechanism } from "../../auth/sasl/mechanism.ts";
import {
  channelBindingsOf,
  clientCertificateIdentity,
  tlsSecurityStrength,
  type ChannelBinding,
} from "../../auth/sasl/tls-properties.ts";

export interface TlsProperties {
  channelBindings: ChannelBinding[];
  externalIdentity: string | undefined;
  tlsSsf: number | undefined;
}

const propertiesBySocket = new WeakMap<object, TlsProperties>();

/** What SASL learns from the TLS layer (tls.c:tls_start_servertls), read once per TLS socket. */
export function tlsPropertiesOf(session: SessionContext): TlsProperties | undefined {
  const socket = session.io.tlsSocket as any;
  if (!session.tlsActive || !socket) return undefined;
  let props = propertiesBySocket.get(socket);
  if (!props) {
    let channelBindings: ChannelBinding[] = [];
    try {
      channelBindings = channelBindingsOf(socket);
    } catch {
      channelBindings = [];
    }
    props = {
      channelBindings,
      externalIdentity: clientCertificateIdentity(socket.getPeerCertificate?.(), socket.authorized === true),
      tlsSsf: tlsSecurityStrength(socket.getCipher?.()),
    };
    propertiesBySocket.set(socket, props);
  }
  return props;
}

function filterFor(session: SessionContext): MechanismFilter {
  const s = session.settings;
  const tls = tlsPropertiesOf(session);
  return {
    tlsSsf: tls?.tlsSsf,
    externalIdentity: tls?.externalIdentity,
    channelBinding: (tls?.channelBindings.length ?? 0) > 0,
    tlsActive: session.tlsActive,
    allowPlaintext: s.allowPlaintext,
    externalSsf: s.externalSsf,
    mechList: s.mechList,
    allowAnonymous: s.allowAnonymous,
    minimumLayer: s.sasl.minimumLayer,
  };
}

export function availableMechanisms(session: SessionContext): SaslMechanism[] {
  return listMechanisms(filterFor(session));
}

export function mechanismNamed(session: SessionContext, name: string): SaslMechanism | undefined {
  return findMechanism(name, filterFor(session));
}

/** libsasl's reason for refusing `AUTH <name>` ("encryption needed to use mechanism", ...). */
export function unavailableReason(session: SessionContext, name: string): string {
  return mechanismUnavailableReason(name, filterFor(session));
}
