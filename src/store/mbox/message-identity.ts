/**
 * What identifies an mbox message across rewrites of the file, where offsets change: a digest of
 * the fields no mail program edits after delivery (the From_ line, Message-ID, Date, From, To,
 * Subject). Status:, X-Status:, X-Keywords: and Content-Length:, which MUAs rewrite, stay out.
 */

/** RFC 1939 §7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E. */
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

function normalise(value: string): string {
  return value.replace(/\s+/g, " ").trim();
}

/** The first occurrence of each wanted field, unfolded, from a header block (latin1 text). */
export function headerFields(header: string, wanted: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  let name: string | undefined;
  let value = "";
  const flush = (): void => {
    if (name !== undefined && wanted.has(name) && !found.has(name)) found.set(name, normalise(value));
    name = undefined;
  };
  for (const line of header.split("\n")) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (name !== undefined) value += ` ${line}`;
      continue;
    }
    flush();
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    name = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return found;
}

const WANTED = new Set<string>([...STABLE_FIELDS, X_UIDL]);

/** `fromLine` is the From_ line as read (line end included); `header` the header block as latin1. */
export function messageIdentity(fromLine: string, header: string): MessageIdentity {
  const fields = headerFields(header, WANTED);
  const hasher = new Bun.CryptoHasher("md5");
  hasher.update(normalise(fromLine), "latin1");
  for (const field of STABLE_FIELDS) hasher.update(`\n${fields.get(field) ?? ""}`, "latin1");
  const xUidl = fields.get(X_UIDL);
  return { key: hasher.digest("hex"), xUidl: xUidl !== undefined && isValidUidl(xUidl) ? xUidl : undefined };
}
