/**
 * What the server must send for the anchor messages, computed from the fixture files themselves:
 * bare LF → CRLF, a CRLF added when the last line has none (pop3d.c:blat), then dot-stuffing (RFC 1939 section 3).
 */
import { readFileSync } from "node:fs";
import { anchorFiles } from "./wire-fixture.ts";
import { IMPLEMENTATION } from "../../../src/version.ts";

export { IMPLEMENTATION };

/** The message as RETR sends it before dot-stuffing. */
export function crlfNormalise(raw: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 10 && (i === 0 || raw[i - 1] !== 13)) out.push(13);
    out.push(b);
  }
  if (raw.length > 0 && raw[raw.length - 1] !== 10) out.push(13, 10);
  return Buffer.from(out);
}

export function dotStuff(normalised: Buffer): Buffer {
  const out: number[] = [];
  let lineStart = true;
  for (const b of normalised) {
    if (lineStart && b === 0x2e) out.push(0x2e);
    out.push(b);
    lineStart = b === 10;
  }
  return Buffer.from(out);
}

/** Headers, the blank line, then the first `lines` body lines (of the normalised message). */
export function topOf(normalised: Buffer, lines: number): Buffer {
  const blank = normalised.indexOf("\r\n\r\n");
  if (blank < 0) return normalised;
  let end = blank + 4;
  for (let n = 0; n < lines && end < normalised.length; n++) {
    const nl = normalised.indexOf(10, end);
    end = nl < 0 ? normalised.length : nl + 1;
  }
  return normalised.subarray(0, end);
}

export function sha256(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

const cache = new Map<number, Buffer>();

/** Message `n` (1..7) as it is on disk. */
export function rawAnchor(n: number): Buffer {
  let raw = cache.get(n);
  if (!raw) {
    raw = readFileSync(anchorFiles()[n - 1]!);
    cache.set(n, raw);
  }
  return raw;
}

/** Message `n` as RETR sends it, before stuffing; its length is the LIST size. */
export function anchor(n: number): Buffer {
  return crlfNormalise(rawAnchor(n));
}

/** The LIST sizes of the 7 anchors: CRLF size, +2 for message 5 which lacks a final newline. */
export const ANCHOR_SIZES = [504, 406, 341, 420, 295, 1048576, 10485760];
export const ANCHOR_TOTAL = ANCHOR_SIZES.reduce((a, b) => a + b, 0);

/** Our SASL mechanisms in the order CAPA and bare AUTH list them (by design they differ from
 *  Cyrus's, which come from its libsasl plugins). One place to update when the set changes. */
export const MECHANISMS = [
  "SCRAM-SHA-512",
  "SCRAM-SHA-384",
  "SCRAM-SHA-256",
  "SCRAM-SHA-224",
  "SCRAM-SHA-1",
  "DIGEST-MD5",
  "CRAM-MD5",
  "PLAIN",
  "LOGIN",
];

/** Without TLS, allowplaintext or -p > 1, PLAIN and LOGIN are hidden (pop3d.c:cmd_capa). */
export const MECHANISMS_NO_PLAINTEXT = MECHANISMS.filter((m) => m !== "PLAIN" && m !== "LOGIN");

/** The CAPA lines (without "+OK ..." and ".") for `allowplaintext: yes` before login, no TLS. */
export const CAPA_BEFORE_LOGIN_PLAINTEXT = [
  `SASL ${MECHANISMS.join(" ")}`,
  "EXPIRE NEVER",
  "LOGIN-DELAY 0",
  "TOP",
  "UIDL",
  "PIPELINING",
  "RESP-CODES",
  "AUTH-RESP-CODE",
  "USER",
  `IMPLEMENTATION ${IMPLEMENTATION}`,
];

export const CAPA_AFTER_LOGIN = [
  "EXPIRE NEVER",
  "LOGIN-DELAY 0",
  "TOP",
  "UIDL",
  "PIPELINING",
  "RESP-CODES",
  "AUTH-RESP-CODE",
  `IMPLEMENTATION ${IMPLEMENTATION}`,
];

/** `+OK pop.test pop3d <version> server ready <RAND.TIME@pop.test>`; returns the challenge. */
export const GREETING_WITH_CHALLENGE = new RegExp(
  `^\\+OK pop\\.test ${IMPLEMENTATION.replace(/[.]/g, "\\.")} server ready (<\\d{1,20}\\.\\d+@pop\\.test>)$`,
);

export const MAILBOX_READY = /^\+OK Mailbox locked and ready SESSIONID=<[^<>\s]+>$/;

export function md5Hex(text: string): string {
  return new Bun.CryptoHasher("md5").update(text).digest("hex");
}

export function hmacMd5Hex(key: string, text: string): string {
  return new Bun.CryptoHasher("md5", key).update(text).digest("hex");
}

export const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

export function challengeOf(greeting: string): string {
  const m = GREETING_WITH_CHALLENGE.exec(greeting);
  if (!m) throw new Error(`greeting has no APOP challenge: ${JSON.stringify(greeting)}`);
  return m[1]!;
}
