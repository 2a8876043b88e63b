import { describe, expect, test } from "bun:test";
import { apopDigest, apopDigestMatches, makeApopChallenge, parseApopArgument } from "../../../src/auth/apop.ts";

const RFC1939_CHALLENGE = "<1896.697170952@dbc.mtview.ca.us>";
const RFC1939_DIGEST = "c4c9334bac560ecc979e58001b3e22fb";
const HEX32 = "0123456789abcdef0123456789abcdef";

describe("apopDigest", () => {
  test("RFC 1939 section 7 example", () => {
    expect(apopDigest(RFC1939_CHALLENGE, "tanstaaf")).toBe(RFC1939_DIGEST);
  });
  test("apopDigestMatches accepts the right digest only", () => {
    expect(apopDigestMatches(RFC1939_CHALLENGE, "tanstaaf", RFC1939_DIGEST)).toBe(true);
    expect(apopDigestMatches(RFC1939_CHALLENGE, "tanstaaF", RFC1939_DIGEST)).toBe(false);
  });
});

describe("makeApopChallenge (pop3d.c:service_main)", () => {
  test("shape <RAND.TIME@servername>", () => {
    const c = makeApopChallenge("mail.example.com");
    const m = /^<(\d{1,20})\.(\d+)@mail\.example\.com>$/.exec(c);
    expect(m).not.toBeNull();
    expect(BigInt(m![1]!) < 2n ** 64n).toBe(true);
    expect(Math.abs(Number(m![2]) - Date.now() / 1000)).toBeLessThan(120);
  });
  test("two challenges differ", () => {
    expect(makeApopChallenge("h")).not.toBe(makeApopChallenge("h"));
  });
});

describe("parseApopArgument (pop3d.c:cmd_apop)", () => {
  test("plain user and digest", () => {
    expect(parseApopArgument(`mrose ${RFC1939_DIGEST}`)).toEqual({ ok: true, user: "mrose", digest: RFC1939_DIGEST });
  });
  test("splits at the last space so the user may contain spaces", () => {
    expect(parseApopArgument(`john  smith ${HEX32}`)).toEqual({ ok: true, user: "john  smith", digest: HEX32 });
  });
  test("uppercase hex is rejected", () => {
    expect(parseApopArgument(`u ${HEX32.toUpperCase()}`)).toEqual({ ok: false });
    expect(parseApopArgument(`u ${HEX32.slice(0, 31)}A`)).toEqual({ ok: false });
  });
  test("33 hex digits are rejected, 31 too", () => {
    expect(parseApopArgument(`u ${HEX32}0`)).toEqual({ ok: false });
    expect(parseApopArgument(`u ${HEX32.slice(1)}`)).toEqual({ ok: false });
  });
  test("32 hex digits followed by non-hex junk are accepted", () => {
    expect(parseApopArgument(`u ${HEX32}xyz`)).toEqual({ ok: true, user: "u", digest: HEX32 });
    expect(parseApopArgument(`u ${HEX32}G0`)).toEqual({ ok: true, user: "u", digest: HEX32 });
  });
  test("no space at all is rejected", () => {
    expect(parseApopArgument(HEX32)).toEqual({ ok: false });
  });
  test("a trailing space leaves an empty digest", () => {
    expect(parseApopArgument(`u ${HEX32} `)).toEqual({ ok: false });
  });
});
