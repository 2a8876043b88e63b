import { describe, expect, test } from "bun:test";
import { parseMessageNumber, parseTopArguments } from "../../../src/pop3/parser.ts";

describe("parseMessageNumber (pop3d.c:parse_msgno)", () => {
  test.each([
    ["1", { ok: true, value: 1 }],
    ["007", { ok: true, value: 7 }],
    ["4294967295", { ok: true, value: 4294967295 }],
    ["4294967296", { ok: false, error: "nan" }],
    ["-1", { ok: false, error: "nan" }],
    ["+1", { ok: false, error: "nan" }],
    ["abc", { ok: false, error: "nan" }],
    ["1 ", { ok: false, error: "extra" }],
    ["1 2", { ok: false, error: "extra" }],
    ["1x", { ok: false, error: "extra" }],
  ])("%p", (input, expected) => {
    expect(parseMessageNumber(input as string)).toEqual(expected as any);
  });
});

describe("parseTopArguments (pop3d.c:cmdloop TOP quirks)", () => {
  test.each([
    ["1 5", { ok: true, message: 1, lines: 5 }],
    ["1 0", { ok: true, message: 1, lines: 0 }],
    ["1 2147483648", { ok: true, message: 1, lines: -1 }],
    ["1 4294967295", { ok: true, message: 1, lines: -1 }],
    ["", { ok: false, error: "missing" }],
    ["1", { ok: false, error: "missing" }],
    ["x 1", { ok: false, error: "missing" }],
    ["1 ", { ok: false, error: "lines" }],
    ["1 -1", { ok: false, error: "lines" }],
    ["1 x", { ok: false, error: "lines" }],
    ["1x 2", { ok: false, error: "lines" }],
    ["1 2 3", { ok: false, error: "extra" }],
    ["1 2x", { ok: false, error: "extra" }],
  ])("%p", (input, expected) => {
    expect(parseTopArguments(input as string)).toEqual(expected as any);
  });
});
