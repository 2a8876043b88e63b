/**
 * The contract between the session engine's AUTH command (§6.4) and one SASL mechanism.
 * Mechanisms see decoded bytes only; base64, `*` cancel and the `+ ` prefix belong to the session.
 */
import type { CanonicalResult } from "../canonical.ts";
import type { PasswordDb } from "../passdb/passdb.ts";

export interface SaslContext {
  passdb: PasswordDb;
  canonicalize(raw: string): CanonicalResult;
  /** May authcid act as authzid? (admins/proxyservers, §6.6). Called only when authzid differs from authcid. */
  mayProxy(authcid: string, authzid: string): boolean;
  servername: string;
  tlsActive: boolean;
}

export type SaslStep =
  | { type: "challenge"; data: Uint8Array }
  | { type: "success"; user: string; subfolder?: string; authcid: string }
  | { type: "failure"; reason: string; detail?: string; user?: string };

export interface SaslExchange {
  /** First call: the initial response (null when the client sent none; empty array for "="). Later calls: each decoded client line. */
  step(response: Uint8Array | null): Promise<SaslStep>;
}

export interface SaslMechanism {
  readonly name: string;
  /** PLAIN and LOGIN: hidden without TLS unless allowplaintext / -p ssf > 1. */
  readonly plaintext: boolean;
  start(ctx: SaslContext): SaslExchange;
}

/** libsasl's sasl_errstring texts that reach the client as `-ERR [AUTH] authenticating: <text>` (§6.4).
 *  SASL_NOUSER ("user not found") is deliberately absent: Cyrus masks it as a plain failure (§6.3). */
export const SASL_ERR = {
  authFailure: "authentication failure",
  badProtocol: "bad protocol / cancel",
  noMechanism: "no mechanism available",
  encryptionNeeded: "encryption needed to use mechanism",
} as const;
