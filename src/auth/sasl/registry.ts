/**
 * The SASL mechanisms this server offers, in the order CAPA `SASL` and bare `AUTH` list them (§4.5, §6.4).
 * A new mechanism is one file exporting a SaslMechanism plus one entry in IMPLEMENTED.
 */
import { type SaslMechanism, SASL_ERR } from "./mechanism.ts";
import { PLAIN } from "./plain.ts";
import { LOGIN } from "./login.ts";
import { CRAM_MD5 } from "./cram-md5.ts";
import { DIGEST_MD5 } from "./digest-md5.ts";
import { SCRAM_MECHANISMS } from "./scram-sha.ts";
import { EXTERNAL } from "./external.ts";
import { ANONYMOUS } from "./anonymous.ts";

export interface MechanismFilter {
  tlsActive: boolean;
  allowPlaintext: boolean;
  /** `-p ssf`: the external security layer's strength; TLS replaces it once active (§1, §7). */
  externalSsf: number;
  /** sasl_mech_list: space separated; restricts and orders. */
  mechList?: string;
  allowAnonymous: boolean;
  /** The TLS cipher's strength in bits (Cyrus's saslprops.ssf), when TLS is active; see tlsSecurityStrength. */
  tlsSsf?: number;
  /** sasl_minimum_layer: no mechanism here has a security layer, so it needs that much from TLS or -p. */
  minimumLayer?: number;
  /** Set when the TLS client certificate names an identity: only then is EXTERNAL offered (libsasl). */
  externalIdentity?: string;
  /** Set when the TLS layer gave channel-binding data: only then are the -PLUS mechanisms offered. */
  channelBinding?: boolean;
}

const IMPLEMENTED: readonly SaslMechanism[] = [PLAIN, LOGIN, CRAM_MD5, DIGEST_MD5, ...SCRAM_MECHANISMS, EXTERNAL, ANONYMOUS];

/** libsasl's listing order as a stock Cyrus shows it (transcripts/cyrus-exact.txt), with the channel-binding
 *  variants next to their base mechanism as libsasl lists them under TLS. */
const LIBSASL_ORDER = [
  "EXTERNAL",
  "SCRAM-SHA-512-PLUS",
  "SCRAM-SHA-512",
  "SCRAM-SHA-384-PLUS",
  "SCRAM-SHA-384",
  "SCRAM-SHA-256-PLUS",
  "SCRAM-SHA-256",
  "SCRAM-SHA-224-PLUS",
  "SCRAM-SHA-224",
  "SCRAM-SHA-1-PLUS",
  "SCRAM-SHA-1",
  "DIGEST-MD5",
  "CRAM-MD5",
  "NTLM",
  "PLAIN",
  "LOGIN",
  "ANONYMOUS",
];

function rank(name: string): number {
  const i = LIBSASL_ORDER.indexOf(name);
  return i < 0 ? LIBSASL_ORDER.length : i;
}

const BY_DEFAULT_ORDER = [...IMPLEMENTED].sort((a, b) => rank(a.name) - rank(b.name));

/** An external security layer above 1 (`-p`) counts as protection, like TLS (§6.2, surprise 3). */
const MIN_PROTECTING_SSF = 2;
/** The strength assumed for an active TLS layer whose cipher strength was not passed in: AES-128's. */
const DEFAULT_TLS_SSF = 128;

/** libsasl's external ssf: the TLS cipher bits once TLS is up, else the `-p` value. */
function externalStrength(f: MechanismFilter): number {
  return f.tlsActive ? (f.tlsSsf ?? DEFAULT_TLS_SSF) : f.externalSsf;
}

/** Whether plaintext passwords may be used: TLS, an external layer above 1, or allowplaintext. */
export function plaintextPermitted(f: Pick<MechanismFilter, "tlsActive" | "allowPlaintext" | "externalSsf">): boolean {
  return f.tlsActive || f.allowPlaintext || f.externalSsf >= MIN_PROTECTING_SSF;
}

function parseMechList(list: string): string[] {
  return list
    .split(/[\s,]+/)
    .filter((n) => n !== "")
    .map((n) => n.toUpperCase());
}

/** Mechanisms named by sasl_mech_list (in its order), or all of them in libsasl's order. */
function candidates(f: MechanismFilter): SaslMechanism[] {
  if (f.mechList === undefined || f.mechList.trim() === "") return BY_DEFAULT_ORDER;
  const out: SaslMechanism[] = [];
  for (const name of parseMechList(f.mechList)) {
    const m = IMPLEMENTED.find((x) => x.name === name);
    if (m && !out.includes(m)) out.push(m);
  }
  return out;
}

/** Conditions beyond sasl_mech_list: why a known mechanism is hidden right now, or undefined. */
function hiddenBecause(m: SaslMechanism, f: MechanismFilter): string | undefined {
  // libsasl's mech_permitted order: strength, availability, then the security flags.
  if ((f.minimumLayer ?? 0) > externalStrength(f)) return SASL_ERR.tooWeak;
  if (m.name === "EXTERNAL" && !f.externalIdentity) return SASL_ERR.noMechanism;
  if (m.channelBinding && !f.channelBinding) return SASL_ERR.noMechanism;
  if (m.plaintext && !plaintextPermitted(f)) return SASL_ERR.encryptionNeeded;
  if (m.name === "ANONYMOUS" && !f.allowAnonymous) return SASL_ERR.noMechanism;
  return undefined;
}

export function listMechanisms(filter: MechanismFilter): SaslMechanism[] {
  return candidates(filter).filter((m) => hiddenBecause(m, filter) === undefined);
}

export function findMechanism(name: string, filter: MechanismFilter): SaslMechanism | undefined {
  const wanted = name.toUpperCase();
  return listMechanisms(filter).find((m) => m.name === wanted);
}

/**
 * The libsasl error string for `AUTH <name>` when findMechanism gives nothing: PLAIN or LOGIN without
 * TLS is "encryption needed to use mechanism", anything else unknown or hidden "no mechanism available" (§6.4).
 */
export function mechanismUnavailableReason(name: string, filter: MechanismFilter): string {
  const wanted = name.toUpperCase();
  const m = candidates(filter).find((x) => x.name === wanted);
  return (m && hiddenBecause(m, filter)) ?? SASL_ERR.noMechanism;
}
