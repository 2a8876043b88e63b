/**
 * The SASL mechanisms this server offers, in the order CAPA `SASL` and bare `AUTH` list them
 * (pop3d.c:cmd_capa, cmd_auth through sasl_listmech).
 *
 * Adding a mechanism: write one file exporting a SaslMechanism (mechanism.ts says what it gets and
 * returns; its flags say when libsasl would hide it), then add it to IMPLEMENTED below, at its place
 * in libsasl's listing order. Nothing else names mechanisms.
 */
import type { SaslMechanism } from "./mechanism.ts";
import { SASL_ERR } from "./errors.ts";
import { PLAIN } from "./plain.ts";
import { LOGIN } from "./login.ts";
import { CRAM_MD5 } from "./cram-md5.ts";
import { DIGEST_MD5 } from "./digest-md5.ts";
import * as SCRAM from "./scram-sha.ts";
import { EXTERNAL } from "./external.ts";
import { ANONYMOUS } from "./anonymous.ts";

export interface MechanismFilter {
  tlsActive: boolean;
  allowPlaintext: boolean;
  /** `-p ssf`: the external security layer's strength; TLS replaces it once active (pop3d.c:service_main's -p, tls_start_servertls). */
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

/** Every mechanism, in libsasl's listing order as a stock Cyrus shows it (strongest first, the
 *  channel-binding variants beside their base mechanism as libsasl lists them under TLS). */
const IMPLEMENTED: readonly SaslMechanism[] = [
  EXTERNAL,
  SCRAM.SCRAM_SHA_512_PLUS,
  SCRAM.SCRAM_SHA_512,
  SCRAM.SCRAM_SHA_384_PLUS,
  SCRAM.SCRAM_SHA_384,
  SCRAM.SCRAM_SHA_256_PLUS,
  SCRAM.SCRAM_SHA_256,
  SCRAM.SCRAM_SHA_224_PLUS,
  SCRAM.SCRAM_SHA_224,
  SCRAM.SCRAM_SHA_1_PLUS,
  SCRAM.SCRAM_SHA_1,
  DIGEST_MD5,
  CRAM_MD5,
  PLAIN,
  LOGIN,
  ANONYMOUS,
];

/** An external security layer above 1 (`-p`) counts as protection, like TLS (pop3d.c:cmd_user's plaintext check). */
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
function candidates(f: MechanismFilter): readonly SaslMechanism[] {
  if (f.mechList === undefined || f.mechList.trim() === "") return IMPLEMENTED;
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
  if (m.needsExternalIdentity && !f.externalIdentity) return SASL_ERR.noMechanism;
  if (m.channelBinding && !f.channelBinding) return SASL_ERR.noMechanism;
  if (m.plaintext && !plaintextPermitted(f)) return SASL_ERR.encryptionNeeded;
  if (m.anonymous && !f.allowAnonymous) return SASL_ERR.noMechanism;
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
 * TLS is "encryption needed to use mechanism", anything else unknown or hidden "no mechanism available" (pop3d.c:cmd_auth).
 */
export function mechanismUnavailableReason(name: string, filter: MechanismFilter): string {
  const wanted = name.toUpperCase();
  const m = candidates(filter).find((x) => x.name === wanted);
  return (m && hiddenBecause(m, filter)) ?? SASL_ERR.noMechanism;
}
