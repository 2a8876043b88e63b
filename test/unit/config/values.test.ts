import { describe, expect, test } from "bun:test";
import {
  expandConfigDirectory,
  parseDuration,
  parseEnum,
  parseInteger,
  parseStringList,
  parseSwitch,
  type Parsed,
} from "../../../src/config/values.ts";

function value<T>(p: Parsed<T>): T {
  if (!p.ok) throw new Error(`unexpected failure: ${p.reason}`);
  return p.value;
}
function reason<T>(p: Parsed<T>): string {
  if (p.ok) throw new Error(`unexpected success: ${String(p.value)}`);
  return p.reason;
}

describe("switch (first character decides, case-sensitive)", () => {
  test.each(["1", "yes", "y", "true", "t", "on", "onwards", "1junk"])("%p is true", (text) => {
    expect(value(parseSwitch(text))).toBe(true);
  });
  test.each(["0", "no", "n", "false", "f", "off", "of", "0junk"])("%p is false", (text) => {
    expect(value(parseSwitch(text))).toBe(false);
  });
  test.each(["Yes", "TRUE", "ON", "o", "maybe", "2", "-1"])("%p is an error", (text) => {
    expect(reason(parseSwitch(text))).toContain(`invalid switch "${text}"`);
  });
});

describe("int (strtol base 0, whole value)", () => {
  test.each([
    ["0", 0],
    ["42", 42],
    ["-7", -7],
    ["+7", 7],
    ["0x10", 16],
    ["0XfF", 255],
    ["010", 8],
    ["-010", -8],
    ["00", 0],
    ["2147483647", 2147483647],
    ["-2147483648", -2147483648],
  ] as const)("%p is %p", (text, expected) => {
    expect(value(parseInteger(text))).toBe(expected);
  });
  test.each(["12abc", "0x", "08", "1.5", "1e3", " 5", "--1", "ten", "0x1g"])("%p is junk", (text) => {
    expect(reason(parseInteger(text))).toBe(`invalid integer "${text}"`);
  });
  test("values beyond int32 are rejected rather than wrapped", () => {
    expect(reason(parseInteger("2147483648"))).toContain("out of range");
    expect(reason(parseInteger("0x100000000"))).toContain("out of range");
  });
});

describe("enum", () => {
  const onOff = ["off", "userid", "on"] as const;
  test("exact values, case-sensitive", () => {
    expect(value(parseEnum("userid", onOff))).toBe("userid");
    expect(reason(parseEnum("UserID", onOff))).toBe('invalid value "UserID" (expected one of: off, userid, on)');
  });
  test.each(["1", "yes", "t", "true"])("%p means on", (text) => {
    expect(value(parseEnum(text, onOff))).toBe("on");
  });
  test.each(["0", "no", "f", "false"])("%p means off", (text) => {
    expect(value(parseEnum(text, onOff))).toBe("off");
  });
  test("synonyms are errors when the enum has no on/off", () => {
    expect(reason(parseEnum("yes", ["cyrus", "uidonly"]))).toContain('invalid value "yes"');
  });
  test("synonyms are spelled exactly: y and on-ish words do not count", () => {
    expect(reason(parseEnum("y", onOff))).toContain('invalid value "y"');
    expect(reason(parseEnum("True", onOff))).toContain('invalid value "True"');
  });
});

describe("stringlist", () => {
  test("accepts listed words only, with no on/off synonyms", () => {
    expect(value(parseStringList("unix", ["unix", "pts"]))).toBe("unix");
    expect(reason(parseStringList("1", ["unix", "pts"]))).toContain('invalid value "1"');
  });
});

describe("duration", () => {
  test.each([
    ["1h30m", "s", 5400],
    ["1d", "s", 86400],
    ["2d3h4m5s", "m", 2 * 86400 + 3 * 3600 + 4 * 60 + 5],
    ["90s", "m", 90],
    ["0", "m", 0],
    ["10", "m", 600],
    ["10", "s", 10],
    ["-1", "d", -86400],
    ["-1h", "m", -3600],
    ["1h30", "m", 5400],
    ["1h30", "s", 3630],
    ["30m30m", "s", 3600],
  ] as const)("%p with default unit %p is %p seconds", (text, unit, seconds) => {
    expect(value(parseDuration(text, unit))).toBe(seconds);
  });
  test.each([
    ["10x", "bad unit 'x'"],
    ["10M", "bad unit 'M'"],
    ["10 m", "bad unit ' '"],
    ["1h 30m", "no digit before ' '"],
    ["1.5h", "bad unit '.'"],
    ["h", "no digit before 'h'"],
    ["1hm", "no digit before 'm'"],
    ["-", "no digit after '-'"],
    ["-h", "no digit after '-'"],
    ["--1", "no digit after '-'"],
    ["99999999d", "too large"],
  ] as const)("%p is rejected: %p", (text, why) => {
    expect(reason(parseDuration(text, "m"))).toBe(`invalid duration ${JSON.stringify(text)} (${why})`);
  });
});

describe("{configdirectory}", () => {
  test("expands at the start, case-insensitively", () => {
    expect(expandConfigDirectory("{configdirectory}/proc", "/var/imap")).toBe("/var/imap/proc");
    expect(expandConfigDirectory("{ConfigDirectory}/x", "/var/imap")).toBe("/var/imap/x");
  });
  test("leaves the token alone anywhere else", () => {
    expect(expandConfigDirectory("/a/{configdirectory}", "/var/imap")).toBe("/a/{configdirectory}");
    expect(expandConfigDirectory("{configdir}/x", "/var/imap")).toBe("{configdir}/x");
  });
});
