/**
 * The mechanisms added for Cyrus SASL parity, on the wire of the compiled binary: DIGEST-MD5 and SCRAM
 * exchanges with their error strings (pop3d.c:cmd_auth), ANONYMOUS, EXTERNAL without TLS, sasl_mech_list,
 * sasl_minimum_layer and loginrealms.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { md5 } from "@noble/hashes/legacy.js";
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { PopClient, cleanupAll, makeFixture, startServer, type RunningServer } from "../../support/harness.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);
afterAll(cleanupAll);

const READY = /^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/;
const AUTH_FAILURE = "-ERR [AUTH] authenticating: authentication failure";
const b64 = (s: string | Uint8Array) => Buffer.from(s).toString("base64");
const unb64 = (line: string) => Buffer.from(line.slice(2), "base64").toString("latin1");

const servers = new Map<string, Promise<RunningServer>>();
/** One server per distinct config, started on first use. */
function serverWith(config: Record<string, string> = {}, users: Record<string, string> = { alice: "alice-pw" }): Promise<RunningServer> {
  const key = JSON.stringify([config, users]);
  if (!servers.has(key)) servers.set(key, startServer(makeFixture({ users, anchorMessagesFor: Object.keys(users), config })));
  return servers.get(key)!;
}

async function session(config?: Record<string, string>, users?: Record<string, string>): Promise<PopClient> {
  return PopClient.connect((await serverWith(config, users)).port);
}

/** Sends one line and returns the server's reply line. */
async function say(c: PopClient, line: string): Promise<string> {
  c.send(`${line}\r\n`);
  return c.readLine();
}

describe("DIGEST-MD5", () => {
  function response(challenge: string, o: { user?: string; pw?: string; uri?: string; extra?: string } = {}): string {
    const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
    const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
    const user = o.user ?? "alice";
    const uri = o.uri ?? "pop/pop.test";
    const hex = (s: string | Uint8Array) => bytesToHex(md5(typeof s === "string" ? Buffer.from(s) : s));
    const a1 = Buffer.concat([md5(Buffer.from(`${user}:${realm}:${o.pw ?? "alice-pw"}`)), Buffer.from(`:${nonce}:cn0nce`)]);
    const resp = hex(`${hex(a1)}:${nonce}:00000001:cn0nce:auth:${hex(`AUTHENTICATE:${uri}`)}`);
    return `username="${user}",realm="${realm}",nonce="${nonce}",cnonce="cn0nce",nc=00000001,qop=auth,digest-uri="${uri}",response=${resp}${o.extra ?? ""}`;
  }

  test("challenge, response, rspauth as a last challenge, empty answer, logged in", async () => {
    const c = await session();
    const challengeLine = await say(c, "AUTH DIGEST-MD5");
    expect(challengeLine).toStartWith("+ ");
    const challenge = unb64(challengeLine);
    expect(challenge).toMatch(/^nonce="[^"]+",realm="pop\.test",qop="auth",maxbuf=4096,charset=utf-8,algorithm=md5-sess$/);
    const rspauth = await say(c, b64(response(challenge)));
    expect(unb64(rspauth)).toMatch(/^rspauth=[0-9a-f]{32}$/);
    expect(await say(c, "")).toMatch(READY);
    c.close();
  });

  test("wrong password, unknown user and wrong service: authentication failure", async () => {
    for (const o of [{ pw: "wrong" }, { user: "nobody" }, { uri: "imap/pop.test" }]) {
      const c = await session();
      const challenge = unb64(await say(c, "AUTH DIGEST-MD5"));
      expect(await say(c, b64(response(challenge, o)))).toBe(AUTH_FAILURE);
      c.close();
    }
  });

  test("a duplicate realm or an unoffered qop: generic failure", async () => {
    for (const extra of [',realm="x"', ",qop=auth-int"]) {
      const c = await session();
      const challenge = unb64(await say(c, "AUTH DIGEST-MD5"));
      expect(await say(c, b64(response(challenge, { extra })))).toBe("-ERR [AUTH] authenticating: generic failure");
      c.close();
    }
  });

  test("'*' at the rspauth step cancels", async () => {
    const c = await session();
    const challenge = unb64(await say(c, "AUTH DIGEST-MD5"));
    await say(c, b64(response(challenge)));
    expect(await say(c, "*")).toBe("-ERR [AUTH] Client canceled authentication");
    c.close();
  });
});

describe("SCRAM-SHA-256", () => {
  async function exchange(c: PopClient, user: string, pw: string): Promise<{ final: string; serverSignature?: string }> {
    const bare = `n=${user},r=wireclientnonce`;
    const first = await say(c, `AUTH SCRAM-SHA-256 ${b64(`n,,${bare}`)}`);
    expect(first).toStartWith("+ ");
    const serverFirst = unb64(first);
    const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
    expect(attrs.r).toStartWith("wireclientnonce");
    const salted = pbkdf2(sha256, pw, Buffer.from(attrs.s!, "base64"), { c: Number(attrs.i), dkLen: 32 });
    const clientKey = hmac(sha256, salted, Buffer.from("Client Key"));
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage = Buffer.from(`${bare},${serverFirst},${withoutProof}`);
    const sig = hmac(sha256, sha256(clientKey), authMessage);
    const proof = b64(clientKey.map((b, i) => b ^ sig[i]!));
    const final = await say(c, b64(`${withoutProof},p=${proof}`));
    const serverSignature = b64(hmac(sha256, hmac(sha256, salted, Buffer.from("Server Key")), authMessage));
    return { final, serverSignature };
  }

  test("initial response, server-first, client-final, v= as a last challenge, logged in", async () => {
    const c = await session();
    const { final, serverSignature } = await exchange(c, "alice", "alice-pw");
    expect(unb64(final)).toBe(`v=${serverSignature}`);
    expect(await say(c, "")).toMatch(READY);
    expect(await say(c, "STAT")).toStartWith("+OK 7 ");
    c.close();
  });

  test("an unknown user is answered like a known one until the proof fails", async () => {
    const c = await session();
    expect((await exchange(c, "nobody", "alice-pw")).final).toBe(AUTH_FAILURE);
    c.close();
  });

  test("a wrong password fails, and a malformed client-first is a protocol error", async () => {
    const c = await session();
    expect((await exchange(c, "alice", "wrong")).final).toBe(AUTH_FAILURE);
    expect(await say(c, `AUTH SCRAM-SHA-256 ${b64("x,,n=alice,r=abc")}`)).toBe("-ERR [AUTH] authenticating: bad protocol / cancel");
    c.close();
  });
});

describe("ANONYMOUS, EXTERNAL, mechanism lists", () => {
  test("ANONYMOUS with allowanonymouslogin: the trace is accepted and the user is anonymous", async () => {
    const c = await session({ allowanonymouslogin: "yes" }, { alice: "alice-pw", anonymous: "unused" });
    expect(await say(c, `AUTH ANONYMOUS ${b64("tester@example.org")}`)).toMatch(READY);
    c.close();
  });

  test("ANONYMOUS without allowanonymouslogin: no mechanism available", async () => {
    const c = await session();
    expect(await say(c, `AUTH ANONYMOUS ${b64("x")}`)).toBe("-ERR [AUTH] authenticating: no mechanism available");
    c.close();
  });

  test("EXTERNAL without a TLS client certificate: no mechanism available", async () => {
    const c = await session();
    expect(await say(c, "AUTH EXTERNAL =")).toBe("-ERR [AUTH] authenticating: no mechanism available");
    c.close();
  });

  test("sasl_mech_list restricts and orders what AUTH lists and accepts", async () => {
    const c = await session({ sasl_mech_list: "scram-sha-1 digest-md5" });
    c.send("AUTH\r\n");
    expect(await c.readLine()).toBe("+OK List of supported mechanisms follows");
    expect((await c.readMultiline()).lines).toEqual(["SCRAM-SHA-1", "DIGEST-MD5"]);
    expect(await say(c, "AUTH CRAM-MD5")).toBe("-ERR [AUTH] authenticating: no mechanism available");
    c.close();
  });

  test("sasl_minimum_layer above what the connection has: nothing is offered, AUTH is too weak", async () => {
    const c = await session({ sasl_minimum_layer: "1" });
    c.send("AUTH\r\n");
    expect(await c.readLine()).toBe("+OK List of supported mechanisms follows");
    expect((await c.readMultiline()).lines).toEqual([]);
    expect(await say(c, "AUTH CRAM-MD5")).toBe("-ERR [AUTH] authenticating: mechanism too weak for this user");
    c.close();
  });
});

describe("loginrealms (pop3d.c:popd_proxy_policy)", () => {
  const users = { alice: "alice-pw", "bob@example.com": "bob-pw" };
  const plain = (user: string, pw: string) => `AUTH PLAIN ${b64(`\0${user}\0${pw}`)}`;

  test("virtdomains off: user@realm is a cross-realm login, refused unless the realm is listed", async () => {
    const c = await session({ virtdomains: "off" }, users);
    expect(await say(c, plain("bob@example.com", "bob-pw"))).toBe(AUTH_FAILURE);
    expect(await say(c, "USER bob@example.com")).toBe("+OK Name is a valid mailbox");
    expect(await say(c, "PASS bob-pw")).toBe("-ERR [AUTH] Invalid login");
    c.close();
    const listed = await session({ virtdomains: "off", loginrealms: "example.com" }, users);
    expect(await say(listed, plain("bob@example.com", "bob-pw"))).toMatch(READY);
    listed.close();
  });
});
