/**
 * Deterministic benchmark messages: CRLF throughout, as a Maildir delivered by an MTA holds them,
 * with a share of body lines starting with "." so the server's dot-stuffing path is exercised.
 */
import { closeSync, openSync, writeSync } from "node:fs";

/** One body line in DOT_EVERY starts with "." (quoted-printable soft breaks, signatures, diffs). */
const DOT_EVERY = 40;

function headers(id: string, subject: string): string {
  return (
    `Return-Path: <sender@example.org>\r\n` +
    `From: Bench Sender <sender@example.org>\r\n` +
    `To: Bench User <user@example.org>\r\n` +
    `Subject: ${subject}\r\n` +
    `Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n` +
    `Message-ID: <${id}@bench.example.org>\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n\r\n`
  );
}

/** A body line of 60..99 bytes (CRLF included), varying with `n`. */
function bodyLine(seed: number, n: number): string {
  const width = 58 + ((n * 7 + seed) % 40);
  const text = `${seed}.${n} the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwxyz`
    .repeat(2)
    .slice(0, width);
  return (n % DOT_EVERY === DOT_EVERY - 1 ? "." + text.slice(1) : text) + "\r\n";
}

/** A message of exactly `size` bytes (size > ~400). */
export function textMessage(seed: number, size: number): Buffer {
  let out = headers(`m${seed}`, `bench message ${seed} (${size} bytes)`);
  for (let n = 0; ; n++) {
    const line = bodyLine(seed, n);
    if (out.length + line.length > size - 8) break;
    out += line;
  }
  const rest = size - out.length;
  out += "x".repeat(rest - 2) + "\r\n";
  return Buffer.from(out, "latin1");
}

/** Sizes around 50 KB (45..55 KB) so sessions move ~1 MB of bodies for 20 messages. */
export function fiftyKbSize(seed: number): number {
  return 45_000 + ((seed * 2_654_435_761) % 10_000);
}

/** Small messages for the 20,000-message Maildir: 1..9 KB. */
export function smallSize(seed: number): number {
  return 1_000 + ((seed * 2_654_435_761) % 8_000);
}

export interface LargeMessage {
  /** Body lines starting with "." (each gains one byte on the wire). */
  dotLines: number;
  /** Line ends in the file (each gains a CR on the wire when the file uses LF). */
  lines: number;
}

/**
 * Write a message of exactly `size` bytes to `path` without holding it in memory: one ~1 MiB
 * block of body lines repeated, then lines and padding to the exact size. `eol` "\n" gives the
 * bare-LF form most Maildir deliveries use on disk.
 */
export function writeLargeMessage(path: string, size: number, eol: "\r\n" | "\n" = "\r\n"): LargeMessage {
  const withEol = (text: string) => (eol === "\n" ? text.replaceAll("\r\n", "\n") : text);
  const countLines = (text: string) => text.split("\n").length - 1;
  const head = Buffer.from(withEol(headers("large", `large message (${size} bytes)`)), "latin1");
  let blockText = "";
  let blockDots = 0;
  for (let n = 0; blockText.length < 1 << 20; n++) {
    const line = withEol(bodyLine(7, n));
    if (line.charCodeAt(0) === 46) blockDots++;
    blockText += line;
  }
  const block = Buffer.from(blockText, "latin1");
  const blockLines = countLines(blockText);
  const fd = openSync(path, "w");
  try {
    let written = writeSync(fd, head);
    let lines = countLines(head.toString("latin1"));
    let dotLines = 0;
    while (written + block.length <= size - 2) {
      written += writeSync(fd, block);
      lines += blockLines;
      dotLines += blockDots;
    }
    let tail = "";
    for (let n = 0; size - written - tail.length >= 200; n++) {
      const line = withEol(bodyLine(11, n));
      if (line.charCodeAt(0) === 46) dotLines++;
      tail += line;
    }
    tail += "y".repeat(size - written - tail.length - eol.length) + eol;
    lines += countLines(tail);
    writeSync(fd, Buffer.from(tail, "latin1"));
    return { dotLines, lines };
  } finally {
    closeSync(fd);
  }
}
