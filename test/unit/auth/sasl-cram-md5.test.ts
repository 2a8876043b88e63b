import { describe, expect, test } from "bun:test";
import { CRAM_MD5, cramDigest, makeCramChallenge } from "../../../src/auth/sasl/cram-md5.ts";
import type { SaslStep } from "../../../src/auth/sasl/mechanism.ts";
import { bytes, makeContext, MemoryPassDb, text } from "./sasl-fixtures.ts";

const users = () => new MemoryPassDb({ alice: "alice-pw", tim: "tanstaaftanstaaf" });

async function exchange(db: MemoryPassDb, answer: (challenge: string) => string): Promise<[SaslStep, SaslStep]> {
  const ex = CRAM_MD5.start(makeContext(db));
  const first = await ex.step(null);
  expect(first.type).toBe("challenge");
  const challenge = text((first as { data: Uint8Array }).data);
  return [first, await ex.step(bytes(answer(challenge)))];
}

describe("CRAM-MD5", () => {
  test("RFC 2195 example digest", () => {
    expect(cramDigest("tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>")).toBe(
      "b913a602c7eda7a495b4e6e7334d3890",
    );
  });

  test("the Cyrus transcript's exchange", () => {
    expect(cramDigest("alice-pw", "<3891246733.754196@localhost>")).toBe("d879bd3e92b99f9a6ae0cef22a967cef");
  });

  test("challenge shape", () => {
    expect(makeCramChallenge("pop.example.com")).toMatch(/^<\d+\.\d+@pop\.example\.com>$/);
    expect(CRAM_MD5.plaintext).toBe(false);
  });

  test("right digest succeeds", async () => {
    const [, last] = await exchange(users(), (c) => `tim ${cramDigest("tanstaaftanstaaf", c)}`);
    expect(last).toEqual({ type: "success", user: "tim", authcid: "tim" });
  });

  test("the user name is canonicalised and may carry a subfolder", async () => {
    const [, last] = await exchange(users(), (c) => `Alice+Lists@example.com ${cramDigest("alice-pw", c)}`);
    expect(last).toEqual({ type: "success", user: "alice", subfolder: "Lists", authcid: "alice" });
  });

  test("wrong digest, wrong case and unknown user are authentication failures", async () => {
    for (const answer of [
      (c: string) => `tim ${cramDigest("wrong", c)}`,
      (c: string) => `tim ${cramDigest("tanstaaftanstaaf", c).toUpperCase()}`,
      (c: string) => `nobody ${cramDigest("tanstaaftanstaaf", c)}`,
    ]) {
      const [, last] = await exchange(users(), answer);
      expect(last).toMatchObject({ type: "failure", reason: "authentication failure" });
    }
  });

  test("a response without a space is a protocol error", async () => {
    const [, last] = await exchange(users(), () => "b913a602c7eda7a495b4e6e7334d3890");
    expect(last).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });

  test("an initial response is refused", async () => {
    const ex = CRAM_MD5.start(makeContext(users()));
    expect(await ex.step(bytes("tim x"))).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });
});
