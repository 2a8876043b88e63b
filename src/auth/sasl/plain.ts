/**
 * PLAIN (RFC 4616): one message `[authzid] NUL authcid NUL passwd`.
 */
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from "./mechanism.ts";
import { badProtocol, decodeUtf8, EXCHANGE_OVER, verifyPasswordLogin } from "./identity.ts";

const NUL = 0;
const EMPTY = new Uint8Array(0);

type PlainMessage = { authzid: string; authcid: string; password: string };

/** RFC 4616 section 2: exactly two NULs, non-empty authcid and passwd, all UTF-8. */
function parsePlainMessage(msg: Uint8Array): PlainMessage | string {
  const first = msg.indexOf(NUL);
  if (first < 0) return "no NUL separator";
  const second = msg.indexOf(NUL, first + 1);
  if (second < 0) return "only one NUL separator";
  if (msg.indexOf(NUL, second + 1) >= 0) return "NUL inside the password";
  const authzid = decodeUtf8(msg.subarray(0, first));
  const authcid = decodeUtf8(msg.subarray(first + 1, second));
  const password = decodeUtf8(msg.subarray(second + 1));
  if (authzid === undefined || authcid === undefined || password === undefined) return "invalid UTF-8";
  if (authcid === "") return "empty authentication identity";
  if (password === "") return "empty password";
  return { authzid, authcid, password };
}

class PlainExchange implements SaslExchange {
  private state: "start" | "awaiting" | "done" = "start";

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Uint8Array | null): Promise<SaslStep> {
    if (this.state === "done") return EXCHANGE_OVER;
    if (this.state === "start" && response === null) {
      this.state = "awaiting";
      return { type: "challenge", data: EMPTY };
    }
    this.state = "done";
    const msg = parsePlainMessage(response ?? EMPTY);
    if (typeof msg === "string") return badProtocol(`PLAIN: ${msg}`);
    return verifyPasswordLogin(this.ctx, msg.authcid, msg.authzid, msg.password);
  }
}

export const PLAIN: SaslMechanism = {
  name: "PLAIN",
  plaintext: true,
  start: (ctx) => new PlainExchange(ctx),
};
