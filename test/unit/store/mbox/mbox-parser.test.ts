import { describe, expect, test } from "bun:test";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanMboxSync, type ParseOptions, type ScanResult } from "../../../../src/store/mbox/mbox-parser.ts";
import { MboxMessageSource } from "../../../../src/store/mbox/message-source.ts";
import type { FromQuoting } from "../../../../src/store/mbox/mbox-format.ts";
import { envelope, mboxEntry, mboxOf, message, quoteMboxo, quoteMboxrd, readSource, storedBytes, tempDir, wireBytes } from "./mbox-test-kit.ts";

const RD: ParseOptions = { quoting: "mboxrd", contentLength: false };

function withFile<T>(bytes: Buffer | string, fn: (fd: number, size: number) => T): T {
  const path = join(tempDir("parse"), "mbox");
  writeFileSync(path, bytes);
  const fd = openSync(path, "r");
  try {
    return fn(fd, Buffer.byteLength(bytes));
  } finally {
    closeSync(fd);
  }
}

function scan(bytes: Buffer | string, options: ParseOptions = RD, chunk?: number): ScanResult {
  return withFile(bytes, (fd, size) => scanMboxSync(fd, 0, size, options, chunk));
}

/** What RETR's source yields for every message of the file. */
function retrieved(bytes: Buffer | string, options: ParseOptions = RD, chunk = 64 * 1024): Buffer[] {
  return withFile(bytes, (fd, size) =>
    scanMboxSync(fd, 0, size, options).messages.map((m) => {
      const quoting: FromQuoting = m.unquote ? options.quoting : "none";
      return readSource(new MboxMessageSource(fd, m.contentStart, m.contentEnd, quoting, "test"), chunk);
    }),
  );
}

describe("message boundaries", () => {
  test("each From_ line after a blank line starts a message; the separator belongs to neither", () => {
    const originals = [message(1), message(2), message(3)];
    const file = mboxOf(originals);
    const result = scan(file);
    expect(result.messages.length).toBe(3);
    expect(result.junkBeforeFirstMessage).toBe(false);
    let offset = 0;
    result.messages.forEach((m, i) => {
      expect(m.offset).toBe(offset);
      expect(m.contentStart).toBe(offset + envelope(i).length + 1);
      expect(file.subarray(m.contentStart, m.contentEnd).equals(originals[i]!)).toBe(true);
      offset = m.contentEnd + 1;
    });
    expect(offset).toBe(file.length);
  });

  test("a From line without a blank line before it, or without an envelope date, stays in the message", () => {
    const body = "Intro\nFrom sender@example.org Mon Jan  1 00:00:00 2024\n\nFrom here on we talk business.\n";
    const file = `${envelope(1)}\nSubject: a\n\n${body}\n`;
    const result = scan(file);
    expect(result.messages.length).toBe(1);
    expect(retrieved(file)[0]!.toString("latin1")).toBe(`Subject: a\n\n${body}`);
  });

  test("an unquoted From_ line after a blank line splits, as in every mbox reader", () => {
    const file = `${envelope(1)}\nSubject: a\n\nbody\n\n${envelope(2)}\nSubject: b\n\nmore\n`;
    expect(retrieved(file).map((b) => b.toString("latin1"))).toEqual(["Subject: a\n\nbody\n", "Subject: b\n\nmore\n"]);
  });

  test("blank lines inside and at the end of a message are kept, only the separator goes", () => {
    const original = Buffer.from("Subject: blanks\n\n\nbody\n\n\n", "latin1");
    const file = mboxOf([original, message(2)]);
    const out = retrieved(file);
    expect(out[0]!.equals(original)).toBe(true);
    expect(out[1]!.equals(message(2))).toBe(true);
  });

  test("text before the first From_ line marks the file as not an mbox; blank lines do not", () => {
    expect(scan(`garbage\n${envelope(1)}\nSubject: a\n\nx\n`).junkBeforeFirstMessage).toBe(true);
    const padded = scan(`\n\n${envelope(1)}\nSubject: a\n\nx\n`);
    expect(padded.junkBeforeFirstMessage).toBe(false);
    expect(padded.messages.length).toBe(1);
  });

  test("an empty file has no messages; a From_ line alone is an empty message", () => {
    expect(scan("").messages).toEqual([]);
    const lone = scan(`${envelope(1)}\n`);
    expect(lone.messages.length).toBe(1);
    expect(lone.messages[0]!.wireSize).toBe(0);
  });

  test("an mbox written with CRLF line ends splits the same way", () => {
    const originals = [Buffer.from("Subject: a\r\n\r\nbody a\r\n"), Buffer.from("Subject: b\r\n\r\nbody b\r\n")];
    const file = Buffer.concat(originals.map((m, i) => mboxEntry(m, envelope(i), (x) => x, "\r\n")));
    const out = retrieved(file);
    expect(out.map((b) => b.toString("latin1"))).toEqual(originals.map((b) => b.toString("latin1")));
    expect(scan(file).messages.map((m) => m.wireSize)).toEqual(originals.map((m) => wireBytes(m).length));
  });
});

describe("From_ quoting", () => {
  const tricky = Buffer.from(
    "Subject: quoting\n\nFrom the start\n>From quoted once\n>>From quoted twice\n> From not quoted\n>Fromage\nFrom\n",
    "latin1",
  );

  test("mboxrd: one > comes off every >+From line; sizes count the unquoted message", () => {
    const file = mboxOf([tricky, message(2)]);
    const out = retrieved(file);
    expect(out[0]!.equals(tricky)).toBe(true);
    expect(scan(file).messages[0]!.wireSize).toBe(wireBytes(tricky).length);
  });

  test("mboxo: only >From loses its >; >>From is kept", () => {
    const original = Buffer.from("Subject: o\n\nFrom a\n>>From b\n", "latin1");
    const file = mboxOf([original], quoteMboxo);
    const options: ParseOptions = { quoting: "mboxo", contentLength: false };
    const expected = Buffer.from("Subject: o\n\nFrom a\n>>From b\n", "latin1");
    expect(retrieved(file, options)[0]!.equals(expected)).toBe(true);
    expect(scan(file, options).messages[0]!.wireSize).toBe(wireBytes(expected).length);
  });

  test("none: lines are sent as stored", () => {
    const file = mboxOf([tricky]);
    const options: ParseOptions = { quoting: "none", contentLength: false };
    const stored = quoteMboxrd(tricky);
    expect(retrieved(file, options)[0]!.equals(stored)).toBe(true);
    expect(scan(file, options).messages[0]!.wireSize).toBe(wireBytes(stored).length);
  });

  test("a quote run deeper than the cap is left alone by reader and sizer alike", () => {
    const deep = ">".repeat(1100) + "From deep\n";
    const file = `${envelope(1)}\nSubject: d\n\n${deep}\n`;
    const out = retrieved(file, RD, 7);
    expect(out[0]!.toString("latin1")).toBe(`Subject: d\n\n${deep}`);
    expect(scan(file).messages[0]!.wireSize).toBe(wireBytes(out[0]!).length);
  });
});

describe("sizes", () => {
  test("bare LF, CRLF and a missing final newline follow the wire rule", () => {
    const originals = [
      Buffer.from("Subject: crlf\r\n\r\nline\r\n"),
      Buffer.from("Subject: lf\n\nline\nline\n"),
      Buffer.from("Subject: mixed\r\n\nline\r\nline\n"),
      Buffer.from("Subject: unterminated\n\nlast line"),
    ];
    const result = scan(mboxOf(originals));
    expect(result.messages.map((m) => m.wireSize)).toEqual(originals.map((m) => wireBytes(m).length));
    expect(retrieved(mboxOf(originals)).map((b) => b.toString("latin1"))).toEqual(originals.map((m) => storedBytes(m).toString("latin1")));
  });

  test("a last message cut off without a final newline gets the CRLF added", () => {
    const file = `${envelope(1)}\nSubject: cut\n\nno newline`;
    const result = scan(file);
    expect(result.messages[0]!.wireSize).toBe(wireBytes(Buffer.from("Subject: cut\n\nno newline")).length);
  });

  test("chunk boundaries anywhere give the same result, long lines included", () => {
    const long = "x".repeat(3000);
    const originals = [message(1, `${long}\n>From a\n${long}\n`), Buffer.from(`Subject: q\r\n\r\n>>>From b\r\n${long}`), message(3)];
    const file = mboxOf(originals);
    const reference = scan(file);
    for (const chunk of [1, 2, 3, 5, 8, 13, 64, 1000, 4096]) {
      expect(scan(file, RD, chunk)).toEqual(reference);
      expect(retrieved(file, RD, chunk).map((b) => b.toString("latin1"))).toEqual(originals.map((m) => storedBytes(m).toString("latin1")));
    }
  });
});

describe("Content-Length (pop3_mbox_content_length)", () => {
  const body = "Unquoted lines:\n\nFrom sender@example.org Mon Jan  1 00:00:00 2024\n>From stays\n";
  const clMessage = (length: number) => `${envelope(1)}\nSubject: cl\nContent-Length: ${length}\n\n${body}\n${envelope(2)}\nSubject: next\n\nx\n`;
  const CL: ParseOptions = { quoting: "mboxrd", contentLength: true };

  test("a valid Content-Length keeps unquoted From_ lines in the body and sends it as stored", () => {
    const file = clMessage(Buffer.byteLength(body));
    const result = scan(file, CL);
    expect(result.messages.length).toBe(2);
    expect(result.messages[0]!.unquote).toBe(false);
    const out = retrieved(file, CL);
    expect(out[0]!.toString("latin1")).toBe(`Subject: cl\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
    expect(result.messages[0]!.wireSize).toBe(wireBytes(out[0]!).length);
    expect(out[1]!.toString("latin1")).toBe("Subject: next\n\nx\n");
  });

  test("ignored when off, and when it does not point at a From_ line", () => {
    expect(scan(clMessage(Buffer.byteLength(body)), RD).messages.length).toBe(3);
    const wrong = scan(clMessage(Buffer.byteLength(body) - 3), CL);
    expect(wrong.messages.length).toBe(3);
    expect(wrong.messages.every((m) => m.unquote)).toBe(true);
  });

  test("Content-Length 0 and a Content-Length reaching the end of the file", () => {
    const zero = `${envelope(1)}\nSubject: z\nContent-Length: 0\n\n\n${envelope(2)}\nSubject: n\n\nx\n`;
    const out = retrieved(zero, CL);
    expect(out.map((b) => b.toString("latin1"))).toEqual(["Subject: z\nContent-Length: 0\n\n", "Subject: n\n\nx\n"]);
    const last = `${envelope(1)}\nSubject: l\nContent-Length: 5\n\nabcd\n`;
    const result = scan(last, CL);
    expect(result.messages[0]!.unquote).toBe(false);
    expect(retrieved(last, CL)[0]!.toString("latin1")).toBe("Subject: l\nContent-Length: 5\n\nabcd\n");
  });
});

describe("message source", () => {
  test("a message cut short by another program is a read error, never a short message", () => {
    const file = mboxOf([message(1)]);
    withFile(file, (fd, size) => {
      const source = new MboxMessageSource(fd, 40, size + 100, "mboxrd", "test");
      expect(() => readSource(source)).toThrow("Could not read message file");
    });
  });

  test("after close() nothing more is read", () => {
    withFile(mboxOf([message(1)]), (fd, size) => {
      const source = new MboxMessageSource(fd, 0, size, "mboxrd", "test");
      source.close();
      expect(source.read(Buffer.alloc(64))).toBe(0);
    });
  });
});
