/**
 * The contract between the session engine's AUTH command (pop3d.c:cmd_auth) and one SASL mechanism.
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
  /** May authcid act as authzid? (admins/proxyservers, pop3d.c:popd_proxy_policy). Called only when authzid differs from authcid.
   *  Ignored when `policy` is given, which also applies loginrealms. */
  mayProxy(authcid: string, authzid: string): boolean;
  servername: string;
  tlsActive: boolean;
  /** Cyrus's proxy-policy callback (pop3d.c:popd_proxy_policy): loginrealms, then admins/proxyservers for an authzid. */
  policy?: LoginPolicy;
  /** The TLS client certificate's subject CN once the chain verified: the EXTERNAL identity (tls.c:tls_start_servertls). */
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
  /** Offered only when the TLS client certificate names an identity (libsasl's EXTERNAL). */
  readonly needsExternalIdentity?: boolean;
  /** Logs in without a password: offered only with allowanonymouslogin (libsasl's NOANONYMOUS). */
  readonly anonymous?: boolean;
  start(ctx: SaslContext): SaslExchange;
}
