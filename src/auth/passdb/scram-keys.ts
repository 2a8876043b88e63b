/**
 * SCRAM key derivation (RFC 5802 section 3) and the stored-key form Dovecot writes to passwd-files:
 * `{SCRAM-SHA-256}<iterations>,<base64 salt>,<base64 StoredKey>,<base64 ServerKey>`.
 */
import { noble } from "../noble.ts";
import type { CHash } from "@noble/hashes/utils.js";

export type ScramHashName = "SHA-1" | "SHA-224" | "SHA-256" | "SHA-384" | "SHA-512";

export interface ScramHash {
  readonly name: ScramHashName;
  readonly fn: CHash;
  /** Output size in bytes. */
  readonly size: number;
  /** WebCrypto runs PBKDF2 natively and off the event loop; it has no SHA-224. */
  readonly webCrypto: boolean;
}

export const SCRAM_HASHES: Readonly<Record<ScramHashName, ScramHash>> = {
  "SHA-1": { name: "SHA-1", get fn() { return noble.legacy.sha1; }, size: 20, webCrypto: true },
  "SHA-224": { name: "SHA-224", get fn() { return noble.sha2.sha224; }, size: 28, webCrypto: false },
  "SHA-256": { name: "SHA-256", get fn() { return noble.sha2.sha256; }, size: 32, webCrypto: true },
  "SHA-384": { name: "SHA-384", get fn() { return noble.sha2.sha384; }, size: 48, webCrypto: true },
  "SHA-512": { name: "SHA-512", get fn() { return noble.sha2.sha512; }, size: 64, webCrypto: true },
};

export interface ScramCredentials {
  readonly iterations: number;
  readonly salt: Uint8Array;
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

/** libsasl's default `scram_iteration_counter`, used when keys are derived from a plaintext secret. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
/** RFC 7677 section 4 asks for at least 4096; stored keys may use fewer (old Dovecot files), never less than 1. */
export const MIN_SCRAM_ITERATIONS = 1;
/** Each exchange costs `iterations` HMACs; a bound keeps a typo in a stored key from stalling logins. */
export const MAX_SCRAM_ITERATIONS = 10_000_000;

const utf8 = new TextEncoder();
const CLIENT_KEY = utf8.encode("Client Key");
const SERVER_KEY = utf8.encode("Server Key");

/** Hi(password, salt, i) of RFC 5802 section 2.2, which is PBKDF2 with HMAC-H and dkLen = the hash size. */
export async function saltedPassword(
  hash: ScramHash,
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const pw = utf8.encode(password);
  if (!hash.webCrypto) return noble.pbkdf2.pbkdf2Async(hash.fn, pw, salt, { c: iterations, dkLen: hash.size });
  const key = await crypto.subtle.importKey("raw", pw, "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    // WebCrypto wants an ArrayBuffer-backed view.
    { name: "PBKDF2", hash: hash.name, salt: new Uint8Array(salt), iterations },
    key,
    hash.size * 8,
  );
  return new Uint8Array(bits);
}

export function hmacOf(hash: ScramHash, key: Uint8Array, data: Uint8Array): Uint8Array {
  return noble.hmac.hmac(hash.fn, key, data);
}

/** StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"). */
export function credentialsFromSaltedPassword(
  hash: ScramHash,
  salted: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): ScramCredentials {
  return {
    iterations,
    salt,
    storedKey: hash.fn(hmacOf(hash, salted, CLIENT_KEY)),
    serverKey: hmacOf(hash, salted, SERVER_KEY),
  };
}

export async function deriveScramCredentials(
  hash: ScramHash,
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<ScramCredentials> {
  return credentialsFromSaltedPassword(hash, await saltedPassword(hash, password, salt, iterations), salt, iterations);
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeBase64Field(text: string): Uint8Array | undefined {
  if (!BASE64.test(text) || text.length % 4 !== 0) return undefined;
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Parses the part after `{SCRAM-SHA-…}`; undefined when malformed or of the wrong hash size. */
export function parseStoredScramKeys(text: string, hash: ScramHash): ScramCredentials | undefined {
  const fields = text.split(",");
  if (fields.length !== 4 || !/^\d{1,9}$/.test(fields[0]!)) return undefined;
  const iterations = Number(fields[0]);
  if (iterations < MIN_SCRAM_ITERATIONS || iterations > MAX_SCRAM_ITERATIONS) return undefined;
  const salt = decodeBase64Field(fields[1]!);
  const storedKey = decodeBase64Field(fields[2]!);
  const serverKey = decodeBase64Field(fields[3]!);
  if (!salt || !storedKey || !serverKey) return undefined;
  if (storedKey.length !== hash.size || serverKey.length !== hash.size) return undefined;
  return { iterations, salt, storedKey, serverKey };
}

export function formatStoredScramKeys(c: ScramCredentials): string {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  return `${c.iterations},${b64(c.salt)},${b64(c.storedKey)},${b64(c.serverKey)}`;
}
