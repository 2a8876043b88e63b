/**
 * CRAM-MD5 (RFC 2195): the server sends `<rand.time@servername>`, the client answers
 * `user SP hex(HMAC-MD5(secret, challenge))`. Needs a plaintext-equivalent secret.
 */
import { noble } from "../noble.ts";
import { constantTimeEqualStrings } from "../passdb/constant-time.ts";
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from "./mechanism.ts";
import { authFailure, authorize, badProtocol, decodeUtf8, EXCHANGE_OVER, resolveIdentities } from "./identity.ts";

const utf8 = new TextEncoder();
const DIGEST_HEX_LENGTH = 32;

export function makeCramChallenge(servername: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!;
  return `<${rand}.${Math.floor(Date.now() / 1000)}@${servername}>`;
}

export function cramDigest(secret: string, challenge: string): string {
  return noble.utils.bytesToHex(noble.hmac.hmac(noble.legacy.md5, utf8.encode(secret), utf8.encode(challenge)));
}

class CramMd5Exchange implements SaslExchange {
  private state: "start" | "awaiting" | "done" = "start";
  private challenge = "";

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Uint8Array | null): Promise<SaslStep> {
    if (this.state === "done") return EXCHANGE_OVER;
    if (this.state === "start") {
      if (response !== null) {
        this.state = "done";
        return badProtocol("CRAM-MD5: server-first mechanism given an initial response");
      }
      this.state = "awaiting";
      this.challenge = makeCramChallenge(this.ctx.servername);
      return { type: "challenge", data: utf8.encode(this.challenge) };
    }
    this.state = "done";
    return this.verify(response ?? new Uint8Array(0));
  }

  private async verify(bytes: Uint8Array): Promise<SaslStep> {
    const text = decodeUtf8(bytes);
    if (text === undefined) return badProtocol("CRAM-MD5: response is not UTF-8");
    // libsasl splits at the last space, so the user name may contain spaces.
    const space = text.lastIndexOf(" ");
    if (space <= 0) return badProtocol("CRAM-MD5: need authentication name");
    const digest = text.slice(space + 1, space + 1 + DIGEST_HEX_LENGTH);

    const ids = resolveIdentities(this.ctx, text.slice(0, space), "");
    if ("type" in ids) return ids;
    const secret = await this.ctx.passdb.plaintextSecret(ids.authcid);
    // Without a usable secret the HMAC still runs, so a missing user costs what a wrong digest does.
    const expected = cramDigest(secret ?? crypto.randomUUID(), this.challenge);
    if (secret === undefined) return authFailure("no plaintext-equivalent secret for user", ids.user);
    if (!constantTimeEqualStrings(expected, digest)) return authFailure("incorrect digest response", ids.user);
    return authorize(this.ctx, ids);
  }
}

export const CRAM_MD5: SaslMechanism = {
  name: "CRAM-MD5",
  plaintext: false,
  start: (ctx) => new CramMd5Exchange(ctx),
};
