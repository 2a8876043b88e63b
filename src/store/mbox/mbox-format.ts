/**
 * The mbox conventions this store reads, in one place:
 *
 * - A message starts at a From_ line: `From ` at the start of the file or right after a blank line,
 *   carrying an envelope date (a `hh:mm` time and a four-digit year). The date check keeps a stray
 *   body line such as "From here on..." in an unquoted file from splitting a message.
 * - The blank line before a From_ line separates messages and belongs to neither; at the end of the
 *   file one trailing blank line is that separator too.
 * - Body lines that looked like From_ lines were quoted by the writer. procmail, postfix local(8)
 *   and dovecot-lda prepend one `>` to `From ` lines; mboxrd writers also to `>From `, `>>From `...
 *   Reading with the mboxrd rule (`>+From ` loses one `>`) undoes both: an mboxo file holds `>>From `
 *   only if the original had it, a case mboxo itself cannot represent faithfully anyway.
 */

/** How quoted From_ lines are turned back into what the sender wrote. */
export type FromQuoting = "mboxrd" | "mboxo" | "none";

export const FROM_QUOTINGS: readonly FromQuoting[] = ["mboxrd", "mboxo", "none"];

/**
 * Deeper `>` runs are left as they are. Real quoting depth is a handful; the cap lets the reader and
 * the sizer decide every line from a small, fixed look-ahead, so both always agree.
 */
export const MAX_FROM_QUOTE_DEPTH = 1024;

/** Envelope lines are an address and a date; anything longer is body text, not a From_ line. */
export const MAX_FROM_LINE_BYTES = 4096;

/**
 * How much of each line the parser looks at (header fields for the identity digest, From_ lines,
 * quote runs). Must hold a whole From_ line and a whole quote run plus `From `.
 */
export const LINE_HEAD_BYTES = 8192;

const LF = 10;
const CR = 13;
const GT = 62;
const FROM = Buffer.from("From ", "latin1");

function startsWithFrom(bytes: Uint8Array, at: number, end: number): boolean {
  if (end - at < FROM.length) return false;
  for (let i = 0; i < FROM.length; i++) if (bytes[at + i] !== FROM[i]) return false;
  return true;
}

const ENVELOPE_TIME = /\d{1,2}:\d\d/;
const ENVELOPE_YEAR = /(?:^|\D)\d{4}(?:\D|$)/;

/**
 * Whether bytes[start, start + length) — a whole line, its LF included — is a From_ line. The caller
 * has checked the position (file start or after a blank line).
 */
export function isFromLine(bytes: Uint8Array, start: number, length: number): boolean {
  if (length > MAX_FROM_LINE_BYTES || !startsWithFrom(bytes, start, start + length)) return false;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start + FROM.length, length - FROM.length).toString("latin1");
  return ENVELOPE_TIME.test(text) && ENVELOPE_YEAR.test(text);
}

/** An empty line: `\n` or `\r\n` (length includes the line end). */
export function isBlankLine(bytes: Uint8Array, start: number, length: number): boolean {
  return (length === 1 && bytes[start] === LF) || (length === 2 && bytes[start] === CR && bytes[start + 1] === LF);
}

/**
 * Whether the line at bytes[start] (with bytes available up to `end`) is a quoted From_ line from
 * which one `>` is dropped. The look-ahead needed is at most MAX_FROM_QUOTE_DEPTH + 5 bytes.
 */
export function isQuotedFromLine(bytes: Uint8Array, start: number, end: number, quoting: FromQuoting): boolean {
  if (quoting === "none" || bytes[start] !== GT) return false;
  if (quoting === "mboxo") return startsWithFrom(bytes, start + 1, end);
  let at = start + 1;
  const limit = Math.min(end, start + MAX_FROM_QUOTE_DEPTH);
  while (at < limit && bytes[at] === GT) at++;
  if (at < end && bytes[at] === GT) return false;
  return startsWithFrom(bytes, at, end);
}

/** Bytes a caller must have past a line start to decide isQuotedFromLine. */
export const QUOTE_LOOKAHEAD_BYTES = MAX_FROM_QUOTE_DEPTH + FROM.length;
