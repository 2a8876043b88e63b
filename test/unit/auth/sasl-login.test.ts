import { describe, expect, test } from "bun:test";
import { PassDbUnavailable } from "../../../src/auth/passdb/passdb.ts";
import { LOGIN } from "../../../src/auth/sasl/login.ts";
import { makeContext, MemoryPassDb, run, text } from "./sasl-fixtures.ts";

const users = () => new MemoryPassDb({ alice: "alice-pw" });

function challengeText(step: unknown): string {
  const s = step as { type: string; data: Uint8Array };
  expect(s.type).toBe("challenge");
  return text(s.data);
}

describe("LOGIN", () => {
  test("is a plaintext mechanism", () => {
    expect(LOGIN.name).toBe("LOGIN");
    expect(LOGIN.plaintext).toBe(true);
  });

  test("the transcript's exchange: Username:, Password:, success", async () => {
    const steps = await run(LOGIN, makeContext(users()), null, "alice", "alice-pw");
    expect(challengeText(steps[0])).toBe("Username:");
    expect(challengeText(steps[1])).toBe("Password:");
    expect(steps[2]).toEqual({ type: "success", user: "alice", authcid: "alice" });
  });

  test("an initial response is the user name", async () => {
    const steps = await run(LOGIN, makeContext(users()), "Alice", "alice-pw");
    expect(challengeText(steps[0])).toBe("Password:");
    expect(steps[1]).toEqual({ type: "success", user: "alice", authcid: "alice" });
  });

  test("an empty initial response asks for the user name", async () => {
    const steps = await run(LOGIN, makeContext(users()), "", "alice", "alice-pw");
    expect(challengeText(steps[0])).toBe("Username:");
    expect(steps[2]).toMatchObject({ type: "success" });
  });

  test("wrong password and unknown user are authentication failures", async () => {
    const wrong = await run(LOGIN, makeContext(users()), null, "alice", "nope");
    expect(wrong[2]).toMatchObject({ type: "failure", reason: "authentication failure" });
    const unknown = await run(LOGIN, makeContext(users()), null, "zed", "alice-pw");
    expect(unknown[2]).toMatchObject({ type: "failure", reason: "authentication failure" });
  });

  test("an invalid user name fails authentication", async () => {
    const steps = await run(LOGIN, makeContext(users()), null, "a:b", "x");
    expect(steps[2]).toMatchObject({ type: "failure", reason: "authentication failure" });
  });

  test("a user name over 1024 bytes is a protocol error", async () => {
    const steps = await run(LOGIN, makeContext(users()), null, "a".repeat(1025));
    expect(steps[1]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });

  test("a step after the end is a protocol error", async () => {
    const steps = await run(LOGIN, makeContext(users()), null, "alice", "alice-pw", "more");
    expect(steps[3]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });

  test("an unavailable backend propagates", async () => {
    const db = users();
    db.down = true;
    await expect(run(LOGIN, makeContext(db), "alice", "alice-pw")).rejects.toBeInstanceOf(PassDbUnavailable);
  });
});
