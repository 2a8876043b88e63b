/**
 * `{SCRAM-SHA-1}` and `{SCRAM-SHA-256}` passwd-file secrets (Dovecot's stored-key form): they let the
 * SCRAM mechanisms work without a plaintext password, and still verify plaintext logins.
 */
import { constantTimeEqual } from "./constant-time.ts";
import {
  credentialsFromSaltedPassword,
  parseStoredScramKeys,
  SCRAM_HASHES,
  type ScramCredentials,
  type ScramHash,
  type ScramHashName,
  saltedPassword,
} from "./scram-keys.ts";
import type { StoredSecret } from "./stored-secret.ts";

const SCHEME_HASH: Readonly<Record<string, ScramHash>> = {
  "SCRAM-SHA-1": SCRAM_HASHES["SHA-1"],
  "SCRAM-SHA-256": SCRAM_HASHES["SHA-256"],
};

export function isScramScheme(s: StoredSecret): boolean {
  return Object.hasOwn(SCHEME_HASH, s.scheme);
}

function decode(s: StoredSecret): { hash: ScramHash; keys: ScramCredentials } | undefined {
  const hash = SCHEME_HASH[s.scheme];
  if (!hash) return undefined;
  const keys = parseStoredScramKeys(s.secret, hash);
  return keys && { hash, keys };
}

export function isSupportedScramSecret(s: StoredSecret): boolean {
  return decode(s) !== undefined;
}

/** Secrets with the same iteration count cost the same to verify. */
export function scramCostClass(s: StoredSecret): string {
  return `${s.scheme}:${decode(s)?.keys.iterations ?? "malformed"}`;
}

/** The stored keys when they belong to the hash SCRAM asks for. */
export function scramCredentialsOf(s: StoredSecret, hash: ScramHashName): ScramCredentials | undefined {
  const d = decode(s);
  return d && d.hash.name === hash ? d.keys : undefined;
}

/** A plaintext login against stored keys: recompute StoredKey from the password and compare. */
export async function verifyScramSecret(s: StoredSecret, password: string): Promise<boolean> {
  const d = decode(s);
  if (!d) return false;
  const salted = await saltedPassword(d.hash, password, d.keys.salt, d.keys.iterations);
  const derived = credentialsFromSaltedPassword(d.hash, salted, d.keys.salt, d.keys.iterations);
  return constantTimeEqual(derived.storedKey, d.keys.storedKey);
}
