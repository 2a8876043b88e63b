import { describe, expect, test } from "bun:test";
import { DotStuffer, stuffedCapacity } from "../../../src/pop3/dotstuff.ts";

function encode(input: Buffer, chunk: number, lines = -1): string {
  const stuffer = new DotStuffer(lines);
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length && !stuffer.done; i += chunk) {
    const piece = input.subarray(i, i + chunk);
    const out = Buffer.alloc(stuffedCapacity(piece.length));
    parts.push(out.subarray(0, stuffer.push(piece, out)));
  }
  return Buffer.concat(parts).toString("latin1") + stuffer.finish();
}

const message = Buffer.from(
  "Subject: x\nFrom: y\r\n\n.dot\n..two\r\n.\r\nbody\rcr\n\n\nlast",
  "latin1",
);

describe("DotStuffer", () => {
  test("normalises LF to CRLF, stuffs leading dots, adds the missing final CRLF", () => {
    expect(encode(message, message.length)).toBe(
      "Subject: x\r\nFrom: y\r\n\r\n..dot\r\n...two\r\n..\r\nbody\rcr\r\n\r\n\r\nlast\r\n",
    );
  });

  test("is independent of chunking (1..64 bytes)", () => {
    const whole = encode(message, message.length);
    for (let c = 1; c <= 64; c++) expect(encode(message, c)).toBe(whole);
    const whole5 = encode(message, message.length, 1);
    for (let c = 1; c <= 64; c++) expect(encode(message, c, 1)).toBe(whole5);
  });

  test("TOP n 0 sends the headers and the blank line only", () => {
    expect(encode(message, 7, 0)).toBe("Subject: x\r\nFrom: y\r\n\r\n");
  });

  test("TOP counts body lines after the first blank line", () => {
    expect(encode(message, 3, 2)).toBe("Subject: x\r\nFrom: y\r\n\r\n..dot\r\n...two\r\n");
  });

  test("TOP of a message without a body sends it all, with the final CRLF", () => {
    expect(encode(Buffer.from("A: b\nC: d"), 2, 5)).toBe("A: b\r\nC: d\r\n");
  });

  test("a CRLF message passes through unchanged apart from stuffing", () => {
    const crlf = Buffer.from("A: b\r\n\r\n.x\r\ny\r\n");
    expect(encode(crlf, 1)).toBe("A: b\r\n\r\n..x\r\ny\r\n");
  });
});
