import { describe, expect, test } from "bun:test";
import { LineReader } from "../../../src/pop3/line-reader.ts";
import { parseCommand } from "../../../src/pop3/parser.ts";
import { MAX_COMMAND_LINE } from "../../../src/limits.ts";

/** Feed `input` in chunks of `size` and collect every line, the way the session does. */
function frame(input: Buffer, size: number, maxLength = MAX_COMMAND_LINE, releaseWhenWaiting = false): string[] {
  const reader = new LineReader();
  const lines: string[] = [];
  for (let i = 0; i < input.length; i += size) {
    reader.push(input.subarray(i, i + size));
    for (let line; (line = reader.next(maxLength)); ) lines.push(line.toString("latin1"));
    // as the session does before it waits for more input
    if (releaseWhenWaiting) reader.release();
  }
  reader.end();
  for (let line; (line = reader.next(maxLength)); ) lines.push(line.toString("latin1"));
  return lines;
}

// A session's worth of tricky input: CRLF and bare LF, a NUL, an 8-bit byte, a 10 KB line,
// a line of exactly 8191 bytes with its CRLF (8192: split before the LF), and no final LF.
const sample = Buffer.concat([
  Buffer.from("USER alice\r\nPASS  sp ace\nSTAT \r\nLIST 1\r\n\r\nNO\0OP junk\r\n\xe9t\xe9\r\n", "latin1"),
  Buffer.from("NOOP " + "x".repeat(10240) + "\r\n"),
  Buffer.from("NOOP " + "y".repeat(8185) + "\r\n"),
  Buffer.from("NOOP " + "z".repeat(8184) + "\r\n"),
  Buffer.from("QUIT"),
]);

describe("LineReader", () => {
  test("gives identical lines for every chunk size 1..512", () => {
    const reference = frame(sample, sample.length);
    for (let size = 1; size <= 512; size++) expect(frame(sample, size)).toEqual(reference);
  });

  test("cuts long lines at 8191 bytes and returns the rest as further lines (pop3d.c:cmdloop)", () => {
    const lines = frame(sample, 4096);
    const long = lines.filter((l) => l.startsWith("NOOP x") || /^x+/.test(l));
    expect(long.map((l) => l.length)).toEqual([8191, 10247 - 8191]);
    // 8190 chars + CRLF = 8192 bytes: the LF comes back alone, as Cyrus's transcript shows
    const y = lines.findIndex((l) => l.startsWith("NOOP y"));
    expect(lines[y]!.length).toBe(8191);
    expect(lines[y + 1]).toBe("\n");
    const z = lines.findIndex((l) => l.startsWith("NOOP z"));
    expect(lines[z]!.length).toBe(8191);
    expect(lines[z]!.endsWith("\r\n")).toBe(true);
  });

  test("returns a final line without LF only after end()", () => {
    const reader = new LineReader();
    reader.push(Buffer.from("QUIT"));
    expect(reader.next(MAX_COMMAND_LINE)).toBeNull();
    reader.end();
    expect(reader.next(MAX_COMMAND_LINE)?.toString()).toBe("QUIT");
    expect(reader.atEnd).toBe(true);
  });

  test("release() while waiting changes no line and keeps a partial one", () => {
    const reference = frame(sample, sample.length);
    for (const size of [1, 2, 5, 6, 12, 100, 4096]) expect(frame(sample, size, MAX_COMMAND_LINE, true)).toEqual(reference);
    const reader = new LineReader();
    reader.push(Buffer.from("STAT\r\nLIS"));
    expect(reader.next(MAX_COMMAND_LINE)?.toString()).toBe("STAT\r\n");
    reader.release();
    expect(reader.pendingBytes).toBe(3);
    reader.push(Buffer.from("T\r\n"));
    expect(reader.next(MAX_COMMAND_LINE)?.toString()).toBe("LIST\r\n");
  });

  test("discard() drops pipelined input (STLS)", () => {
    const reader = new LineReader();
    reader.push(Buffer.from("CAPA\r\nUSER x\r\n"));
    reader.discard();
    expect(reader.next(MAX_COMMAND_LINE)).toBeNull();
    expect(reader.pendingBytes).toBe(0);
  });
});

describe("parseCommand", () => {
  const parse = (s: string) => parseCommand(Buffer.from(s, "latin1"));

  test("keyword lowercased, argument left-trimmed, trailing blanks kept", () => {
    expect(parse("LiSt   1 \r\n")).toEqual({ keyword: "list", argument: "1 ", emptyArgument: false });
    expect(parse("STAT\r\n")).toEqual({ keyword: "stat", argument: undefined, emptyArgument: false });
  });

  test("keyword followed only by blanks is an empty argument (Syntax error)", () => {
    expect(parse("STAT \r\n").emptyArgument).toBe(true);
    expect(parse("XYZ\t\r\n").emptyArgument).toBe(true);
  });

  test("PASS keeps the password's leading whitespace", () => {
    expect(parse("PASS  secret \r\n").argument).toBe(" secret ");
  });

  test("bare LF terminator, NUL ends the line, leading space gives an empty keyword", () => {
    expect(parse("NOOP\n")).toEqual({ keyword: "noop", argument: undefined, emptyArgument: false });
    expect(parse("NO\0OP x\r\n").keyword).toBe("no");
    expect(parse(" NOOP\r\n").keyword).toBe("");
    expect(parse("\n").keyword).toBe("");
  });
});
