/**
 * User-name canonicalisation shared by USER, APOP and every SASL mechanism (global.c:mysasl_canon_user, auth_unix.c:auth_canonifyid).
 * The result is the only form of a user name that may reach the password database or a path.
 */
import { MAX_USERNAME_BYTES } from "../limits.ts";

export interface CanonicalOptions {
  virtdomains: "off" | "userid" | "on";
  defaultDomain: string;
  toLower: boolean;
  popSubfolders: boolean;
}

export type CanonicalResult =
  | { ok: true; user: string; subfolder?: string }
  | { ok: false; reason: string };

const ASCII_UPPER_A = 0x41;
const ASCII_UPPER_Z = 0x5a;
const ASCII_CASE_BIT = 0x20;
const FIRST_PRINTABLE = 0x20;
const DEL = 0x7f;

/** Printable ASCII that the unix auth module refuses: `%` and `*` are IMAP LIST wildcards, `&` starts
 *  modified UTF-7, `/` cannot appear in a mailbox name, `:` is the passwd separator, `?` by policy (auth_unix.c:auth_canonifyid). */
const FORBIDDEN_PRINTABLE = new Set(["%", "&", "*", "/", ":", "?"]);

function reject(reason: string): CanonicalResult {
  return { ok: false, reason };
}

/** Cyrus strips `+folder` first; with virtual domains the folder ends at the next `@` (pop3d.c:popd_canon_user). */
function splitSubfolder(raw: string, opts: CanonicalOptions): { name: string; subfolder?: string } {
  if (!opts.popSubfolders) return { name: raw };
  const plus = raw.indexOf("+");
  if (plus < 0) return { name: raw };
  let end = raw.length;
  if (opts.virtdomains !== "off") {
    const at = raw.indexOf("@", plus);
    if (at >= 0) end = at;
  }
  const folder = raw.slice(plus + 1, end);
  const name = raw.slice(0, plus) + raw.slice(end);
  // A bare `+` names no folder: the session opens the INBOX, as Cyrus does for an empty suffix.
  return folder.length > 0 ? { name, subfolder: folder } : { name };
}

/** Index of the domain separator: the last `@`, or failing that the last `%` (Cyrus's order). */
function domainSeparator(name: string): number {
  const at = name.lastIndexOf("@");
  return at >= 0 ? at : name.lastIndexOf("%");
}

function lowerAscii(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= ASCII_UPPER_A && c <= ASCII_UPPER_Z ? String.fromCharCode(c | ASCII_CASE_BIT) : s[i];
  }
  return out;
}

/** The unix auth module's character policy; returns why the name is refused, or undefined. */
function forbiddenCharacter(name: string): string | undefined {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < FIRST_PRINTABLE) return `control byte 0x${c.toString(16).padStart(2, "0")}`;
    if (c === DEL) return "DEL byte";
    // Every code point ≥ 0x80 encodes to UTF-8 bytes ≥ 0x80, all of which are refused.
    if (c >= 0x80) return "non-ASCII byte";
    const ch = name[i]!;
    if (FORBIDDEN_PRINTABLE.has(ch)) return `forbidden character '${ch}'`;
  }
  return undefined;
}

/** `.` and `..` would walk out of a per-user or per-domain directory; Cyrus never builds such paths. */
function isDotName(s: string): boolean {
  return s === "." || s === "..";
}

export function canonicalizeUser(raw: string, opts: CanonicalOptions): CanonicalResult {
  const { name: stripped, subfolder } = splitSubfolder(raw, opts);
  let name = stripped;
  let localLength = name.length;
  let hasDomain = false;

  if (opts.virtdomains !== "off") {
    const sep = domainSeparator(name);
    if (sep >= 0) {
      name = `${name.slice(0, sep)}@${name.slice(sep + 1)}`;
      localLength = sep;
      hasDomain = true;
    }
  }

  const local = lowerAscii(name.slice(0, localLength));
  if (local === "anonymous") return { ok: true, user: "anonymous" };
  if (local === "anybody" || local === "anyone") return { ok: true, user: "anyone" };

  if (hasDomain) {
    const domain = name.slice(localLength + 1);
    if (opts.defaultDomain !== "" && lowerAscii(domain) === lowerAscii(opts.defaultDomain)) {
      name = name.slice(0, localLength);
      hasDomain = false;
    }
  }

  if (name.length === 0) return reject("empty user name");
  if (name.length > MAX_USERNAME_BYTES) return reject(`longer than ${MAX_USERNAME_BYTES} bytes`);
  const bad = forbiddenCharacter(name);
  if (bad !== undefined) return reject(bad);
  if (opts.toLower) name = lowerAscii(name);

  const localPart = name.slice(0, localLength);
  if (localPart.length === 0) return reject("empty local part");
  if (isDotName(localPart)) return reject("local part is a dot name");
  if (hasDomain) {
    const domain = name.slice(localLength + 1);
    if (domain.length === 0) return reject("empty domain");
    if (isDotName(domain)) return reject("domain is a dot name");
  }

  return subfolder === undefined ? { ok: true, user: name } : { ok: true, user: name, subfolder };
}
