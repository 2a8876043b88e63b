/**
 * What identifies an mbox message across rewrites of the file, where offsets change: a digest of
 * the fields no mail program edits after delivery (the From_ line, Message-ID, Date, From, To,
 * Subject). Status:, X-Status:, X-Keywords: and Content-Length:, which MUAs rewrite, stay out.
 */

/** RFC 1939 section 7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E. */
export const MAX_UIDL_LENGTH = 70;
const UIDL_TEXT = /^[\x21-\x7e]+$/;

/** Fields that feed the digest, in digest order. */
const STABLE_FIELDS = ["message-id", "date", "from", "to", "subject"] as const;
const X_UIDL = "x-uidl";

export interface MessageIdentity {
  /** md5 hex of the From_ line and the stable fields: the message's identity and default UIDL. */
  readonly key: string;
  /** A usable `X-UIDL:` value (as written by qpopper, UW and others), if the message carries one. */
  readonly xUidl: string | undefined;
}

export function isValidUidl(text: string): boolean {
  return text.length > 0 && text.length <= MAX_UIDL_LENGTH && UIDL_TEXT.test(text);
}

const UNUSUAL_SPACE = /\s\s|[\t\r\n\v\f]/;

/** Unfolded, runs of white space as one space, trimmed (the common case skips the regex replace). */
function normalise(value: string): string {
  const trimmed = value.trim();
  return UNUSUAL_SPACE.test(trimmed) ? trimmed.replace(/\s+/g, " ") : trimmed;
}

/** The first occurrence of each wanted field, unfolded, from a header block (latin1 text). */
export function headerFields(header: string, wanted: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  let name: string | undefined;
  let value = "";
  for (let at = 0; at < header.length; ) {
    let end = header.indexOf("\n", at);
    if (end < 0) end = header.length;
    const first = header.charCodeAt(at);
    if (first === 32 || first === 9) {
      if (name !== undefined) value += header.slice(at, end);
    } else {
      if (name !== undefined && !found.has(name)) found.set(name, normalise(value));
      name = undefined;
      const colon = header.indexOf(":", at);
      if (colon > at && colon < end) {
        const candidate = header.slice(at, colon).trimEnd().toLowerCase();
        if (wanted.has(candidate)) {
          name = candidate;
          value = header.slice(colon + 1, end);
        }
      }
    }
    at = end + 1;
  }
  if (name !== undefined && !found.has(name)) found.set(name, normalise(value));
  return found;
}

const WANTED = new Set<string>([...STABLE_FIELDS, X_UIDL]);

/** `fromLine` is the From_ line as read (line end included); `header` the header block as latin1. */
export function messageIdentity(fromLine: string, header: string): MessageIdentity {
  const fields = headerFields(header, WANTED);
  let text = normalise(fromLine);
  for (const field of STABLE_FIELDS) text += `\n${fields.get(field) ?? ""}`;
  const key = new Bun.CryptoHasher("md5").update(Buffer.from(text, "latin1")).digest("hex");
  const xUidl = fields.get(X_UIDL);
  return { key, xUidl: xUidl !== undefined && isValidUidl(xUidl) ? xUidl : undefined };
}
