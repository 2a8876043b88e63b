import { describe, expect, test } from "bun:test";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import type { CHash } from "@noble/hashes/utils.js";
import { ScramExchange, type ScramFixed } from "../../../src/auth/sasl/scram.ts";
import { SCRAM_SHA_1, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, SCRAM_SHA_512 } from "../../../src/auth/sasl/scram-sha.ts";
import { decodeSaslname, encodeSaslname, parseClientFinal, parseClientFirst } from "../../../src/auth/sasl/scram-messages.ts";
import { SCRAM_HASHES, deriveScramCredentials } from "../../../src/auth/passdb/scram-keys.ts";
import type { PasswordDb } from "../../../src/auth/passdb/passdb.ts";
import type { SaslContext, SaslMechanism, SaslStep } from "../../../src/auth/sasl/mechanism.ts";
import type { ChannelBinding } from "../../../src/auth/sasl/tls-properties.ts";
import { bytes, makeContext, MemoryPassDb, text } from "./sasl-fixtures.ts";

const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const dataOf = (s: SaslStep) => {
  expect(s.type).toBe("challenge");
  return text((s as { data: Uint8Array }).data);
};

describe("RFC test vectors", () => {
  test("RFC 5802 section 5: SCRAM-SHA-1", async () => {
    const fixed: ScramFixed = { serverNonce: "3rfcNHYJY1ZVvWVs7j", salt: b64("QSXCR+Q6sek8bf92"), iterations: 4096 };
    const ex = new ScramExchange(makeContext(new MemoryPassDb({ user: "pencil" })), { name: "SCRAM-SHA-1", hash: SCRAM_HASHES["SHA-1"], plus: false }, fixed);
    expect(dataOf(await ex.step(bytes("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")))).toBe(
      "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    );
    const final = await ex.step(bytes("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
    expect(dataOf(final)).toBe("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    expect(await ex.step(new Uint8Array(0))).toEqual({ type: "success", user: "user", authcid: "user" });
  });

  test("RFC 7677 section 3: SCRAM-SHA-256", async () => {
    const fixed: ScramFixed = { serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", salt: b64("W22ZaJ0SNY7soEsUEjb6gQ=="), iterations: 4096 };
    const ex = new ScramExchange(makeContext(new MemoryPassDb({ user: "pencil" })), { name: "SCRAM-SHA-256", hash: SCRAM_HASHES["SHA-256"], plus: false }, fixed);
    expect(dataOf(await ex.step(bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")))).toBe(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    );
    const final = await ex.step(bytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
    expect(dataOf(final)).toBe("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    expect(await ex.step(new Uint8Array(0))).toEqual({ type: "success", user: "user", authcid: "user" });
  });

  test("the same vectors from stored keys (a passwd-file {SCRAM-SHA-256} entry)", async () => {
    const keys = await deriveScramCredentials(SCRAM_HASHES["SHA-256"], "pencil", b64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
    const db: PasswordDb = {
      checkPassword: async () => false,
      plaintextSecret: async () => undefined,
      scramCredentials: async (user, hash) => (user === "user" && hash === "SHA-256" ? keys : undefined),
    };
    const fixed: ScramFixed = { serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", salt: new Uint8Array(0), iterations: 1 };
    const ex = new ScramExchange(makeContext(db), { name: "SCRAM-SHA-256", hash: SCRAM_HASHES["SHA-256"], plus: false }, fixed);
    // stored keys bring their own salt and iteration count
    expect(dataOf(await ex.step(bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")))).toBe(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    );
    const final = await ex.step(bytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
    expect(dataOf(final)).toBe("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });
});

/** A SCRAM client written from RFC 5802 section 3, independent of the server code. */
async function clientRun(
  mech: SaslMechanism,
  ctx: SaslContext,
  o: { user: string; pw: string; authzid?: string; gs2?: string; cbData?: Uint8Array; tamper?: (final: string) => string },
): Promise<{ steps: SaslStep[]; serverSignatureOk: boolean }> {
  const hash: CHash = mech.name.includes("SHA-512") ? sha512 : mech.name.includes("SHA-256") ? sha256 : sha1;
  const gs2 = o.gs2 ?? `n,${o.authzid ? `a=${encodeSaslname(o.authzid)}` : ""},`;
  const bare = `n=${encodeSaslname(o.user)},r=clientnonce123`;
  const ex = mech.start(ctx);
  const steps: SaslStep[] = [await ex.step(bytes(gs2 + bare))];
  if (steps[0]!.type !== "challenge") return { steps, serverSignatureOk: false };
  const serverFirst = dataOf(steps[0]!);
  const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
  const salted = pbkdf2(hash, o.pw, b64(attrs.s!), { c: Number(attrs.i), dkLen: hash.outputLen });
  const clientKey = hmac(hash, salted, bytes("Client Key"));
  const storedKey = hash(clientKey);
  const cbInput = Buffer.concat([Buffer.from(gs2), Buffer.from(o.cbData ?? new Uint8Array(0))]).toString("base64");
  const withoutProof = `c=${cbInput},r=${attrs.r}`;
  const authMessage = bytes(`${bare},${serverFirst},${withoutProof}`);
  const signature = hmac(hash, storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString("base64");
  let final = `${withoutProof},p=${proof}`;
  if (o.tamper) final = o.tamper(final);
  steps.push(await ex.step(bytes(final)));
  let serverSignatureOk = false;
  if (steps[1]!.type === "challenge") {
    const expected = Buffer.from(hmac(hash, hmac(hash, salted, bytes("Server Key")), authMessage)).toString("base64");
    serverSignatureOk = dataOf(steps[1]!) === `v=${expected}`;
    steps.push(await ex.step(new Uint8Array(0)));
  }
  return { steps, serverSignatureOk };
}

const users = () => new MemoryPassDb({ alice: "alice-pw", "a,b=c": "odd-pw" });

describe("SCRAM exchanges", () => {
  for (const mech of [SCRAM_SHA_1, SCRAM_SHA_256, SCRAM_SHA_512]) {
    test(`${mech.name}: a right password succeeds and the server proves itself`, async () => {
      const { steps, serverSignatureOk } = await clientRun(mech, makeContext(users()), { user: "alice", pw: "alice-pw" });
      expect(serverSignatureOk).toBe(true);
      expect(steps.at(-1)).toEqual({ type: "success", user: "alice", authcid: "alice" });
    });
  }

  test("without an initial response the client is invited by an empty challenge", async () => {
    const ex = SCRAM_SHA_256.start(makeContext(users()));
    expect(await ex.step(null)).toEqual({ type: "challenge", data: new Uint8Array(0) });
    expect(dataOf(await ex.step(bytes("n,,n=alice,r=abc")))).toMatch(/^r=abc[A-Za-z0-9+/]{32},s=[A-Za-z0-9+/=]+,i=4096$/);
  });

  test("the salt of a user is stable within the process and differs between users", async () => {
    const first = async (user: string) => dataOf(await SCRAM_SHA_256.start(makeContext(users())).step(bytes(`n,,n=${user},r=x`))).split(",")[1];
    expect(await first("alice")).toBe((await first("alice"))!);
    expect(await first("alice")).not.toBe((await first("nobody"))!);
  });

  test("an unknown user gets a normal-looking challenge and fails only at the proof", async () => {
    const { steps } = await clientRun(SCRAM_SHA_256, makeContext(users()), { user: "nobody", pw: "alice-pw" });
    expect(steps[0]!.type).toBe("challenge");
    expect(steps[1]).toMatchObject({ type: "failure", reason: "authentication failure" });
  });

  test("a wrong password fails with authentication failure", async () => {
    const { steps } = await clientRun(SCRAM_SHA_256, makeContext(users()), { user: "alice", pw: "wrong" });
    expect(steps[1]).toMatchObject({ type: "failure", reason: "authentication failure", detail: "SCRAM-SHA-256: StoredKey mismatch" });
  });

  test("saslnames with , and = are decoded", async () => {
    const { steps } = await clientRun(SCRAM_SHA_1, { ...makeContext(users()), canonicalize: (raw) => ({ ok: true, user: raw }) }, { user: "a,b=c", pw: "odd-pw" });
    expect(steps.at(-1)).toMatchObject({ type: "success", user: "a,b=c" });
  });

  test("authzid needs admin rights", async () => {
    const refused = await clientRun(SCRAM_SHA_256, makeContext(users()), { user: "alice", pw: "alice-pw", authzid: "bob" });
    expect(refused.steps[1]).toMatchObject({ type: "failure", reason: "authentication failure", user: "bob" });
    const allowed = await clientRun(SCRAM_SHA_256, makeContext(users(), ["alice"]), { user: "alice", pw: "alice-pw", authzid: "bob" });
    expect(allowed.steps.at(-1)).toEqual({ type: "success", user: "bob", authcid: "alice" });
  });

  test("a tampered nonce, proof or c= is a protocol error", async () => {
    for (const tamper of [
      (f: string) => f.replace(",r=clientnonce123", ",r=clientnonce999"),
      (f: string) => f.replace(/p=.*/, "p=AAAA"),
      (f: string) => f.replace("c=biws", "c=eSws"),
    ]) {
      const { steps } = await clientRun(SCRAM_SHA_256, makeContext(users()), { user: "alice", pw: "alice-pw", tamper });
      expect(steps[1]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
    }
  });

  test("malformed client-first messages are protocol errors", async () => {
    for (const msg of ["x,,n=alice,r=a", "n,,m=ext,n=alice,r=a", "n,,n=alice", "n,,r=a", "n,b,n=alice,r=a", "n,,n=al=ZZice,r=a", "n,,n=alice,r="]) {
      const ex = SCRAM_SHA_256.start(makeContext(users()));
      expect(await ex.step(bytes(msg))).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
    }
  });
});

describe("channel binding", () => {
  const unique: ChannelBinding = { type: "tls-unique", data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };
  const withBinding = () => ({ ...makeContext(users()), channelBindings: [unique] });

  test("-PLUS with the right tls-unique data succeeds", async () => {
    const { steps, serverSignatureOk } = await clientRun(SCRAM_SHA_256_PLUS, withBinding(), {
      user: "alice",
      pw: "alice-pw",
      gs2: "p=tls-unique,,",
      cbData: unique.data,
    });
    expect(serverSignatureOk).toBe(true);
    expect(steps.at(-1)).toEqual({ type: "success", user: "alice", authcid: "alice" });
    expect(SCRAM_SHA_256_PLUS.channelBinding).toBe(true);
  });

  test("-PLUS with other data, another binding type, or without p= fails", async () => {
    const wrongData = await clientRun(SCRAM_SHA_256_PLUS, withBinding(), { user: "alice", pw: "alice-pw", gs2: "p=tls-unique,,", cbData: new Uint8Array(12) });
    expect(wrongData.steps[1]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
    // like libsasl, an unavailable binding type is refused at the client's final message
    const wrongType = await clientRun(SCRAM_SHA_256_PLUS, withBinding(), { user: "alice", pw: "alice-pw", gs2: "p=tls-exporter,,", cbData: unique.data });
    expect(wrongType.steps[0]!.type).toBe("challenge");
    expect(wrongType.steps[1]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
    const noBinding = await clientRun(SCRAM_SHA_256_PLUS, withBinding(), { user: "alice", pw: "alice-pw" });
    expect(noBinding.steps[0]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });

  test("p= is honoured whatever the mechanism name, as libsasl does; without binding data it fails at the end", async () => {
    const bound = await clientRun(SCRAM_SHA_256, withBinding(), { user: "alice", pw: "alice-pw", gs2: "p=tls-unique,,", cbData: unique.data });
    expect(bound.steps.at(-1)).toMatchObject({ type: "success", user: "alice" });
    const unbound = await clientRun(SCRAM_SHA_256, makeContext(users()), { user: "alice", pw: "alice-pw", gs2: "p=tls-unique,,", cbData: unique.data });
    expect(unbound.steps[0]!.type).toBe("challenge");
    expect(unbound.steps[1]).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });

  test('"y" (client thinks we cannot bind) fails when we can: a downgrade', async () => {
    const downgraded = await clientRun(SCRAM_SHA_256, withBinding(), { user: "alice", pw: "alice-pw", gs2: "y,," });
    expect(downgraded.steps[1]).toMatchObject({ type: "failure", reason: "authentication failure" });
    const plain = await clientRun(SCRAM_SHA_256, makeContext(users()), { user: "alice", pw: "alice-pw", gs2: "y,," });
    expect(plain.steps.at(-1)).toMatchObject({ type: "success", user: "alice" });
  });
});

describe("SCRAM message parsing", () => {
  test("saslname coding", () => {
    expect(decodeSaslname("a=2Cb=3Dc")).toBe("a,b=c");
    expect(decodeSaslname("a=2")).toBeUndefined();
    expect(encodeSaslname("a,b=c")).toBe("a=2Cb=3Dc");
  });
  test("client-first with authzid and extensions", () => {
    expect(parseClientFirst("p=tls-exporter,a=bob,n=alice,r=xyz,ext=1")).toEqual({
      cbFlag: "p",
      cbName: "tls-exporter",
      authzid: "bob",
      username: "alice",
      clientNonce: "xyz",
      gs2Header: "p=tls-exporter,a=bob,",
      bare: "n=alice,r=xyz,ext=1",
    });
  });
  test("client-final with an extension before the proof", () => {
    const f = parseClientFinal("c=biws,r=abc,x=1,p=AAAA");
    expect(f).toMatchObject({ nonce: "abc", withoutProof: "c=biws,r=abc,x=1" });
    expect(parseClientFinal("c=biws,p=AAAA,r=abc")).toHaveProperty("error");
  });
});
