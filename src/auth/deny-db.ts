/**
 * Cyrus's per-user, per-service deny list, `user_deny.db`, as `cyr_deny` writes it
 * (imap/userdeny_db.c). Each entry is keyed by the userid; its value is
 * `<version>\t<service wildmat list>[\t<message>]` (version 2 has the message, version 1 not).
 * The wildmat list is comma-separated; the first pattern that matches the service decides, and a
 * leading `!` makes that match an allow. A missing file or entry allows; a broken entry allows
 * with a warning, as Cyrus's userdeny() does.
 *
 * Formats: flat (Cyrus's default, lib/cyrusdb_flat.c) is read here; twoskip through a reader the
 * caller passes in (the store layer has one). skiplist, sql and zeroskip are not read: start-up
 * warns, and nobody is denied.
 */
import { statSync, readFileSync } from "node:fs";

/** Cyrus's text for an entry without its own message (userdeny_db.c:default_message). */
export const DEFAULT_DENY_MESSAGE = "Access to this service has been blocked";
const USERDENY_VERSION = 2;
/** cyrusdb_flat.c: 0xFF escapes NUL, TAB, CR, LF (as byte | 0x80) and itself. */
const FLAT_ESCAPE = 0xff;

export type DenyDbFormat = "flat" | "twoskip";
export type TwoskipGet = (path: string, key: Buffer) => Buffer | undefined;

/** Cyrus's wildmat (lib/wildmat.c): `*`, `?`, `[a-z]`, `[^...]`, `\` quotes the next character. */
export function wildmat(text: string, pattern: string): boolean {
  return doMatch(text, 0, pattern, 0) === true;
}

function doMatch(text: string, t: number, p: string, i: number): boolean | "abort" {
  for (; i < p.length; t++, i++) {
    if (t >= text.length && p[i] !== "*") return "abort";
    const c = p[i]!;
    if (c === "?") continue;
    if (c === "*") {
      while (p[i + 1] === "*") i++;
      if (i + 1 >= p.length) return true;
      for (; t < text.length; t++) {
        const r = doMatch(text, t, p, i + 1);
        if (r !== false) return r;
      }
      return "abort";
    }
    if (c === "[") {
      const reverse = p[i + 1] === "^";
      if (reverse) i++;
      let matched = false;
      if (p[i + 1] === "]" || p[i + 1] === "-") {
        i++;
        if (p[i] === text[t]) matched = true;
      }
      let last = p[i]!;
      for (i++; i < p.length && p[i] !== "]"; last = p[i]!, i++) {
        if (p[i] === "-" && p[i + 1] !== "]" && i + 1 < p.length) {
          i++;
          if (text[t]! <= p[i]! && text[t]! >= last) matched = true;
        } else if (text[t] === p[i]) matched = true;
      }
      if (matched === reverse) return false;
      continue;
    }
    if (c === "\\") i++;
    if (text[t] !== p[i]) return false;
  }
  return t >= text.length;
}

export type DenyRecord = { services: string; message: string };

/** userdeny_db.c:parse_record; undefined for a malformed value. */
export function parseDenyRecord(value: Buffer): DenyRecord | undefined {
  const text = value.toString("latin1");
  const m = /^(\d+)\t/.exec(text);
  if (!m) return undefined;
  const version = Number(m[1]);
  if (version < 1 || version > USERDENY_VERSION) return undefined;
  const rest = text.slice(m[0].length);
  if (version === USERDENY_VERSION) {
    const tab = rest.indexOf("\t");
    if (tab >= 0) return { services: rest.slice(0, tab), message: rest.slice(tab + 1) };
  }
  return { services: rest, message: DEFAULT_DENY_MESSAGE };
}

/** The deny message when `record` denies `service`, else undefined. */
export function denies(record: DenyRecord, service: string): string | undefined {
  for (const token of record.services.split(",")) {
    if (token === "") continue;
    const negated = token.startsWith("!");
    if (!wildmat(service, negated ? token.slice(1) : token)) continue;
    // control characters would break the one-line reply (3.12 replaces them too)
    return negated ? undefined : record.message.replace(/[\x00-\x1f]/g, " ");
  }
  return undefined;
}

function unescapeFlat(bytes: Buffer): Buffer {
  if (!bytes.includes(FLAT_ESCAPE)) return bytes;
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== FLAT_ESCAPE) out.push(b);
    else if (i + 1 < bytes.length) {
      const next = bytes[++i]!;
      out.push(next === FLAT_ESCAPE ? FLAT_ESCAPE : next & 0x7f);
    }
  }
  return Buffer.from(out);
}

/** A flat cyrusdb file: one `key\tvalue\n` line per entry, both escaped. */
export function parseFlatDb(data: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end < 0) end = data.length;
    const line = data.subarray(start, end);
    const tab = line.indexOf(0x09);
    if (tab > 0) entries.set(unescapeFlat(line.subarray(0, tab)).toString("latin1"), unescapeFlat(line.subarray(tab + 1)));
    start = end + 1;
  }
  return entries;
}

export interface UserDenyOptions {
  readonly path: string;
  readonly format: DenyDbFormat;
  readonly twoskipGet?: TwoskipGet;
  readonly warn: (message: string) => void;
}

/**
 * The deny list of one process. Checked before every command, so each check is one stat(); the
 * file is read again only when its inode, size or mtime changed (cyr_deny replaces or rewrites it).
 */
export class UserDenyDb {
  private signature = "";
  private flat: Map<string, Buffer> | undefined;
  private readonly cached = new Map<string, DenyRecord | undefined>();

  constructor(private readonly o: UserDenyOptions) {}

  /** The message to send when `user` is denied `service`, else undefined. */
  check(user: string, service: string): string | undefined {
    if (user === "") return undefined;
    const record = this.record(user);
    return record ? denies(record, service) : undefined;
  }

  private record(user: string): DenyRecord | undefined {
    let signature: string;
    // checked before every command: a missing file (the usual case) must not cost a thrown error
    const st = statSync(this.o.path, { throwIfNoEntry: false });
    if (!st) {
      // no deny list at all: everybody is allowed (denydb_open fails the same way)
      this.signature = "";
      this.flat = undefined;
      this.cached.clear();
      return undefined;
    }
    signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (signature !== this.signature) {
      this.signature = signature;
      this.flat = undefined;
      this.cached.clear();
    }
    if (this.cached.has(user)) return this.cached.get(user);
    const value = this.fetch(user);
    let record: DenyRecord | undefined;
    if (value !== undefined && value.length > 0) {
      record = parseDenyRecord(value);
      if (!record) this.o.warn(`DENYDB_ERROR: invalid entry for '${user}'`);
    }
    this.cached.set(user, record);
    return record;
  }

  private fetch(user: string): Buffer | undefined {
    try {
      if (this.o.format === "flat") {
        this.flat ??= parseFlatDb(readFileSync(this.o.path));
        return this.flat.get(user);
      }
      return this.o.twoskipGet?.(this.o.path, Buffer.from(user, "latin1"));
    } catch (error) {
      this.o.warn(`DENYDB_ERROR: error reading entry '${user}': ${(error as Error).message}`);
      return undefined;
    }
  }
}
