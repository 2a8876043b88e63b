/**
 * The same AUTH exchanges against a real Cyrus pop3d (Debian's cyrus-imapd with its libsasl) and
 * against our binary: every reply must match once random parts (nonces, salts, session ids) are
 * masked. Where we differ on purpose the test says so: no NTLM, and DIGEST-MD5 offers qop=auth only.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { md5 } from "@noble/hashes/legacy.js";
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, type CHash } from "@noble/hashes/utils.js";
import { PopClient, cleanupAll, makeFixture, startServer, type RunningServer } from "../../support/harness.ts";
import { CyrusInstance, cyrusPop3d, requireCyrus } from "../cyrus/cyrus-instance.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(120_000);

const USERS = { alice: "alice-pw", bob: "bob-pw" };

let skipReason: string | undefined;
try {
  requireCyrus();
  cyrusPop3d();
} catch (e) {
  skipReason = (e as Error).message;
  console.log(`cyrus-differential.test.ts: skipped: ${skipReason}`);
}

let cyrus: CyrusInstance;
let ours: RunningServer;

beforeAll(async () => {
  if (skipReason) return;
  cyrus = await CyrusInstance.start({ users: USERS, mailboxes: [{ name: "user/alice" }, { name: "user/bob" }] });
  ours = await startServer(makeFixture({ users: USERS, anchorMessagesFor: [] }));
});
afterAll(async () => {
  await ours?.stop();
  await cyrus?.stop();
  cleanupAll();
});

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString("base64");
const unb64 = (line: string) => Buffer.from(line.slice(2), "base64").toString("latin1");

/** One client line out, one server line back. */
async function say(c: PopClient, line: string): Promise<string> {
  c.send(`${line}\r\n`);
  return c.readLine();
}

const mask = (line: string) => line.replace(/SESSIONID=<[^>]*>/, "SESSIONID=<…>");

type Scenario = (c: PopClient) => Promise<string[]>;

/** Runs a scenario on a fresh connection to each server; returns [cyrus, ours]. */
async function both(scenario: Scenario): Promise<[string[], string[]]> {
  const results: string[][] = [];
  for (const port of [cyrus.cyrusPop3Port, ours.port]) {
    const c = await PopClient.connect(port);
    results.push((await scenario(c)).map(mask));
    c.close();
  }
  return [results[0]!, results[1]!];
}

const same = (name: string, scenario: Scenario) =>
  test.skipIf(skipReason !== undefined)(name, async () => {
    const [theirs, mine] = await both(scenario);
    expect(mine).toEqual(theirs);
  });

function digestAnswer(challenge: string, o: { pw?: string; uri?: string; extra?: string } = {}): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const uri = o.uri ?? "pop/pop.test";
  const hex = (s: string | Uint8Array) => bytesToHex(md5(typeof s === "string" ? Buffer.from(s) : s));
  const a1 = Buffer.concat([md5(Buffer.from(`alice:${realm}:${o.pw ?? USERS.alice}`)), Buffer.from(`:${nonce}:cnonce42`)]);
  const response = hex(`${hex(a1)}:${nonce}:00000001:cnonce42:auth:${hex(`AUTHENTICATE:${uri}`)}`);
  return b64(`username="alice",realm="${realm}",nonce="${nonce}",cnonce="cnonce42",nc=00000001,qop=auth,digest-uri="${uri}",response=${response}${o.extra ?? ""}`);
}

/** The DIGEST-MD5 challenge with the parts that are random or differ by design left out. */
function digestShape(challenge: string): string {
  return challenge.replace(/(^|,)(nonce|qop|cipher)="[^"]*"/g, "").replace(/^,/, "");
}

async function scram(c: PopClient, hash: CHash, mech: string, user: string, pw: string, tail: (final: string) => Promise<string[]>): Promise<string[]> {
  const bare = `n=${user},r=diffclientnonce`;
  const first = await say(c, `AUTH ${mech} ${b64(`n,,${bare}`)}`);
  if (!first.startsWith("+ ")) return [first];
  const serverFirst = unb64(first);
  const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
  const salted = pbkdf2(hash, pw, Buffer.from(attrs.s!, "base64"), { c: Number(attrs.i), dkLen: hash.outputLen });
  const clientKey = hmac(hash, salted, Buffer.from("Client Key"));
  const withoutProof = `c=biws,r=${attrs.r}`;
  const sig = hmac(hash, hash(clientKey), Buffer.from(`${bare},${serverFirst},${withoutProof}`));
  const final = await say(c, b64(`${withoutProof},p=${b64(clientKey.map((b, i) => b ^ sig[i]!))}`));
  const shape = `server-first i=${attrs.i} nonce-prefix=${attrs.r!.startsWith("diffclientnonce")}`;
  return [shape, ...(await tail(final))];
}

describe.skipIf(skipReason !== undefined)("AUTH against Cyrus pop3d", () => {
  test("bare AUTH lists the same mechanisms, less NTLM which we do not implement", async () => {
    const list = async (c: PopClient) => {
      c.send("AUTH\r\n");
      const head = await c.readLine();
      return [head, ...(await c.readMultiline()).lines];
    };
    const [theirs, mine] = await both(list);
    expect(mine).toEqual(theirs.filter((m) => m !== "NTLM"));
  });

  same("unknown mechanism, '=' for PLAIN, wrong and right PLAIN", async (c) => [
    await say(c, "AUTH NOSUCHMECH"),
    await say(c, "AUTH PLAIN ="),
    await say(c, `AUTH PLAIN ${b64(`\0alice\0wrong`)}`),
    await say(c, `AUTH PLAIN ${b64(`bob\0alice\0${USERS.alice}`)}`),
    await say(c, `AUTH PLAIN ${b64(`\0alice\0${USERS.alice}`)}`),
  ]);

  same("LOGIN prompts and cancel", async (c) => [await say(c, "AUTH LOGIN"), await say(c, b64("alice")), await say(c, "*")]);

  same("CRAM-MD5 with a wrong digest", async (c) => {
    const challenge = await say(c, "AUTH CRAM-MD5");
    return [challenge.replace(/^\+ .*/, "+ <challenge>"), await say(c, b64("alice 0123456789abcdef0123456789abcdef"))];
  });

  same("ANONYMOUS and EXTERNAL are not offered", async (c) => [await say(c, `AUTH ANONYMOUS ${b64("x")}`), await say(c, "AUTH EXTERNAL =")]);

  same("DIGEST-MD5: challenge shape, rspauth as a last challenge, login", async (c) => {
    const challenge = unb64(await say(c, "AUTH DIGEST-MD5"));
    const rspauth = unb64(await say(c, digestAnswer(challenge)));
    return [digestShape(challenge), rspauth.replace(/[0-9a-f]{32}$/, "<hex>"), await say(c, "")];
  });

  same("DIGEST-MD5: wrong password, wrong service, duplicate realm", async (c) => {
    const out: string[] = [];
    for (const o of [{ pw: "wrong" }, { uri: "imap/pop.test" }, { extra: ',realm="x"' }]) {
      const challenge = unb64(await say(c, "AUTH DIGEST-MD5"));
      out.push(await say(c, digestAnswer(challenge, o)));
    }
    return out;
  });

  same("SCRAM-SHA-256: login with v= as a last challenge", async (c) =>
    scram(c, sha256, "SCRAM-SHA-256", "alice", USERS.alice, async (final) => [unb64(final).replace(/^v=.*/, "v=<signature>"), await say(c, "")]),
  );

  same("SCRAM-SHA-1: a wrong password fails at the proof", async (c) => scram(c, sha1, "SCRAM-SHA-1", "alice", "wrong", async (final) => [final]));

  same("SCRAM: empty initial response, malformed client-first, cancel at v=", async (c) => {
    const out = [await say(c, "AUTH SCRAM-SHA-256 ="), await say(c, "*")];
    out.push(await say(c, `AUTH SCRAM-SHA-256 ${b64("x,,n=alice,r=abc")}`));
    out.push(...(await scram(c, sha256, "SCRAM-SHA-256", "alice", USERS.alice, async () => [await say(c, "*")])));
    return out;
  });

  same("DIGEST-MD5: an initial response is ignored; nonce count 2; authzid of a non-admin", async (c) => {
    const out: string[] = [];
    const first = await say(c, `AUTH DIGEST-MD5 ${b64('username="alice"')}`);
    out.push(first.startsWith("+ ") ? digestShape(unb64(first)) : first);
    out.push(await say(c, "*"));
    for (const extra of [",nc=00000002", ',authzid="bob"']) {
      const challenge = unb64(await say(c, "AUTH DIGEST-MD5"));
      out.push(await say(c, digestAnswer(challenge, { extra })));
    }
    return out;
  });

  same("SCRAM: y flag without TLS, p= on a mechanism without -PLUS, authzid of a non-admin", async (c) => {
    const out: string[] = [];
    const y = await say(c, `AUTH SCRAM-SHA-256 ${b64("y,,n=alice,r=abc")}`);
    out.push(y.startsWith("+ ") ? "server-first" : y, await say(c, "*"));
    // p= without TLS: libsasl answers the first message and refuses the binding at the final one
    const p = await say(c, `AUTH SCRAM-SHA-256 ${b64("p=tls-unique,,n=alice,r=abc")}`);
    out.push(p.startsWith("+ ") ? "server-first" : p);
    if (p.startsWith("+ ")) out.push(await say(c, b64(`c=${b64("p=tls-unique,,x")},r=${unb64(p).split(",")[0]!.slice(2)},p=${b64(new Uint8Array(32))}`)));
    const authz = await say(c, `AUTH SCRAM-SHA-256 ${b64("n,a=bob,n=alice,r=abc")}`);
    out.push(authz.startsWith("+ ") ? "server-first" : authz);
    return out;
  });

  test("SCRAM with an unknown user: Cyrus fails at once, we fail only at the proof (no user enumeration)", async () => {
    const [theirs, mine] = await both((c) => scram(c, sha256, "SCRAM-SHA-256", "nobody", "x", async (final) => [final]));
    expect(theirs).toEqual(["-ERR [AUTH] authenticating: authentication failure"]);
    expect(mine).toEqual(["server-first i=4096 nonce-prefix=true", "-ERR [AUTH] authenticating: authentication failure"]);
  });
});
