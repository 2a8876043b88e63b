/**
 * EXTERNAL (RFC 4422 Appendix A): the identity comes from the TLS client certificate (tls.c:tls_start_servertls); the client
 * sends only an authorization identity, empty to act as itself. Behaves like libsasl's built-in plugin.
 */
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from "./mechanism.ts";
import { SASL_ERR } from "./errors.ts";
import { authorize, badProtocol, decodeUtf8, EXCHANGE_OVER, resolveIdentities } from "./identity.ts";

/** libsasl's limit on the authorization identity a client may send. */
const MAX_AUTHZID_BYTES = 16384;

class ExternalExchange implements SaslExchange {
  private state: "start" | "awaiting" | "done" = "start";

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Uint8Array | null): Promise<SaslStep> {
    if (this.state === "done") return EXCHANGE_OVER;
    const identity = this.ctx.externalIdentity;
    if (identity === undefined) {
      this.state = "done";
      return { type: "failure", reason: SASL_ERR.noMechanism, detail: "EXTERNAL: no TLS client identity" };
    }
    // Client-first: without an initial response the client is asked with an empty challenge.
    if (this.state === "start" && response === null) {
      this.state = "awaiting";
      return { type: "challenge", data: new Uint8Array(0) };
    }
    this.state = "done";
    const bytes = response ?? new Uint8Array(0);
    if (bytes.length > MAX_AUTHZID_BYTES) return badProtocol(`EXTERNAL: authorization identity over ${MAX_AUTHZID_BYTES} bytes`);
    const authzid = decodeUtf8(bytes);
    if (authzid === undefined) return badProtocol("EXTERNAL: authorization identity is not UTF-8");
    if (identity === "anonymous" && !this.ctx.allowAnonymous) {
      return { type: "failure", reason: SASL_ERR.authorization, detail: "EXTERNAL: anonymous login not allowed" };
    }
    const ids = resolveIdentities(this.ctx, identity, authzid);
    if ("type" in ids) return ids;
    return authorize(this.ctx, ids);
  }
}

export const EXTERNAL: SaslMechanism = {
  name: "EXTERNAL",
  plaintext: false,
  needsExternalIdentity: true,
  start: (ctx) => new ExternalExchange(ctx),
};
