/**
 * Cyrus's "dlist" text format, as found in mailboxes.db values, cyrus.header and quotalegacy
 * files: `%(K V K V)` key/value lists, `(V V)` lists, atoms, "quoted" strings and {n+} literals.
 * Only the parsing side is needed; the grammar follows Cyrus's SAX parser (atoms end at a space,
 * trailing ')' are not part of them, NIL is the null value).
 */

export type DlistValue = string | null | DlistValue[] | DlistKvList;

export class DlistKvList {
  constructor(readonly entries: ReadonlyArray<readonly [string, DlistValue]>) {}

  /** The first value stored under `key`, if any. */
  get(key: string): DlistValue | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  /** A string value, or undefined when absent, NIL or not a string. */
  string(key: string): string | undefined {
    const value = this.get(key);
    return typeof value === "string" ? value : undefined;
  }
}

export class DlistSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DlistSyntaxError";
  }
}

const SPACE = 0x20;
const OPEN = 0x28;
const CLOSE = 0x29;
const PERCENT = 0x25;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const PLUS = 0x2b;
const CR = 0x0d;
const LF = 0x0a;

class Parser {
  private p = 0;

  constructor(private readonly bytes: Uint8Array) {}

  parseAll(): DlistValue {
    const value = this.value();
    if (this.p !== this.bytes.length) this.fail("trailing data");
    return value;
  }

  private fail(what: string): never {
    throw new DlistSyntaxError(`dlist: ${what} at byte ${this.p} of ${this.bytes.length}`);
  }

  private peek(): number {
    if (this.p >= this.bytes.length) this.fail("unexpected end");
    return this.bytes[this.p]!;
  }

  private value(): DlistValue {
    const c = this.peek();
    if (c === OPEN) return this.list();
    if (c === PERCENT) {
      this.p++;
      if (this.peek() !== OPEN) this.fail("unknown % type");
      return this.kvList();
    }
    return this.item();
  }

  private elements<T>(one: () => T): T[] {
    this.p++; // past '('
    const out: T[] = [];
    while (this.peek() !== CLOSE) {
      out.push(one());
      const c = this.peek();
      if (c === CLOSE) break;
      if (c !== SPACE) this.fail("expected space between elements");
      this.p++;
    }
    this.p++; // past ')'
    return out;
  }

  private list(): DlistValue[] {
    return this.elements(() => this.value());
  }

  private kvList(): DlistKvList {
    const entries = this.elements((): [string, DlistValue] => {
      const key = this.item();
      if (key === null) this.fail("NIL key");
      if (this.peek() !== SPACE) this.fail("expected space after key");
      this.p++;
      return [key, this.value()];
    });
    return new DlistKvList(entries);
  }

  private item(): string | null {
    const c = this.peek();
    if (c === QUOTE) return this.quoted();
    if (c === BRACE) return this.literal();
    let end = this.bytes.indexOf(SPACE, this.p);
    if (end < 0) end = this.bytes.length;
    while (end > this.p && this.bytes[end - 1] === CLOSE) end--;
    const atom = this.text(this.p, end);
    this.p = end;
    return atom === "NIL" ? null : atom;
  }

  private quoted(): string {
    this.p++;
    const out: number[] = [];
    while (this.p < this.bytes.length) {
      let c = this.bytes[this.p++]!;
      if (c === QUOTE) return Buffer.from(out).toString("utf8");
      if (c === BACKSLASH) {
        if (this.p >= this.bytes.length) break;
        c = this.bytes[this.p++]!;
      }
      out.push(c);
    }
    return this.fail("unterminated quoted string");
  }

  private literal(): string {
    this.p++;
    let len = 0;
    let digits = 0;
    while (this.p < this.bytes.length && this.bytes[this.p]! >= 0x30 && this.bytes[this.p]! <= 0x39) {
      len = len * 10 + (this.bytes[this.p++]! - 0x30);
      digits++;
    }
    if (this.bytes[this.p] === PLUS) this.p++;
    if (digits === 0 || this.bytes[this.p] !== CLOSE_BRACE || this.bytes[this.p + 1] !== CR || this.bytes[this.p + 2] !== LF) {
      this.fail("bad literal");
    }
    const start = this.p + 3;
    if (start + len > this.bytes.length) this.fail("literal past end");
    this.p = start + len;
    return this.text(start, start + len);
  }

  private text(start: number, end: number): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start).toString("utf8");
  }
}

/** Parses one dlist value that spans all of `bytes`; throws DlistSyntaxError otherwise. */
export function parseDlist(bytes: Uint8Array): DlistValue {
  return new Parser(bytes).parseAll();
}

/** Parses a value that must be a `%(...)` key/value list. */
export function parseDlistKv(bytes: Uint8Array): DlistKvList {
  const value = parseDlist(bytes);
  if (!(value instanceof DlistKvList)) throw new DlistSyntaxError("dlist: expected a %(...) key/value list");
  return value;
}
