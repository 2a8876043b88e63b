/**
 * The DIGEST-MD5 response and rspauth values (RFC 2831 sections 2.1.2.1 and 2.1.3) for qop=auth.
 * Protocol strings are byte strings (one char per byte); the password is a JS string (UTF-8 bytes).
 */
import { noble } from "../noble.ts";

const utf8 = new TextEncoder();

const bytesOf = (byteString: string) => Buffer.from(byteString, "latin1");

/**
 * RFC 2831 section 2.1.2.1: a UTF-8 string whose characters all fit ISO 8859-1 is hashed in 8859-1.
 * Like libsasl (UTF8_In_8859_1) only the two-byte sequences C0–C3 xx are folded; bytes that are not
 * such a sequence pass through, and a byte above C3 means the string stays as it is.
 */
export function foldTo8859_1(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b > 0xc3) return bytes;
    if (b >= 0xc0) {
      const next = bytes[i + 1];
      if (next === undefined || next < 0x80 || next > 0xbf) return bytes;
      out.push(((b & 0x03) << 6) | (next & 0x3f));
      i++;
    } else {
      out.push(b);
    }
  }
  return new Uint8Array(out);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const COLON = new Uint8Array([0x3a]);

/** H({ username-value, ":", realm-value, ":", passwd }), with or without the 8859-1 folding. */
export function userSecret(username: string, realm: string, password: string, fold: boolean): Uint8Array {
  const f = (b: Uint8Array) => (fold ? foldTo8859_1(b) : b);
  return noble.legacy.md5(concat([f(bytesOf(username)), COLON, f(bytesOf(realm)), COLON, f(utf8.encode(password))]));
}

export interface DigestParams {
  nonce: string;
  cnonce: string;
  /** The nonce count as it is hashed: 8 lower-case hex digits. */
  nc: string;
  qop: string;
  digestUri: string;
  /** Present (even empty) when the client sent an authzid directive: it then joins A1. */
  authzid?: string;
}

function hexMd5(byteString: string | Uint8Array): string {
  return noble.utils.bytesToHex(noble.legacy.md5(typeof byteString === "string" ? bytesOf(byteString) : byteString));
}

function ha1(secret: Uint8Array, p: DigestParams): string {
  const tail = `:${p.nonce}:${p.cnonce}${p.authzid !== undefined ? `:${p.authzid}` : ""}`;
  return hexMd5(concat([secret, bytesOf(tail)]));
}

function kd(secret: Uint8Array, p: DigestParams, a2: string): string {
  return hexMd5(`${ha1(secret, p)}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${hexMd5(a2)}`);
}

/** The client's expected `response` value: A2 = "AUTHENTICATE:" digest-uri. */
export function digestResponse(secret: Uint8Array, p: DigestParams): string {
  return kd(secret, p, `AUTHENTICATE:${p.digestUri}`);
}

/** The server's `rspauth` value: A2 = ":" digest-uri. */
export function digestRspauth(secret: Uint8Array, p: DigestParams): string {
  return kd(secret, p, `:${p.digestUri}`);
}
