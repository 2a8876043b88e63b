/**
 * What SASL takes from the TLS layer: channel-binding data for the SCRAM -PLUS mechanisms and the
 * client certificate identity for EXTERNAL (imap/tls.c:tls_init_serverengine). The session calls these once the handshake is done.
 */

/** RFC 5929 tls-unique (TLS ≤ 1.2; what Cyrus offers) and RFC 9266 tls-exporter (TLS 1.3). */
export type ChannelBindingType = "tls-unique" | "tls-exporter";

export interface ChannelBinding {
  readonly type: ChannelBindingType;
  readonly data: Uint8Array;
}

/** The methods of Bun's TLS socket read here (Bun 1.4 exposes all of them on server sockets). */
export interface TlsChannelSource {
  getTLSVersion(): string | null;
  isSessionReused(): boolean;
  getTLSFinishedMessage(): Uint8Array | undefined;
  getTLSPeerFinishedMessage(): Uint8Array | undefined;
  exportKeyingMaterial(length: number, label: string, context: Uint8Array): Uint8Array | undefined;
}

/** RFC 9266 section 2: 32 bytes from the exporter with this label and an empty context. */
const EXPORTER_LABEL = "EXPORTER-Channel-Binding";
const EXPORTER_LENGTH = 32;

/**
 * tls-unique is the first Finished message of the latest handshake: the client's on a full handshake,
 * ours on a resumed one (RFC 5929 section 3.1). TLS 1.3 defines no tls-unique (RFC 8446 section C.5) and BoringSSL
 * returns no Finished messages there, so 1.3 gets tls-exporter instead. tls-exporter is not offered on
 * TLS 1.2, where it is only sound with the extended master secret, which Bun does not report.
 */
export function channelBindingsOf(socket: TlsChannelSource): ChannelBinding[] {
  const version = socket.getTLSVersion();
  if (version === null) return [];
  if (version === "TLSv1.3") {
    const data = socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, new Uint8Array(0));
    return data && data.length === EXPORTER_LENGTH ? [{ type: "tls-exporter", data: new Uint8Array(data) }] : [];
  }
  const finished = socket.isSessionReused() ? socket.getTLSFinishedMessage() : socket.getTLSPeerFinishedMessage();
  return finished && finished.length > 0 ? [{ type: "tls-unique", data: new Uint8Array(finished) }] : [];
}

/** The shape of getPeerCertificate(): `subject.CN` is an array when the name has several CNs. */
export interface PeerCertificate {
  subject?: { CN?: string | string[] } | null;
}

/**
 * The EXTERNAL authentication identity: the subject's (first) common name, as Cyrus takes it
 * (X509_NAME_get_text_by_NID, imap/tls.c) — but only from a certificate whose chain verified,
 * so an unverified certificate never names a user.
 */
export function clientCertificateIdentity(cert: PeerCertificate | undefined, verified: boolean): string | undefined {
  if (!verified || !cert?.subject) return undefined;
  const cn = cert.subject.CN;
  const first = Array.isArray(cn) ? cn[0] : cn;
  return first !== undefined && first !== "" ? first : undefined;
}

/**
 * The security strength Cyrus gives SASL for a TLS connection: the cipher's key bits
 * (SSL_CIPHER_get_bits). Bun reports only the cipher name, so the bits are read from it;
 * undefined for a name not recognised here.
 */
export function tlsSecurityStrength(cipher: { name?: string; standardName?: string } | null | undefined): number | undefined {
  const name = `${cipher?.standardName ?? ""} ${cipher?.name ?? ""}`.toUpperCase();
  if (/CHACHA20|AES_?256/.test(name)) return 256;
  if (/AES_?128/.test(name)) return 128;
  if (/3DES|DES-CBC3/.test(name)) return 112;
  return undefined;
}
