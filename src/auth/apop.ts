/**
 * APOP (RFC 1939 section 7): the banner challenge, the argument parser and the digest (pop3d.c:service_main, pop3d.c:cmd_apop).
 */
import { noble } from "./noble.ts";
import { constantTimeEqualStrings } from "./passdb/constant-time.ts";

const utf8 = new TextEncoder();

/** An APOP digest is an MD5 in lowercase hex. */
const APOP_DIGEST_HEX_LENGTH = 32;
const LOWER_HEX = /^[0-9a-f]*/;

/** `<RAND.TIME@servername>`, the shape libsasl's mkchal gives: RAND an unsigned 64-bit decimal, TIME
 *  seconds since the epoch. The angle brackets belong to the string that is hashed (pop3d.c:service_main). */
export function makeApopChallenge(servername: string): string {
  const rand = crypto.getRandomValues(new BigUint64Array(1))[0]!;
  const time = Math.floor(Date.now() / 1000);
  // one flat string, not a template literal's tree of pieces: the session keeps it for its whole life
  return ["<", rand, ".", time, "@", servername, ">"].join("");
}

export type ApopArgs = { ok: true; user: string; digest: string } | { ok: false };

/**
 * `<user> <digest>` split at the LAST space, so the user may contain spaces. The digest must start with
 * exactly 32 lowercase hex digits: a 33rd hex digit is refused, but non-hex junk after the 32 is ignored,
 * as libsasl's strspn test does (pop3d.c:cmd_apop). An empty user is passed on for canonicalisation to refuse.
 */
export function parseApopArgument(arg: string): ApopArgs {
  const space = arg.lastIndexOf(" ");
  if (space < 0) return { ok: false };
  const tail = arg.slice(space + 1);
  const hexRun = LOWER_HEX.exec(tail)![0].length;
  if (hexRun !== APOP_DIGEST_HEX_LENGTH) return { ok: false };
  return { ok: true, user: arg.slice(0, space), digest: tail.slice(0, APOP_DIGEST_HEX_LENGTH) };
}

/** MD5 of challenge + shared secret, in lowercase hex. */
export function apopDigest(challenge: string, secret: string): string {
  return noble.utils.bytesToHex(noble.legacy.md5(utf8.encode(challenge + secret)));
}

/** Compares a client digest (from parseApopArgument) with the expected one in constant time. */
export function apopDigestMatches(challenge: string, secret: string, digest: string): boolean {
  return constantTimeEqualStrings(apopDigest(challenge, secret), digest);
}
