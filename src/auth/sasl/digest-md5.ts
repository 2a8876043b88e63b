/**
 * DIGEST-MD5 (RFC 2831) for authentication only (qop=auth, no security layer), following libsasl's
 * server: the realm is the servername, the digest-uri must name the service "pop", and because pop3d
 * passes no success-data buffer, rspauth goes out as a last challenge that the client answers
 * (with anything, normally an empty line) before the login completes (pop3d.c:cmd_auth).
 */
import { constantTimeEqualStrings } from "../passdb/constant-time.ts";
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from "./mechanism.ts";
import { SASL_ERR } from "./errors.ts";
import { authFailure, authorize, badProtocol, EXCHANGE_OVER, type Failure, resolveIdentities, type Success } from "./identity.ts";
import { type Directives, parseDirectives, quoted } from "./digest-md5-directives.ts";
import { type DigestParams, digestResponse, digestRspauth, userSecret } from "./digest-md5-hash.ts";

/** libsasl refuses longer client messages as a protocol error. */
const MAX_RESPONSE_BYTES = 4096;
/** Random bytes in the nonce, libsasl's NONCE_SIZE. */
const NONCE_BYTES = 32;
/** The `maxbuf` libsasl announces for Cyrus: its protstream buffer size, PROT_BUFSIZE. */
const ANNOUNCED_MAXBUF = 4096;
/** RFC 2831 bounds for the client's maxbuf: above 16, at most libsasl's MAX_SASL_BUFSIZE. */
const MIN_CLIENT_MAXBUF = 17;
const MAX_CLIENT_MAXBUF = 0xffffff;
/** The SASL service name of pop3d (pop3d.c:service_init, sasl_server_new("pop", ...)): the digest-uri must start with "pop/". */
const SERVICE = "pop";
/** Subsequent authentication is not kept, so a first response must count 1. */
const FIRST_NONCE_COUNT = 1;

const fail = (detail: string, user?: string): Failure => ({
  type: "failure",
  reason: SASL_ERR.generic,
  detail: `DIGEST-MD5: ${detail}`,
  ...(user === undefined ? {} : { user }),
});
const refuse = (detail: string, user?: string): Failure => authFailure(`DIGEST-MD5: ${detail}`, user);

function randomNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(NONCE_BYTES))).toString("base64");
}

/** The one value of a directive that may appear at most once; "duplicate" when it appears twice. */
function single(d: Directives, name: string): string | undefined | "duplicate" {
  const v = d.get(name);
  if (!v) return undefined;
  return v.length > 1 ? "duplicate" : v[0];
}

const last = (d: Directives, name: string): string | undefined => d.get(name)?.at(-1);

export class DigestMd5Exchange implements SaslExchange {
  private state: "start" | "response" | "rspauth-sent" | "done" = "start";
  private readonly realm: string;
  private success: Success | undefined;

  /** `nonce` is fixed only by tests that replay a recorded exchange. */
  constructor(
    private readonly ctx: SaslContext,
    private readonly nonce: string = randomNonce(),
  ) {
    this.realm = ctx.servername;
  }

  async step(response: Uint8Array | null): Promise<SaslStep> {
    switch (this.state) {
      case "start":
        // An initial response would be a fast reauthentication, which libsasl keeps off by default:
        // it is ignored and the exchange starts over.
        this.state = "response";
        return { type: "challenge", data: Buffer.from(this.challenge(), "latin1") };
      case "response": {
        this.state = "done";
        const outcome = await this.verify(response ?? new Uint8Array(0));
        if (outcome.type !== "rspauth") return outcome;
        this.success = outcome.success;
        this.state = "rspauth-sent";
        return { type: "challenge", data: Buffer.from(`rspauth=${outcome.rspauth}`, "latin1") };
      }
      case "rspauth-sent":
        // libsasl (sent_last) accepts whatever the client answers to the final challenge.
        this.state = "done";
        return this.success!;
      case "done":
        return EXCHANGE_OVER;
    }
  }

  private challenge(): string {
    return [
      `nonce=${quoted(this.nonce)}`,
      `realm=${quoted(this.realm)}`,
      `qop=${quoted("auth")}`,
      `maxbuf=${ANNOUNCED_MAXBUF}`,
      "charset=utf-8",
      "algorithm=md5-sess",
    ].join(",");
  }

  private async verify(bytes: Uint8Array): Promise<Failure | { type: "rspauth"; rspauth: string; success: Success }> {
    if (bytes.length > MAX_RESPONSE_BYTES) return badProtocol(`DIGEST-MD5: response longer than ${MAX_RESPONSE_BYTES} bytes`);
    if (bytes.length === 0) return refuse("input expected in step 2");
    const parsed = parseDirectives(Buffer.from(bytes).toString("latin1"));
    if ("error" in parsed) return refuse(`parse error: ${parsed.error}`);
    const d = parsed;

    const realmValue = single(d, "realm");
    const qopValue = single(d, "qop");
    const uri = single(d, "digest-uri");
    const maxbuf = single(d, "maxbuf");
    if (realmValue === "duplicate") return fail("duplicate realm");
    if (qopValue === "duplicate") return fail("duplicate qop");
    if (uri === "duplicate") return fail("duplicate digest-uri");
    if (maxbuf === "duplicate") return refuse("duplicate maxbuf");
    if (maxbuf !== undefined) {
      if (!/^\d{1,10}$/.test(maxbuf)) return refuse("invalid maxbuf parameter");
      const n = Number(maxbuf);
      if (n < MIN_CLIENT_MAXBUF || n > MAX_CLIENT_MAXBUF) return refuse(`maxbuf ${n} out of range`);
    }
    const charsets = d.get("charset") ?? [];
    if (charsets.some((c) => c.toLowerCase() !== "utf-8")) return fail("client doesn't support UTF-8");
    const ncText = last(d, "nc");
    if (ncText !== undefined && !/^[0-9a-fA-F]*$/.test(ncText)) return refuse("nonce count is not hex");
    if (uri !== undefined && !uri.toLowerCase().startsWith(`${SERVICE}/`)) return refuse("bad digest-uri: doesn't match service");

    const username = last(d, "username");
    const nonce = last(d, "nonce");
    const cnonce = last(d, "cnonce");
    const clientResponse = last(d, "response");
    const nc = ncText === undefined || ncText === "" ? 0 : Number.parseInt(ncText, 16) >>> 0;
    for (const [name, value] of [["username", username], ["nonce", nonce], ["cnonce", cnonce], ["digest-uri", uri], ["response", clientResponse]] as const) {
      if (value === undefined) return refuse(`required parameter missing: ${name}`);
    }
    if (nc === 0) return refuse("required parameter missing: nc");
    const realm = realmValue ?? "";
    if (nonce !== this.nonce) return refuse("nonce changed");

    // A realm other than ours names the user's realm: the identity becomes user@realm (libsasl).
    const identity = realm !== this.realm && realm !== "" ? `${username}@${realm}` : username!;
    const authzidSent = d.has("authzid");
    const authzid = last(d, "authzid") ?? "";
    const ids = resolveIdentities(this.ctx, identity, authzid);
    if ("type" in ids) return ids;

    const qop = qopValue ?? "auth";
    if (qop.toLowerCase() !== "auth") return fail(`client requested qop ${qop}, only auth is offered`, ids.user);

    const params: DigestParams = {
      nonce: this.nonce,
      cnonce: cnonce!,
      nc: nc.toString(16).padStart(8, "0"),
      qop,
      digestUri: uri!,
      ...(authzidSent ? { authzid } : {}),
    };
    const stored = await this.ctx.passdb.plaintextSecret(ids.authcid);
    // Without a secret the digests still run, so an unknown user costs what a wrong password does.
    const password = stored === undefined || stored === "" ? crypto.randomUUID() : stored;
    const secret = this.matchingSecret(username!, realm, password, params, clientResponse!);
    if (stored === undefined || stored === "") return refuse("no secret in database", ids.user);
    if (!secret) return refuse("client response doesn't match what we generated", ids.user);
    if (nc !== FIRST_NONCE_COUNT) return refuse("incorrect nonce-count", ids.user);

    const authorized = authorize(this.ctx, ids);
    if (authorized.type === "failure") return authorized;
    return { type: "rspauth", rspauth: digestRspauth(secret, params), success: authorized };
  }

  /** The user secret that reproduces the client's response: 8859-1 folded first, then as sent. */
  private matchingSecret(username: string, realm: string, password: string, p: DigestParams, response: string): Uint8Array | undefined {
    const folded = userSecret(username, realm, password, true);
    if (constantTimeEqualStrings(digestResponse(folded, p), response)) return folded;
    const raw = userSecret(username, realm, password, false);
    if (Buffer.compare(raw, folded) !== 0 && constantTimeEqualStrings(digestResponse(raw, p), response)) return raw;
    return undefined;
  }
}

export const DIGEST_MD5: SaslMechanism = {
  name: "DIGEST-MD5",
  plaintext: false,
  start: (ctx) => new DigestMd5Exchange(ctx),
};
