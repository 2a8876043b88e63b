import { describe, expect, test } from "bun:test";
import { EXTERNAL } from "../../../src/auth/sasl/external.ts";
import { ANONYMOUS } from "../../../src/auth/sasl/anonymous.ts";
import { bytes, makeContext, MemoryPassDb, run } from "./sasl-fixtures.ts";

const db = () => new MemoryPassDb({});

describe("EXTERNAL", () => {
  const ctx = (identity: string | undefined, admins: string[] = []) => ({ ...makeContext(db(), admins), externalIdentity: identity });

  test("an empty authzid logs in as the certificate identity, canonicalised", async () => {
    expect(await run(EXTERNAL, ctx("Alice"), "")).toEqual([{ type: "success", user: "alice", authcid: "alice" }]);
  });
  test("without an initial response the client gets an empty challenge, then sends the authzid", async () => {
    expect(await run(EXTERNAL, ctx("alice"), null, "")).toEqual([
      { type: "challenge", data: new Uint8Array(0) },
      { type: "success", user: "alice", authcid: "alice" },
    ]);
  });
  test("the same authzid is fine; another one needs admin rights", async () => {
    expect((await run(EXTERNAL, ctx("alice"), "alice"))[0]).toMatchObject({ type: "success", user: "alice" });
    expect((await run(EXTERNAL, ctx("alice"), "bob"))[0]).toMatchObject({ type: "failure", reason: "authentication failure", user: "bob" });
    expect((await run(EXTERNAL, ctx("alice", ["alice"]), "bob"))[0]).toEqual({ type: "success", user: "bob", authcid: "alice" });
  });
  test("no TLS identity: no mechanism", async () => {
    expect((await run(EXTERNAL, ctx(undefined), ""))[0]).toMatchObject({ type: "failure", reason: "no mechanism available" });
  });
  test("a certificate named anonymous needs allowanonymouslogin", async () => {
    expect((await run(EXTERNAL, ctx("anonymous"), ""))[0]).toMatchObject({ type: "failure", reason: "authorization failure" });
    const allowed = { ...ctx("anonymous"), allowAnonymous: true };
    expect((await run(EXTERNAL, allowed, ""))[0]).toMatchObject({ type: "success", user: "anonymous" });
  });
  test("an identity the canonicaliser refuses fails", async () => {
    expect((await run(EXTERNAL, ctx("bad/name"), ""))[0]).toMatchObject({ type: "failure", reason: "authentication failure" });
  });
  test("an oversized or non-UTF-8 authzid is a protocol error", async () => {
    const ex = EXTERNAL.start(ctx("alice"));
    expect(await ex.step(new Uint8Array(16385).fill(0x61))).toMatchObject({ reason: "bad protocol / cancel" });
    expect(await EXTERNAL.start(ctx("alice")).step(new Uint8Array([0xff]))).toMatchObject({ reason: "bad protocol / cancel" });
  });
});

describe("ANONYMOUS", () => {
  const logged: string[] = [];
  const ctx = (allow: boolean) => ({ ...makeContext(db()), allowAnonymous: allow, log: { notice: (m: string) => logged.push(m) } });

  test("logs the trace (cut to 255 bytes, control characters shown) and logs in as anonymous", async () => {
    logged.length = 0;
    const trace = `me@example.org\x01${"x".repeat(300)}`;
    expect(await run(ANONYMOUS, ctx(true), trace)).toEqual([{ type: "success", user: "anonymous", authcid: "anonymous" }]);
    expect(logged).toEqual([`ANONYMOUS login: "me@example.org^A${"x".repeat(255 - 15)}"`]);
  });
  test("empty challenge first when no initial response", async () => {
    const steps = await run(ANONYMOUS, ctx(true), null, "trace");
    expect(steps[0]).toEqual({ type: "challenge", data: new Uint8Array(0) });
    expect(steps[1]).toMatchObject({ type: "success", user: "anonymous" });
  });
  test("refused without allowanonymouslogin", async () => {
    expect((await run(ANONYMOUS, ctx(false), "x"))[0]).toMatchObject({ type: "failure", reason: "no mechanism available" });
    expect(bytes("x")).toHaveLength(1);
  });
});
