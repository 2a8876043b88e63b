/**
 * SHA-256-crypt (`$5$`) and SHA-512-crypt (`$6$`), the glibc crypt(3) schemes described in
 * "Unix crypt using SHA-256 and SHA-512" (U. Drepper). Only verification is needed here.
 */
import { constantTimeEqualStrings } from "./constant-time.ts";

type Variant = {
  readonly id: "5" | "6";
  readonly algorithm: "sha256" | "sha512";
  readonly size: number;
  /** Byte triples in the order the result is encoded, then the leftover bytes. */
  readonly order: readonly (readonly number[])[];
};

/** The algorithm's defaults and bounds (crypt(3)): rounds outside them are clamped, not refused. */
const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
const MAX_ROUNDS = 999_999_999;
const MAX_SALT_CHARS = 16;
/** libxcrypt refuses passphrases of 512 bytes or more; the cap also bounds the key-squared hashing
 *  (step "DP" hashes the key once per key byte) that a client could otherwise inflate with a long PASS. */
const MAX_PASSPHRASE_BYTES = 511;
const CRYPT_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** The published encoding order: triple k takes bytes k, k+n, k+2n rotated by k mod 3. */
function encodingOrder(size: number, step: number, rotateLeft: (k: number) => number): number[][] {
  const triples: number[][] = [];
  for (let k = 0; k < step; k++) {
    const base = [k, k + step, k + 2 * step];
    const r = rotateLeft(k) % 3;
    triples.push([...base.slice(r), ...base.slice(0, r)]);
  }
  return triples.concat(size === 64 ? [[63]] : [[31, 30]]);
}

const SHA256_CRYPT: Variant = {
  id: "5",
  algorithm: "sha256",
  size: 32,
  order: encodingOrder(32, 10, (k) => (3 - (k % 3)) % 3),
};
const SHA512_CRYPT: Variant = {
  id: "6",
  algorithm: "sha512",
  size: 64,
  order: encodingOrder(64, 21, (k) => k % 3),
};

const hashers = {
  sha256: new Bun.CryptoHasher("sha256"),
  sha512: new Bun.CryptoHasher("sha512"),
};

/** Native hashing: the round loop is thousands of tiny hashes per login. Measured with Bun 1.4.4 for
 *  5000 SHA-512 rounds: Bun.CryptoHasher ≈ 5.8 ms, node:crypto createHash ≈ 11 ms, @noble/hashes ≈ 35 ms.
 *  The hashers are reused: digest() resets them, and the whole computation is synchronous. */
function hash(v: Variant, ...parts: Uint8Array[]): Uint8Array {
  const h = hashers[v.algorithm];
  for (const p of parts) h.update(p);
  return h.digest() as Uint8Array;
}

/** `len` bytes made by repeating `block`. */
function repeatTo(block: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i += block.length) out.set(block.subarray(0, Math.min(block.length, len - i)), i);
  return out;
}

function encodeResult(v: Variant, digest: Uint8Array): string {
  let out = "";
  for (const group of v.order) {
    // Bytes fill a 24-bit word from the most significant end; 6-bit digits are emitted low first.
    let word = 0;
    for (const index of group) word = (word << 8) | digest[index]!;
    const digits = group.length === 3 ? 4 : group.length + 1;
    for (let d = 0; d < digits; d++) {
      out += CRYPT_B64[word & 0x3f];
      word >>>= 6;
    }
  }
  return out;
}

function computeDigest(v: Variant, key: Uint8Array, salt: Uint8Array, rounds: number): Uint8Array {
  const b = hash(v, key, salt, key);

  const aParts: Uint8Array[] = [key, salt];
  for (let n = key.length; n > 0; n -= v.size) aParts.push(b.subarray(0, Math.min(n, v.size)));
  for (let n = key.length; n > 0; n >>>= 1) aParts.push(n & 1 ? b : key);
  let c = hash(v, ...aParts);

  const dp = hash(v, ...Array<Uint8Array>(key.length).fill(key));
  const p = repeatTo(dp, key.length);
  const ds = hash(v, ...Array<Uint8Array>(16 + c[0]!).fill(salt));
  const s = repeatTo(ds, salt.length);

  for (let i = 0; i < rounds; i++) {
    const h = hashers[v.algorithm];
    h.update(i & 1 ? p : c);
    if (i % 3) h.update(s);
    if (i % 7) h.update(p);
    h.update(i & 1 ? c : p);
    c = h.digest() as Uint8Array;
  }
  return c;
}

const utf8 = new TextEncoder();

/** The parts of a stored `$5$…` / `$6$…` string, or undefined if it is not one. */
function parseStored(stored: string): { v: Variant; rounds: number; salt: string; hash: string } | undefined {
  const m = /^\$([56])\$(?:rounds=(\d{1,10})\$)?([^$]*)\$([./0-9A-Za-z]+)$/.exec(stored);
  if (!m) return undefined;
  const v = m[1] === "5" ? SHA256_CRYPT : SHA512_CRYPT;
  const requested = m[2] === undefined ? DEFAULT_ROUNDS : Number(m[2]);
  const rounds = Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, requested));
  return { v, rounds, salt: m[3]!.slice(0, MAX_SALT_CHARS), hash: m[4]! };
}

export function isShaCrypt(stored: string): boolean {
  return parseStored(stored) !== undefined;
}

/** The encoded hash part (after the last `$`) of sha-crypt(password, salt, rounds). */
export function shaCryptHash(id: "5" | "6", password: string, salt: string, rounds = DEFAULT_ROUNDS): string {
  const v = id === "5" ? SHA256_CRYPT : SHA512_CRYPT;
  const digest = computeDigest(v, utf8.encode(password), utf8.encode(salt.slice(0, MAX_SALT_CHARS)), rounds);
  return encodeResult(v, digest);
}

/** Verifies a password against a stored `$5$[rounds=N$]salt$hash` or `$6$…` string. */
export function verifyShaCrypt(password: string, stored: string): boolean {
  const parsed = parseStored(stored);
  if (!parsed || utf8.encode(password).length > MAX_PASSPHRASE_BYTES) return false;
  const computed = shaCryptHash(parsed.v.id, password, parsed.salt, parsed.rounds);
  return constantTimeEqualStrings(computed, parsed.hash);
}
