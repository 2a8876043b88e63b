import { describe, expect, test } from "bun:test";
import { md5 } from "@noble/hashes/legacy.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { DIGEST_MD5, DigestMd5Exchange } from "../../../src/auth/sasl/digest-md5.ts";
import { parseDirectives, quoted } from "../../../src/auth/sasl/digest-md5-directives.ts";
import { digestResponse, digestRspauth, foldTo8859_1, userSecret } from "../../../src/auth/sasl/digest-md5-hash.ts";
import type { SaslContext, SaslStep } from "../../../src/auth/sasl/mechanism.ts";
import { loginPolicyFromConfig } from "../../../src/auth/policy.ts";
import { bytes, makeContext, MemoryPassDb, text } from "./sasl-fixtures.ts";
import { fakeConfig } from "./config-fake.ts";

/** A client written straight from RFC 2831 section 2.1.2.1, independent of the server's helpers. */
function clientResponse(o: { user: string; realm: string; pw: string; nonce: string; cnonce: string; nc: string; uri: string; authzid?: string }, a2Prefix = "AUTHENTICATE"): string {
  const hex = (s: string | Uint8Array) => bytesToHex(md5(typeof s === "string" ? Buffer.from(s, "utf8") : s));
  const secret = md5(Buffer.from(`${o.user}:${o.realm}:${o.pw}`, "utf8"));
  const a1 = Buffer.concat([Buffer.from(secret), Buffer.from(`:${o.nonce}:${o.cnonce}${o.authzid !== undefined ? `:${o.authzid}` : ""}`)]);
  return hex(`${hex(a1)}:${o.nonce}:${o.nc}:${o.cnonce}:auth:${hex(`${a2Prefix}:${o.uri}`)}`);
}

describe("RFC 2831 section 4 examples", () => {
  test("IMAP example: response and rspauth", () => {
    const secret = userSecret("chris", "elwood.innosoft.com", "secret", true);
    const p = { nonce: "OA6MG9tEQGm2hh", cnonce: "OA6MHXh6VqTrRk", nc: "00000001", qop: "auth", digestUri: "imap/elwood.innosoft.com" };
    expect(digestResponse(secret, p)).toBe("d388dad90d4bbd760a152321f2143af7");
    expect(digestRspauth(secret, p)).toBe("ea40f60335c427b5527b84dbabcdfffd");
  });
  test("ACAP example: response and rspauth", () => {
    const secret = userSecret("chris", "elwood.innosoft.com", "secret", true);
    const p = { nonce: "OA9BSXrbuRhWay", cnonce: "OA9BSuZWMSpW8m", nc: "00000001", qop: "auth", digestUri: "acap/elwood.innosoft.com" };
    expect(digestResponse(secret, p)).toBe("6084c6db3fede7352c551284490fd0fc");
    expect(digestRspauth(secret, p)).toBe("2f0b3d7c3c2e486600ef710726aa2eae");
  });
});

describe("8859-1 folding (RFC 2831 section 2.1.2.1)", () => {
  test("two-byte sequences up to U+00FF become one byte; anything above stays UTF-8", () => {
    expect([...foldTo8859_1(Buffer.from("déjà", "utf8"))]).toEqual([...Buffer.from("déjà", "latin1")]);
    const euro = Buffer.from("5€", "utf8");
    expect(foldTo8859_1(euro)).toBe(euro);
    expect([...foldTo8859_1(Buffer.from("plain"))]).toEqual([...Buffer.from("plain")]);
  });
});

describe("directive lists", () => {
  test("tokens, quoted strings with escapes, blanks and empty elements", () => {
    const d = parseDirectives(' username="a\\"b" ,, realm=x , nc=00000001,qop=auth');
    expect(d).toEqual(new Map([["username", ['a"b']], ["realm", ["x"]], ["nc", ["00000001"]], ["qop", ["auth"]]]));
  });
  test("errors", () => {
    expect(parseDirectives('username="abc')).toHaveProperty("error");
    expect(parseDirectives("username")).toHaveProperty("error");
    expect(parseDirectives('username="a" junk')).toHaveProperty("error");
  });
  test("quoting", () => {
    expect(quoted('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});

const NONCE = "fixed+nonce/value==";
const users = () => new MemoryPassDb({ alice: "alice-pw", "bob@example.com": "bob-pw", "jörg": "pässword" });

function challengeOf(step: SaslStep): Map<string, string[]> {
  expect(step.type).toBe("challenge");
  const d = parseDirectives(Buffer.from((step as { data: Uint8Array }).data).toString("latin1"));
  if ("error" in d) throw new Error(d.error);
  return d;
}

function responseLine(fields: Record<string, string>): Uint8Array {
  const unquoted = new Set(["nc", "qop", "charset", "maxbuf"]);
  return bytes(Object.entries(fields).map(([k, v]) => `${k}=${unquoted.has(k) ? v : quoted(v)}`).join(","));
}

async function exchange(ctx: SaslContext, fields: (challenge: Map<string, string[]>) => Record<string, string>): Promise<SaslStep[]> {
  const ex = new DigestMd5Exchange(ctx, NONCE);
  const first = await ex.step(null);
  const steps = [first, await ex.step(responseLine(fields(challengeOf(first))))];
  if (steps[1]!.type === "challenge") steps.push(await ex.step(new Uint8Array(0)));
  return steps;
}

function goodFields(user = "alice", pw = "alice-pw", realm = "pop.example.com", extra: Record<string, string> = {}) {
  const base = { user, realm, pw, nonce: NONCE, cnonce: "c-nonce-1", nc: "00000001", uri: "pop/pop.example.com" };
  return {
    username: user,
    realm,
    nonce: NONCE,
    cnonce: base.cnonce,
    nc: base.nc,
    qop: "auth",
    "digest-uri": base.uri,
    response: clientResponse({ ...base, ...(extra.authzid !== undefined ? { authzid: extra.authzid } : {}) }),
    charset: "utf-8",
    ...extra,
  };
}

describe("DIGEST-MD5 exchange", () => {
  test("the challenge: nonce, our realm, qop auth only, maxbuf, utf-8, md5-sess", async () => {
    const ex = DIGEST_MD5.start(makeContext(users()));
    const first = await ex.step(null);
    const raw = text((first as { data: Uint8Array }).data);
    expect(raw).toMatch(/^nonce="[A-Za-z0-9+/=]{44}",realm="pop\.example\.com",qop="auth",maxbuf=4096,charset=utf-8,algorithm=md5-sess$/);
    expect(DIGEST_MD5.plaintext).toBe(false);
  });

  test("a right response gets rspauth as a final challenge, then success on the client's empty answer", async () => {
    const steps = await exchange(makeContext(users()), () => goodFields());
    const expectedRspauth = clientResponse({ user: "alice", realm: "pop.example.com", pw: "alice-pw", nonce: NONCE, cnonce: "c-nonce-1", nc: "00000001", uri: "pop/pop.example.com" }, "");
    expect(text((steps[1] as { data: Uint8Array }).data)).toBe(`rspauth=${expectedRspauth}`);
    expect(steps[2]).toEqual({ type: "success", user: "alice", authcid: "alice" });
  });

  test("an initial response is ignored and the exchange starts with the challenge", async () => {
    const ex = DIGEST_MD5.start(makeContext(users()));
    const first = await ex.step(bytes("username=\"alice\""));
    expect(challengeOf(first).get("qop")).toEqual(["auth"]);
  });

  test("a client realm other than ours makes the identity user@realm", async () => {
    const steps = await exchange(makeContext(users()), () => goodFields("bob", "bob-pw", "example.com"));
    // example.com is the default domain of the test canonicaliser, so user@example.com folds to bob
    expect(steps.at(-1)).toMatchObject({ type: "failure", reason: "authentication failure" });
    const db = new MemoryPassDb({ "bob@other.org": "bob-pw" });
    const ok = await exchange(makeContext(db), () => goodFields("bob", "bob-pw", "other.org"));
    expect(ok.at(-1)).toEqual({ type: "success", user: "bob@other.org", authcid: "bob@other.org" });
  });

  test("a missing realm hashes as the empty string", async () => {
    const fields = goodFields("alice", "alice-pw", "");
    delete (fields as Partial<typeof fields>).realm;
    const steps = await exchange(makeContext(users()), () => fields);
    expect(steps.at(-1)).toEqual({ type: "success", user: "alice", authcid: "alice" });
  });

  test("a non-ASCII password is hashed in 8859-1 as RFC 2831 asks, and also accepted as UTF-8", async () => {
    const db = new MemoryPassDb({ alice: "pässword" });
    const steps = await exchange(makeContext(db), () => {
      const f = goodFields("alice", "pässword");
      const latin1Secret = md5(Buffer.concat([Buffer.from("alice:pop.example.com:"), Buffer.from("pässword", "latin1")]));
      const hex = (s: string | Uint8Array) => bytesToHex(md5(typeof s === "string" ? Buffer.from(s) : s));
      const a1 = Buffer.concat([Buffer.from(latin1Secret), Buffer.from(`:${NONCE}:c-nonce-1`)]);
      return { ...f, response: hex(`${hex(a1)}:${NONCE}:00000001:c-nonce-1:auth:${hex("AUTHENTICATE:pop/pop.example.com")}`) };
    });
    expect(steps.at(-1)).toMatchObject({ type: "success", user: "alice" });
    const utf8Steps = await exchange(makeContext(db), () => goodFields("alice", "pässword"));
    expect(utf8Steps.at(-1)).toMatchObject({ type: "success", user: "alice" });
  });

  test("authzid: joins A1, and needs admin rights", async () => {
    const fields = () => goodFields("alice", "alice-pw", "pop.example.com", { authzid: "bob" });
    const refused = await exchange(makeContext(users()), fields);
    expect(refused.at(-1)).toMatchObject({ type: "failure", reason: "authentication failure", user: "bob" });
    const allowed = await exchange(makeContext(users(), ["alice"]), fields);
    expect(allowed.at(-1)).toEqual({ type: "success", user: "bob", authcid: "alice" });
  });

  test("loginrealms policy applies after the digest verified", async () => {
    const policy = loginPolicyFromConfig(fakeConfig({ virtdomains: "off", loginrealms: "" }));
    const db = new MemoryPassDb({ "bob@other.org": "bob-pw" });
    const ctx = { ...makeContext(db), policy, canonicalize: (raw: string) => ({ ok: true as const, user: raw }) };
    const steps = await exchange(ctx, () => goodFields("bob", "bob-pw", "other.org"));
    expect(steps.at(-1)).toMatchObject({ type: "failure", reason: "authentication failure", detail: "cross-realm login bob@other.org denied" });
  });

  test("wrong password and unknown user fail alike, after the response", async () => {
    for (const f of [goodFields("alice", "wrong"), goodFields("nobody", "alice-pw")]) {
      const steps = await exchange(makeContext(users()), () => f);
      expect(steps).toHaveLength(2);
      expect(steps[1]).toMatchObject({ type: "failure", reason: "authentication failure" });
    }
  });

  test("a changed nonce, a second nonce count or another service fail", async () => {
    const cases: Record<string, string>[] = [
      { ...goodFields(), nonce: "other" },
      { ...goodFields(), "digest-uri": "imap/pop.example.com" },
    ];
    for (const f of cases) {
      const steps = await exchange(makeContext(users()), () => f);
      expect(steps[1]).toMatchObject({ type: "failure", reason: "authentication failure" });
    }
    const base = { user: "alice", realm: "pop.example.com", pw: "alice-pw", nonce: NONCE, cnonce: "c-nonce-1", nc: "00000002", uri: "pop/pop.example.com" };
    const steps = await exchange(makeContext(users()), () => ({ ...goodFields(), nc: "00000002", response: clientResponse(base) }));
    expect(steps[1]).toMatchObject({ type: "failure", reason: "authentication failure", detail: "DIGEST-MD5: incorrect nonce-count" });
  });

  test("missing directives are authentication failures; duplicates and bad qop or charset are generic failures", async () => {
    for (const name of ["username", "nonce", "cnonce", "nc", "digest-uri", "response"]) {
      const f: Record<string, string> = { ...goodFields() };
      delete f[name];
      const steps = await exchange(makeContext(users()), () => f);
      expect(steps[1]).toMatchObject({ type: "failure", reason: "authentication failure" });
    }
    const ex = new DigestMd5Exchange(makeContext(users()), NONCE);
    await ex.step(null);
    expect(await ex.step(bytes('realm="a",realm="b"'))).toMatchObject({ reason: "generic failure", detail: "DIGEST-MD5: duplicate realm" });
    for (const extra of [{ qop: "auth-conf" }, { charset: "iso-8859-1" }]) {
      const steps = await exchange(makeContext(users()), () => ({ ...goodFields(), ...extra }));
      expect(steps[1]).toMatchObject({ type: "failure", reason: "generic failure" });
    }
  });

  test("an empty or oversized response", async () => {
    const ex = new DigestMd5Exchange(makeContext(users()), NONCE);
    await ex.step(null);
    expect(await ex.step(new Uint8Array(0))).toMatchObject({ reason: "authentication failure" });
    const big = new DigestMd5Exchange(makeContext(users()), NONCE);
    await big.step(null);
    expect(await big.step(new Uint8Array(4097).fill(0x61))).toMatchObject({ reason: "bad protocol / cancel" });
  });

  test("any answer to rspauth completes the login, as libsasl does", async () => {
    const ex = new DigestMd5Exchange(makeContext(users()), NONCE);
    const first = await ex.step(null);
    const second = await ex.step(responseLine(goodFields()));
    expect(second.type).toBe("challenge");
    expect(challengeOf(first).size).toBeGreaterThan(0);
    expect(await ex.step(bytes("whatever"))).toEqual({ type: "success", user: "alice", authcid: "alice" });
    expect(await ex.step(null)).toMatchObject({ type: "failure", reason: "bad protocol / cancel" });
  });
});
