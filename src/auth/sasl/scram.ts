/**
 * SCRAM (RFC 5802, RFC 7677) for every hash Cyrus's libsasl offers, with and without channel binding.
 * Keys come from a plaintext secret (derived with a per-process salt, as libsasl does) or from stored
 * SCRAM keys. An unknown user gets a full exchange with made-up keys and fails only at the proof,
 * so the reply to the first message does not tell whether the user exists (RFC 5802 section 9).
 */
import { constantTimeEqual } from "../passdb/constant-time.ts";
import {
  DEFAULT_SCRAM_ITERATIONS,
  deriveScramCredentials,
  hmacOf,
  type ScramCredentials,
  type ScramHash,
} from "../passdb/scram-keys.ts";
import type { SaslContext, SaslExchange, SaslStep } from "./mechanism.ts";
import { authFailure, authorize, badProtocol, decodeUtf8, EXCHANGE_OVER, type Failure, type Identities, resolveIdentities, type Success } from "./identity.ts";
import { type ClientFirst, parseClientFinal, parseClientFirst } from "./scram-messages.ts";
import type { ChannelBinding } from "./tls-properties.ts";

/** Random bytes appended to the client's nonce (base64, so 32 printable characters without commas). */
const SERVER_NONCE_BYTES = 24;
/** Keys the salts of users whose keys are derived here; new each process, like libsasl's g_salt_key. */
const SALT_KEY = crypto.getRandomValues(new Uint8Array(32));

const utf8 = new TextEncoder();
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

export interface ScramVariant {
  readonly name: string;
  readonly hash: ScramHash;
  readonly plus: boolean;
}

/** Test hooks that replay a published exchange: its server nonce (and so its salt and iterations). */
export interface ScramFixed {
  readonly serverNonce: string;
  readonly salt: Uint8Array;
  readonly iterations: number;
}

interface FirstState {
  readonly client: ClientFirst;
  readonly ids: Identities;
  readonly nonce: string;
  readonly keys: ScramCredentials;
  readonly known: boolean;
  readonly binding?: ChannelBinding;
  /** client-first-message-bare "," server-first-message ",". */
  readonly authPrefix: string;
}

export class ScramExchange implements SaslExchange {
  private state: "start" | "client-first" | "client-final" | "verified" | "done" = "start";
  private first: FirstState | undefined;
  private success: Success | undefined;

  constructor(
    private readonly ctx: SaslContext,
    private readonly variant: ScramVariant,
    private readonly fixed?: ScramFixed,
  ) {}

  async step(response: Uint8Array | null): Promise<SaslStep> {
    switch (this.state) {
      case "start":
        // Client-first: without an initial response the client is invited with an empty challenge.
        if (response === null || response.length === 0) {
          this.state = "client-first";
          return { type: "challenge", data: new Uint8Array(0) };
        }
        return this.onClientFirst(response);
      case "client-first":
        return this.onClientFirst(response ?? new Uint8Array(0));
      case "client-final":
        return this.onClientFinal(response ?? new Uint8Array(0));
      case "verified":
        // The server-final message went out as a challenge (pop3d sends no success data, pop3d.c:cmd_auth);
        // whatever the client answers completes the login, as libsasl's sent_last does.
        this.state = "done";
        return this.success!;
      case "done":
        return EXCHANGE_OVER;
    }
  }

  private protocolError(detail: string): Failure {
    this.state = "done";
    return badProtocol(`${this.variant.name}: ${detail}`);
  }

  private async onClientFirst(bytes: Uint8Array): Promise<SaslStep> {
    const text = decodeUtf8(bytes);
    if (text === undefined || text === "") return this.protocolError("client-first-message expected");
    const client = parseClientFirst(text);
    if ("error" in client) return this.protocolError(client.error);

    if (this.variant.plus && client.cbFlag !== "p") return this.protocolError("the -PLUS mechanism needs channel binding (p=)");
    // An unknown binding type fails at the client's final message, where libsasl checks it.
    const binding = client.cbFlag === "p" ? this.ctx.channelBindings?.find((b) => b.type === client.cbName) : undefined;

    const ids = resolveIdentities(this.ctx, client.username, client.authzid);
    if ("type" in ids) {
      this.state = "done";
      return ids;
    }
    const { keys, known } = await this.credentials(ids.authcid);
    const serverNonce = this.fixed?.serverNonce ?? b64(crypto.getRandomValues(new Uint8Array(SERVER_NONCE_BYTES)));
    const nonce = client.clientNonce + serverNonce;
    const serverFirst = `r=${nonce},s=${b64(keys.salt)},i=${keys.iterations}`;
    this.first = {
      client,
      ids,
      nonce,
      keys,
      known,
      authPrefix: `${client.bare},${serverFirst},`,
      ...(binding ? { binding } : {}),
    };
    this.state = "client-final";
    return { type: "challenge", data: utf8.encode(serverFirst) };
  }

  /** A plaintext secret first (libsasl asks for userPassword first), then stored keys, else decoys. */
  private async credentials(authcid: string): Promise<{ keys: ScramCredentials; known: boolean }> {
    const { hash } = this.variant;
    const salt = this.fixed?.salt ?? hmacOf(hash, SALT_KEY, utf8.encode(`${hash.name}\0${authcid}`));
    const iterations = this.fixed?.iterations ?? this.ctx.scramIterations ?? DEFAULT_SCRAM_ITERATIONS;
    const secret = await this.ctx.passdb.plaintextSecret(authcid);
    if (secret !== undefined && secret !== "") {
      return { keys: await deriveScramCredentials(hash, secret, salt, iterations), known: true };
    }
    const stored = await this.ctx.passdb.scramCredentials?.(authcid, hash.name);
    // Stored keys need no derivation; the throwaway one keeps their answer as slow as everyone else's.
    const decoy = await deriveScramCredentials(hash, crypto.randomUUID(), salt, iterations);
    return stored ? { keys: stored, known: true } : { keys: decoy, known: false };
  }

  private async onClientFinal(bytes: Uint8Array): Promise<SaslStep> {
    this.state = "done";
    const first = this.first!;
    const { hash } = this.variant;
    const text = decodeUtf8(bytes);
    if (text === undefined || text === "") return this.protocolError("client-final-message expected");
    const final = parseClientFinal(text);
    if ("error" in final) return this.protocolError(final.error);

    if (first.client.cbFlag === "p" && !first.binding) {
      return this.protocolError(`channel binding type ${first.client.cbName} is not available`);
    }
    const header = utf8.encode(first.client.gs2Header);
    const expectedBinding = first.binding ? concat(header, first.binding.data) : header;
    if (!constantTimeEqual(final.channelBinding, expectedBinding)) {
      return this.protocolError(first.binding ? "channel bindings mismatch" : "c= does not repeat the GS2 header");
    }
    if (final.nonce !== first.nonce) return this.protocolError("nonce mismatch");
    if (final.proof.length !== hash.size) return this.protocolError("client proof has the wrong length");

    const authMessage = utf8.encode(first.authPrefix + final.withoutProof);
    const signature = hmacOf(hash, first.keys.storedKey, authMessage);
    const clientKey = final.proof.map((b, i) => b ^ signature[i]!);
    const proofOk = constantTimeEqual(hash.fn(clientKey), first.keys.storedKey);
    const user = first.ids.user;
    if (!first.known) return authFailure(`${this.variant.name}: no secret in database`, user);
    if (!proofOk) return authFailure(`${this.variant.name}: StoredKey mismatch`, user);
    // "y": the client could have bound the channel but believed we could not, a downgrade (RFC 5802 section 6).
    if (first.client.cbFlag === "y" && (this.ctx.channelBindings?.length ?? 0) > 0) {
      return authFailure(`${this.variant.name}: client incorrectly assumed server had no channel binding`, user);
    }
    const authorized = authorize(this.ctx, first.ids);
    if (authorized.type === "failure") return authorized;
    this.success = authorized;
    this.state = "verified";
    const serverSignature = hmacOf(hash, first.keys.serverKey, authMessage);
    return { type: "challenge", data: utf8.encode(`v=${b64(serverSignature)}`) };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
