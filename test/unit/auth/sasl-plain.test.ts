import { describe, expect, test } from "bun:test";
import { PassDbUnavailable } from "../../../src/auth/passdb/passdb.ts";
import { PLAIN } from "../../../src/auth/sasl/plain.ts";
import { bytes, makeContext, MemoryPassDb, run } from "./sasl-fixtures.ts";

const users = () => new MemoryPassDb({ alice: "alice-pw", admin: "admin-pw", "bob@example.org": "bob-pw" });

describe("PLAIN", () => {
  test("is a plaintext mechanism named PLAIN", () => {
    expect(PLAIN.name).toBe("PLAIN");
    expect(PLAIN.plaintext).toBe(true);
  });

  test("initial response without authzid (the transcript's AGFsaWNlAGFsaWNlLXB3)", async () => {
    const ir = Buffer.from("AGFsaWNlAGFsaWNlLXB3", "base64").toString("latin1");
    const [step] = await run(PLAIN, makeContext(users()), ir);
    expect(step).toEqual({ type: "success", user: "alice", authcid: "alice" });
  });

  test("without initial response: an empty challenge, then the message", async () => {
    const steps = await run(PLAIN, makeContext(users()), null, "\0alice\0alice-pw");
    expect(steps[0]!.type).toBe("challenge");
    expect(steps[0]!.type === "challenge" && steps[0]!.data.length).toBe(0);
    expect(steps[1]).toEqual({ type: "success", user: "alice", authcid: "alice" });
  });

  test("wrong password is an authentication failure", async () => {
    const [step] = await run(PLAIN, makeContext(users()), "\0alice\0wrong-alice-pw");
    expect(step).toMatchObject({ type: "failure", reason: "authentication failure", user: "alice" });
  });

  test("unknown user is the same authentication failure", async () => {
    const [step] = await run(PLAIN, makeContext(users()), "\0mallory\0x");
    expect(step).toMatchObject({ type: "failure", reason: "authentication failure" });
  });

  test("identities are canonicalised before the password check", async () => {
    const db = users();
    const [step] = await run(PLAIN, makeContext(db), "\0ALICE@Example.COM\0alice-pw");
    expect(step).toEqual({ type: "success", user: "alice", authcid: "alice" });
    expect(db.checked).toEqual([{ user: "alice", password: "alice-pw" }]);
  });

  test("a +subfolder on the authcid is carried when there is no authzid", async () => {
    const [step] = await run(PLAIN, makeContext(users()), "\0bob+Lists@example.org\0bob-pw");
    expect(step).toEqual({ type: "success", user: "bob@example.org", subfolder: "Lists", authcid: "bob@example.org" });
  });

  test("authzid equal to authcid needs no proxy right", async () => {
    const ctx = makeContext(users());
    const [step] = await run(PLAIN, ctx, "alice\0alice\0alice-pw");
    expect(step).toEqual({ type: "success", user: "alice", authcid: "alice" });
    expect(ctx.proxyQueries).toEqual([]);
  });

  test("authzid naming the user's own subfolder needs no proxy right", async () => {
    const ctx = makeContext(users());
    const [step] = await run(PLAIN, ctx, "alice+Sent\0alice\0alice-pw");
    expect(step).toEqual({ type: "success", user: "alice", subfolder: "Sent", authcid: "alice" });
    expect(ctx.proxyQueries).toEqual([]);
  });

  test("a different authzid is allowed when the policy allows it", async () => {
    const ctx = makeContext(users(), ["admin"]);
    const [step] = await run(PLAIN, ctx, "Bob@example.org\0admin\0admin-pw");
    expect(step).toEqual({ type: "success", user: "bob@example.org", authcid: "admin" });
    expect(ctx.proxyQueries).toEqual([["admin", "bob@example.org"]]);
  });

  test("a different authzid is refused when the policy refuses it", async () => {
    const ctx = makeContext(users(), ["admin"]);
    const [step] = await run(PLAIN, ctx, "admin\0alice\0alice-pw");
    expect(step).toMatchObject({ type: "failure", reason: "authentication failure", user: "admin" });
    expect(ctx.proxyQueries).toEqual([["alice", "admin"]]);
  });

  test("the proxy policy is not consulted when the password is wrong", async () => {
    const ctx = makeContext(users(), ["admin"]);
    const [step] = await run(PLAIN, ctx, "bob@example.org\0admin\0nope");
    expect(step).toMatchObject({ type: "failure", reason: "authentication failure" });
    expect(ctx.proxyQueries).toEqual([]);
  });

  test("an invalid user name fails authentication without a password check", async () => {
    const db = users();
    const [step] = await run(PLAIN, makeContext(db), "\0al/ice\0alice-pw");
    expect(step).toMatchObject({ type: "failure", reason: "authentication failure" });
    expect(db.checked).toEqual([]);
    const [z] = await run(PLAIN, makeContext(db), "a*b\0alice\0alice-pw");
    expect(z).toMatchObject({ type: "failure", reason: "authentication failure" });
  });

  describe("malformed messages are 'bad protocol / cancel'", () => {
    const cases: [string, string][] = [
      ["empty initial response (AUTH PLAIN =)", ""],
      ["no NUL", "alice"],
      ["one NUL", "\0alice"],
      ["three NULs", "\0alice\0pw\0"],
      ["empty authcid", "\0\0alice-pw"],
      ["empty password", "\0alice\0"],
    ];
    for (const [name, msg] of cases) {
      test(name, async () => {
        const [step] = await run(PLAIN, makeContext(users()), msg);
        expect(step).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
      });
    }
    test("invalid UTF-8", async () => {
      const ex = PLAIN.start(makeContext(users()));
      const step = await ex.step(new Uint8Array([0, 0x61, 0, 0xff, 0xfe]));
      expect(step).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
    });
    test("an empty continuation line", async () => {
      const steps = await run(PLAIN, makeContext(users()), null, "");
      expect(steps[1]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
    });
  });

  test("UTF-8 passwords are passed through", async () => {
    const db = new MemoryPassDb({ alice: "pässwörd" });
    const ex = PLAIN.start(makeContext(db));
    expect(await ex.step(bytes("\0alice\0pässwörd"))).toMatchObject({ type: "success", user: "alice" });
  });

  test("a step after the end is a protocol error", async () => {
    const ex = PLAIN.start(makeContext(users()));
    await ex.step(bytes("\0alice\0alice-pw"));
    expect(await ex.step(bytes("\0alice\0alice-pw"))).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });

  test("an unavailable backend propagates PassDbUnavailable", async () => {
    const db = users();
    db.down = true;
    await expect(run(PLAIN, makeContext(db), "\0alice\0alice-pw")).rejects.toBeInstanceOf(PassDbUnavailable);
  });
});
