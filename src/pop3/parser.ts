/**
 * Turning one framed line into a command, with Cyrus's exact rules (pop3d.c:cmdloop):
 * strip one LF then one CR; a NUL ends the line; the keyword runs to the first C isspace byte;
 * the argument's leading whitespace is skipped except for PASS; trailing whitespace is kept.
 */

export interface Command {
  /** Lowercased keyword; "" when the line starts with whitespace or is empty. */
  readonly keyword: string;
  /** The argument, or undefined when no whitespace followed the keyword. */
  readonly argument: string | undefined;
  /** Keyword followed by whitespace but nothing else (e.g. "STAT "): Cyrus answers "Syntax error". */
  readonly emptyArgument: boolean;
}

/** C isspace(): space, \t, \n, \v, \f, \r. */
export function isSpace(byte: number): boolean {
  return byte === 32 || (byte >= 9 && byte <= 13);
}

/** Strip the line terminator the Cyrus way and cut at the first NUL. */
export function lineContent(line: Uint8Array): Uint8Array {
  let end = line.length;
  if (end > 0 && line[end - 1] === 10) end--;
  if (end > 0 && line[end - 1] === 13) end--;
  const nul = line.subarray(0, end).indexOf(0);
  if (nul >= 0) end = nul;
  return line.subarray(0, end);
}

/** Bytes are carried as latin1 so that every byte survives unchanged into the string. */
export function bytesToText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}

/**
 * The keywords pop3d knows (RFC 1939, RFC 2449, RFC 2595, RFC 5034), as shared strings, so a
 * pipelined command costs no keyword string, and one without argument no Command object either.
 */
const KEYWORDS = ["user", "pass", "apop", "auth", "stat", "list", "uidl", "retr", "top", "dele", "noop", "rset", "quit", "capa", "stls"];
const keywordByCode = new Map<number, string>(KEYWORDS.map((k) => [keywordCode(Buffer.from(k, "latin1"), k.length), k]));
const bareCommands = new Map<string, Command>(KEYWORDS.map((k) => [k, Object.freeze({ keyword: k, argument: undefined, emptyArgument: false })]));

/** The first `length` bytes (at most 6) lowercased into one number; -1 if any is not an ASCII letter. */
function keywordCode(bytes: Uint8Array, length: number): number {
  if (length === 0 || length > 6) return -1;
  let code = 0;
  for (let i = 0; i < length; i++) {
    let b = bytes[i]!;
    if (b >= 65 && b <= 90) b += 32;
    else if (b < 97 || b > 122) return -1;
    code = code * 256 + b;
  }
  return code;
}

/** bytes[start, end) as latin1 text, without a view object when it is a Buffer. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (bytes instanceof Buffer) return bytes.toString("latin1", start, end);
  return bytesToText(bytes.subarray(start, end));
}

export function parseCommand(line: Uint8Array): Command {
  // lineContent's rules, as indices: one LF, then one CR, then cut at the first NUL
  let end = line.length;
  if (end > 0 && line[end - 1] === 10) end--;
  if (end > 0 && line[end - 1] === 13) end--;
  for (let i = 0; i < end; i++) {
    if (line[i] === 0) {
      end = i;
      break;
    }
  }
  let k = 0;
  while (k < end && !isSpace(line[k]!)) k++;
  const keyword = keywordByCode.get(keywordCode(line, k)) ?? latin1(line, 0, k).toLowerCase();
  if (k === end) return bareCommands.get(keyword) ?? { keyword, argument: undefined, emptyArgument: false };
  let a = k + 1;
  if (keyword !== "pass") {
    while (a < end && isSpace(line[a]!)) a++;
  }
  const argument = latin1(line, a, end);
  return { keyword, argument, emptyArgument: argument.length === 0 };
}

export type NumberParse = { ok: true; value: number } | { ok: false; error: "nan" | "extra" };

/**
 * pop3d.c:parse_msgno message numbers: skip leading whitespace, decimal digits only into a uint32 (leading zeros
 * fine, no sign), then nothing may follow — not even a space.
 */
export function parseMessageNumber(text: string): NumberParse {
  const r = scanUint32(text, 0);
  if (!r) return { ok: false, error: "nan" };
  if (r.end !== text.length) return { ok: false, error: "extra" };
  return { ok: true, value: r.value };
}

/** Skip whitespace, read a uint32; null when there are no digits or the value overflows. */
export function scanUint32(text: string, from: number): { value: number; end: number } | null {
  let i = from;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  const start = i;
  let value = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    if (value > 0xffffffff) return null;
    i++;
  }
  if (i === start) return null;
  return { value, end: i };
}

export type TopParse =
  | { ok: true; message: number; lines: number }
  | { ok: false; error: "missing" | "lines" | "extra" };

/**
 * TOP's own parser (pop3d.c:cmdloop): a bad or lone message number is "Missing argument"; a bad count is
 * "Invalid number of lines"; junk after the count is "Unexpected extra argument". Counts of 2^31
 * and above become negative in Cyrus's C int, which means "whole message": returned as -1.
 */
export function parseTopArguments(text: string): TopParse {
  const msg = scanUint32(text, 0);
  if (!msg || msg.end >= text.length) return { ok: false, error: "missing" };
  const count = scanUint32(text, msg.end);
  if (!count) return { ok: false, error: "lines" };
  if (count.end !== text.length) return { ok: false, error: "extra" };
  return { ok: true, message: msg.value, lines: count.value >= 0x80000000 ? -1 : count.value };
}
