/**
 * The contract between the session engine's AUTH command (§6.4) and one SASL mechanism.
 * Mechanisms see decoded bytes only; base64, `*` cancel and the `+ ` prefix belong to the session.
 */
import type { CanonicalResult } from "../canonical.ts";
import type { PasswordDb } from "../passdb/passdb.ts";
import type { LoginPolicy } from "../policy.ts";
import type { Log } from "../../log/log.ts";
import type { ChannelBinding } from "./tls-properties.ts";

export interface SaslContext {
  passdb: PasswordDb;
  canonicalize(raw: string): CanonicalResult;
  /** May authcid act as authzid? (admins/proxyservers, §6.6). Called only when authzid differs from authcid.
   *  Ignored when `policy` is given, which also applies loginrealms. */
  mayProxy(authcid: string, authzid: string): boolean;
  servername: string;
  tlsActive: boolean;
  /** Cyrus's proxy-policy callback (§6.6): loginrealms, then admins/proxyservers for an authzid. */
  policy?: LoginPolicy;
  /** The TLS client certificate's subject CN once the chain verified: the EXTERNAL identity (§7). */
  externalIdentity?: string;
  /** The channel bindings of this TLS connection, for the SCRAM -PLUS mechanisms. */
  channelBindings?: readonly ChannelBinding[];
  /** allowanonymouslogin: false refuses ANONYMOUS; an EXTERNAL identity "anonymous" needs it true. */
  allowAnonymous?: boolean;
  /** sasl_scram_iteration_counter: iterations for keys derived from a plaintext secret (default 4096). */
  scramIterations?: number;
  /** Receives the ANONYMOUS trace line (logged at notice, like libsasl's SASL_LOG_NOTE). */
  log?: Pick<Log, "notice">;
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
  /** Whether the mechanism needs TLS channel-binding data (the SCRAM -PLUS variants). */
  readonly channelBinding?: boolean;
  start(ctx: SaslContext): SaslExchange;
}

/** libsasl's sasl_errstring texts that reach the client as `-ERR [AUTH] authenticating: <text>` (§6.4).
 *  SASL_NOUSER ("user not found") is deliberately absent: Cyrus masks it as a plain failure (§6.3). */
export const SASL_ERR = {
  authFailure: "authentication failure",
  badProtocol: "bad protocol / cancel",
  noMechanism: "no mechanism available",
  encryptionNeeded: "encryption needed to use mechanism",
  /** SASL_FAIL, e.g. DIGEST-MD5's duplicate directives or a charset other than utf-8. */
  generic: "generic failure",
  /** SASL_NOAUTHZ: an EXTERNAL identity "anonymous" without allowanonymouslogin. */
  authorization: "authorization failure",
  /** SASL_TOOWEAK: sasl_minimum_layer above what TLS or -p provide. */
  tooWeak: "mechanism too weak for this user",
} as const;
