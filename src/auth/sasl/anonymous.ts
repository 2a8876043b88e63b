/**
 * ANONYMOUS (RFC 4505), offered only with allowanonymouslogin: the client sends optional trace
 * information, which is logged, and becomes the user "anonymous" (libsasl's anonymous plugin).
 */
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from "./mechanism.ts";
import { SASL_ERR } from "./errors.ts";
import { EXCHANGE_OVER } from "./identity.ts";
import { beautify } from "../../log/beautify.ts";

/** RFC 4505 section 2 limits the trace to 255 characters; libsasl cuts it to 255 bytes. */
const MAX_TRACE_BYTES = 255;
export const ANONYMOUS_USER = "anonymous";

class AnonymousExchange implements SaslExchange {
  private state: "start" | "awaiting" | "done" = "start";

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Uint8Array | null): Promise<SaslStep> {
    if (this.state === "done") return EXCHANGE_OVER;
    // The mechanism list already hides ANONYMOUS without allowanonymouslogin; a context that says so
    // explicitly is obeyed here too.
    if (this.ctx.allowAnonymous === false) {
      this.state = "done";
      return { type: "failure", reason: SASL_ERR.noMechanism, detail: "ANONYMOUS: allowanonymouslogin is off" };
    }
    if (this.state === "start" && response === null) {
      this.state = "awaiting";
      return { type: "challenge", data: new Uint8Array(0) };
    }
    this.state = "done";
    const trace = Buffer.from((response ?? new Uint8Array(0)).subarray(0, MAX_TRACE_BYTES)).toString("utf8");
    this.ctx.log?.notice(`ANONYMOUS login: "${beautify(trace)}"`);
    return { type: "success", user: ANONYMOUS_USER, authcid: ANONYMOUS_USER };
  }
}

export const ANONYMOUS: SaslMechanism = {
  name: "ANONYMOUS",
  plaintext: false,
  anonymous: true,
  start: (ctx) => new AnonymousExchange(ctx),
};
