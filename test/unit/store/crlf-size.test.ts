import { describe, expect, test } from "bun:test";
import { crlfSize, CrlfSizeCounter } from "../../../src/store/crlf-size.ts";

const bytes = (s: string) => Buffer.from(s, "latin1");

describe("crlfSize", () => {
  test("bare LF counts as CRLF", () => {
    expect(crlfSize(bytes("a\nbb\n"))).toBe(7);
  });

  test("CRLF counts as itself", () => {
    expect(crlfSize(bytes("a\r\nbb\r\n"))).toBe(7);
  });

  test("mixed endings, blank lines and a lone CR", () => {
    expect(crlfSize(bytes("a\r\n\nb\rc\n"))).toBe("a\r\n\r\nb\rc\r\n".length);
  });

  test("a last line without LF gets the CRLF the server appends", () => {
    expect(crlfSize(bytes("a\nb"))).toBe("a\r\nb\r\n".length);
    expect(crlfSize(bytes("a\r\nb\r"))).toBe("a\r\nb\r\r\n".length);
  });

  test("an empty message is empty on the wire", () => {
    expect(crlfSize(new Uint8Array(0))).toBe(0);
  });
});

describe("CrlfSizeCounter", () => {
  test("gives the whole-message answer whatever the chunking, including CR|LF split across chunks", () => {
    const message = bytes("Subject: x\r\n\r\nline\nmore\r\n.dot\r\nend\r");
    for (let size = 1; size <= message.length; size++) {
      const counter = new CrlfSizeCounter();
      for (let at = 0; at < message.length; at += size) counter.add(message.subarray(at, at + size));
      expect(counter.size).toBe(crlfSize(message));
    }
  });

  test("honours the length argument of a reused buffer", () => {
    const buffer = bytes("ab\ncd\n\n\n\n");
    const counter = new CrlfSizeCounter();
    counter.add(buffer, 3);
    expect(counter.size).toBe(4);
  });
});

describe("agreement with the RETR encoder", () => {
  test("LIST size equals the RETR octets before dot-stuffing", async () => {
    const { DotStuffer, stuffedCapacity } = await import("../../../src/pop3/dotstuff.ts");
    const messages = ["a\nb\n", "a\r\nb\r\n", "x\r\ny", "no newline", "\n\n\r\n", "cr\r\rlf\n", "a\r", ""];
    for (const text of messages) {
      const input = bytes(text);
      const stuffer = new DotStuffer();
      const out = Buffer.alloc(stuffedCapacity(input.length));
      const wire = stuffer.push(input, out) + stuffer.finish().length;
      expect({ text, size: crlfSize(input) }).toEqual({ text, size: wire });
    }
  });
});
