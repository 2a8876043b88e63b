/**
 * Password schemes of `{SCHEME}secret` strings, as Dovecot's passwd-files write them.
 * Salted digests are base64(digest(password + salt) + salt); unsalted ones base64 or hex.
 */
import { noble } from "../noble.ts";
import { constantTimeEqual } from "./constant-time.ts";
import { isShaCrypt, verifyShaCrypt } from "./sha-crypt.ts";
import { isScramScheme, isSupportedScramSecret, scramCostClass, verifyScramSecret } from "./scram-scheme.ts";

import type { StoredSecret } from "./stored-secret.ts";
export type { StoredSecret };

const utf8 = new TextEncoder();

/** A passwd-file entry without `{SCHEME}` is crypt(3) output, as in Dovecot's default_pass_scheme. */
const DEFAULT_SCHEME = "CRYPT";

const PLAINTEXT_SCHEMES = new Set(["PLAIN", "CLEARTEXT"]);

type Digest = { readonly fn: (data: Uint8Array) => Uint8Array; readonly size: number; readonly salted: boolean };

const DIGEST_SCHEMES: Record<string, Digest> = {
  SHA: { get fn() { return noble.legacy.sha1; }, size: 20, salted: false },
  SSHA: { get fn() { return noble.legacy.sha1; }, size: 20, salted: true },
  SHA1: { get fn() { return noble.legacy.sha1; }, size: 20, salted: false },
  SHA256: { get fn() { return noble.sha2.sha256; }, size: 32, salted: false },
  SSHA256: { get fn() { return noble.sha2.sha256; }, size: 32, salted: true },
  SHA512: { get fn() { return noble.sha2.sha512; }, size: 64, salted: false },
  SSHA512: { get fn() { return noble.sha2.sha512; }, size: 64, salted: true },
};

const CRYPT_SCHEMES = new Set(["CRYPT", "SHA512-CRYPT", "SHA256-CRYPT"]);

export function parseStoredSecret(field: string): StoredSecret {
  const m = /^\{([^}]+)\}/.exec(field);
  if (!m) return { scheme: DEFAULT_SCHEME, secret: field };
  return { scheme: m[1]!.toUpperCase(), secret: field.slice(m[0].length) };
}

export function isPlaintextScheme(s: StoredSecret): boolean {
  return PLAINTEXT_SCHEMES.has(s.scheme);
}

/** Whether this build can verify the secret at all (unknown schemes never match). */
export function isSupportedSecret(s: StoredSecret): boolean {
  if (PLAINTEXT_SCHEMES.has(s.scheme)) return true;
  if (CRYPT_SCHEMES.has(s.scheme)) return isShaCrypt(s.secret);
  if (isScramScheme(s)) return isSupportedScramSecret(s);
  return decodeDigestSecret(s) !== undefined;
}

/**
 * What checking a password against a secret costs, in hash-block units: sha-crypt's rounds
 * (5000 unless the secret says), PBKDF2's iterations (two HMACs, four blocks each) for SCRAM
 * keys, one block for salted digests, nothing for plaintext.
 */
function checkCost(s: StoredSecret): number {
  if (CRYPT_SCHEMES.has(s.scheme)) {
    const rounds = /^\$[56]\$rounds=(\d+)\$/.exec(s.secret);
    return rounds ? Number(rounds[1]) : SHA_CRYPT_DEFAULT_ROUNDS;
  }
  if (isScramScheme(s)) {
    const iterations = Number(scramCostClass(s).split(":")[1]);
    return Number.isFinite(iterations) ? iterations * 4 : 1;
  }
  return PLAINTEXT_SCHEMES.has(s.scheme) ? 0 : 1;
}

/** glibc's sha-crypt default when the secret names no rounds. */
const SHA_CRYPT_DEFAULT_ROUNDS = 5000;

const EMPTY_DECOY: StoredSecret = { scheme: "PLAIN", secret: "" };

/**
 * The secret an unknown user's password is checked against: the most expensive supported one in
 * the database (the first of its cost), so that no existing user's check is slower than an
 * unknown user's and timing cannot tell whether a name exists. An empty database gets a cheap
 * plaintext decoy.
 */
export function pickDecoy(secrets: Iterable<StoredSecret>): StoredSecret {
  let decoy = EMPTY_DECOY;
  let best = -1;
  for (const s of secrets) {
    if (!isSupportedSecret(s)) continue;
    const cost = checkCost(s);
    if (cost > best) {
      best = cost;
      decoy = s;
    }
  }
  return decoy;
}

function decodeDigestSecret(s: StoredSecret): { digest: Uint8Array; salt: Uint8Array; d: Digest } | undefined {
  const d = DIGEST_SCHEMES[s.scheme];
  if (!d) return undefined;
  let raw: Uint8Array;
  if (!d.salted && s.secret.length === d.size * 2 && /^[0-9a-fA-F]+$/.test(s.secret)) {
    raw = Buffer.from(s.secret, "hex");
  } else if (/^[A-Za-z0-9+/]+={0,2}$/.test(s.secret)) {
    raw = Buffer.from(s.secret, "base64");
  } else {
    return undefined;
  }
  if (d.salted ? raw.length <= d.size : raw.length !== d.size) return undefined;
  return { digest: raw.subarray(0, d.size), salt: raw.subarray(d.size), d };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Checks a password against any stored secret, including the SCRAM stored keys whose PBKDF2 runs
 *  off the event loop. Unknown or malformed secrets never match. */
export async function verifyStoredSecret(s: StoredSecret, password: string): Promise<boolean> {
  if (isScramScheme(s)) return verifyScramSecret(s, password);
  return verifySecret(s, password);
}

/** Checks a password against a stored secret of a synchronous scheme (every scheme but SCRAM). */
export function verifySecret(s: StoredSecret, password: string): boolean {
  const pw = utf8.encode(password);
  if (PLAINTEXT_SCHEMES.has(s.scheme)) {
    // Comparing digests hides the stored password's length and where the two first differ.
    return constantTimeEqual(noble.sha2.sha256(pw), noble.sha2.sha256(utf8.encode(s.secret)));
  }
  if (CRYPT_SCHEMES.has(s.scheme)) {
    if (s.scheme === "SHA512-CRYPT" && !s.secret.startsWith("$6$")) return false;
    if (s.scheme === "SHA256-CRYPT" && !s.secret.startsWith("$5$")) return false;
    return verifyShaCrypt(password, s.secret);
  }
  const decoded = decodeDigestSecret(s);
  if (!decoded) return false;
  return constantTimeEqual(decoded.d.fn(concat(pw, decoded.salt)), decoded.digest);
}
