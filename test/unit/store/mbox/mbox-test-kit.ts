/**
 * Building mbox files the way MDAs write them, and the bytes RETR must produce for each message,
 * computed from the original messages (never from the parser under test).
 */
import type { MessageSource } from "../../../../src/store/maildrop.ts";
import { tempDir as ownedTempDir } from "../../../support/processes.ts";

/**
 * A scratch dir owned by the test support code, removed when the next test file starts and after
 * the last (test/support/processes.ts). A module-level afterAll here would run only for the first
 * file that imports this kit, because bun test evaluates the module once for the whole run, and
 * every later file's dirs would stay in /tmp.
 */
export function tempDir(label = "mbox"): string {
  return ownedTempDir(label);
}

export function envelope(i: number): string {
  const minute = String(i % 60).padStart(2, "0");
  const hour = String(Math.floor(i / 60) % 24).padStart(2, "0");
  return `From sender${i}@example.org Mon Jan  1 ${hour}:${minute}:00 2024`;
}

/** mboxrd: every line that is `>*From ` gets one more `>`. */
export function quoteMboxrd(message: Buffer): Buffer {
  return Buffer.from(message.toString("latin1").replace(/^(>*From )/gm, ">$1"), "latin1");
}

/** mboxo (procmail, postfix local): only `From ` lines get a `>`. */
export function quoteMboxo(message: Buffer): Buffer {
  return Buffer.from(message.toString("latin1").replace(/^From /gm, ">From "), "latin1");
}

/** What an MDA appends for one message: From_ line, quoted message, newline if missing, blank line. */
export function mboxEntry(message: Buffer, from: string, quote: (m: Buffer) => Buffer = quoteMboxrd, lineEnd = "\n"): Buffer {
  const body = quote(message);
  const end = body.length === 0 || body[body.length - 1] === 10 ? "" : lineEnd;
  return Buffer.concat([Buffer.from(`${from}${lineEnd}`, "latin1"), body, Buffer.from(`${end}${lineEnd}`, "latin1")]);
}

export function mboxOf(messages: Buffer[], quote: (m: Buffer) => Buffer = quoteMboxrd, firstIndex = 0): Buffer {
  return Buffer.concat(messages.map((m, i) => mboxEntry(m, envelope(firstIndex + i), quote)));
}

/** The bytes the store hands the session: the original with a final LF if it had none. */
export function storedBytes(message: Buffer): Buffer {
  return message.length === 0 || message[message.length - 1] === 10 ? message : Buffer.concat([message, Buffer.from("\n")]);
}

/** The octets RETR sends before dot-stuffing: CRLF line ends, CRLF added if the last line has none. */
export function wireBytes(message: Buffer): Buffer {
  let text = message.toString("latin1").replace(/\r?\n/g, "\r\n");
  if (text.length > 0 && !text.endsWith("\r\n")) text += "\r\n";
  return Buffer.from(text, "latin1");
}

export function message(i: number, body = `Body line of message ${i}.\n`, extraHeaders = ""): Buffer {
  return Buffer.from(
    `From: Sender ${i} <s${i}@example.org>\nTo: user@example.org\nSubject: message ${i}\n` +
      `Date: Mon, 01 Jan 2024 00:00:${String(i % 60).padStart(2, "0")} +0000\nMessage-ID: <m${i}@example.org>\n${extraHeaders}\n${body}`,
    "latin1",
  );
}

export function readSource(source: MessageSource, chunk = 64 * 1024): Buffer {
  const parts: Buffer[] = [];
  const into = Buffer.alloc(chunk);
  for (let n; (n = source.read(into)) > 0; ) parts.push(Buffer.from(into.subarray(0, n)));
  source.close();
  return Buffer.concat(parts);
}

/** The python3 interpreter itself (a version-manager shim on PATH costs a shell per start). */
export const PYTHON: string = (() => {
  const probe = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]);
  const path = probe.stdout.toString().trim();
  return probe.exitCode === 0 && path !== "" ? path : "python3";
})();

/** Text read from a stream past the line last returned, kept for the next readLine on it. */
const unread = new WeakMap<ReadableStream<Uint8Array>, string>();

/**
 * Reads `stream` until it has produced a whole line, and returns that line. Bytes after it (a
 * child that printed two lines at once) are kept for the next call on the same stream.
 */
export async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = unread.get(stream) ?? "";
  const reader = stream.getReader();
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("latin1");
    }
  } finally {
    reader.releaseLock();
  }
  const end = text.indexOf("\n");
  if (end < 0) {
    unread.delete(stream);
    return text.trimEnd();
  }
  unread.set(stream, text.slice(end + 1));
  return text.slice(0, end).trimEnd();
}
