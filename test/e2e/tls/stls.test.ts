/**
 * STLS (imap/tls.c:tls_init_serverengine) on a plain standalone listener with a stock Cyrus TLS setup (allowplaintext: 0,
 * allowstarttls: 1): CAPA before and after, the texts, pipelined-input discard (STARTTLS command
 * injection), a failed handshake, tls_required, and the external SSF of -p (master/service.c:main).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { PopClient, cleanupAll, expectedRetr, makeFixture, sha256, type Fixture } from "../../support/harness.ts";
import { makePki, tlsConfig, type Pki } from "./pki.ts";
import { GREETING, capaNames, logged, popTls, saslMechanisms, sClient, startStandalone, type Standalone } from "./tls-support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const LISTEN = ["--listen", "127.0.0.1:0"];
const PLAINTEXT_MECHS = ["PLAIN", "LOGIN"];

let pki: Pki;
let expected: Buffer[];
beforeAll(() => {
  pki = makePki();
});
afterAll(cleanupAll);

/** A fixture with STLS on, plaintext off (the Cyrus default), plus `extra` options. */
function stlsFixture(extra: Record<string, string> = {}): Fixture {
  const fx = makeFixture({ config: tlsConfig(pki, { allowplaintext: "no", allowstarttls: "yes", ...extra }) });
  expected = fx.anchorFiles.map(expectedRetr);
  return fx;
}

const totalSize = (): number => expected.reduce((n, b) => n + b.length, 0);

describe("allowstarttls: yes, allowplaintext: no", () => {
  let server: Standalone;
  let port: number;
  beforeAll(async () => {
    server = await startStandalone(stlsFixture(), LISTEN);
    port = server.port({});
  });

  test("CAPA before TLS: STLS, a SASL line without PLAIN/LOGIN, no USER", async () => {
    const c = await PopClient.connect(port);
    expect(c.greeting).toMatch(GREETING);
    expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
    const { lines } = await c.readMultiline();
    expect(capaNames(lines)).toContain("STLS");
    expect(capaNames(lines)).not.toContain("USER");
    const mechs = saslMechanisms(lines);
    expect(mechs).toBeDefined();
    for (const m of PLAINTEXT_MECHS) expect(mechs).not.toContain(m);
    // pop3d.c:cmd_capa order: SASL, STLS, EXPIRE ...
    expect(lines.indexOf("STLS")).toBe(lines.findIndex((l) => l.startsWith("SASL ")) + 1);
    expect(await c.cmd("USER alice")).toBe("-ERR [AUTH] USER command only available under a layer");
    expect(await c.cmd("AUTH PLAIN AGFsaWNlAGFsaWNlLXB3")).toBe("-ERR [AUTH] authenticating: encryption needed to use mechanism");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();
  });

  test("STLS with an argument: -ERR Unexpected extra argument, and the session stays usable in plaintext", async () => {
    const c = await PopClient.connect(port);
    expect(await c.cmd("STLS x")).toBe("-ERR Unexpected extra argument");
    expect(await c.cmd("NOOP")).toBe("-ERR Unrecognized command"); // NOOP is TRANSACTION-only
    expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
    expect(capaNames((await c.readMultiline()).lines)).toContain("STLS");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();
  });

  test("python ssl: +OK Begin TLS negotiation now; CAPA over TLS has USER and PLAIN/LOGIN, no STLS; second STLS refused; login", async () => {
    const r = await popTls({
      port,
      tls: { ca: pki.caCert },
      steps: [
        { cmd: "STLS" },
        { starttls: true },
        { cmd: "CAPA", multi: true },
        { cmd: "STLS" },
        { cmd: "USER alice" },
        { cmd: "PASS alice-pw" },
        { cmd: "STAT" },
        { cmd: "QUIT" },
        { rest: true },
      ],
    });
    expect(r.error).toBeNull();
    expect(r.greeting).toMatch(GREETING);
    const [stls, hs, capa, again, user, pass, stat, quit, rest] = r.events;
    expect(stls!.status).toBe("+OK Begin TLS negotiation now");
    expect(hs!.tls!.version).toMatch(/^TLSv1\.[23]$/);
    expect(hs!.tls!.plaintext_leftover).toBe("");
    expect(capa!.status).toBe("+OK List of capabilities follows");
    const names = capaNames(capa!.lines);
    expect(names).not.toContain("STLS");
    expect(names).toContain("USER");
    for (const m of PLAINTEXT_MECHS) expect(saslMechanisms(capa!.lines)).toContain(m);
    expect(again!.status).toBe("-ERR Already successfully executed STLS");
    expect(user!.status).toBe("+OK Name is a valid mailbox");
    expect(pass!.status).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/);
    expect(stat!.status).toBe(`+OK 7 ${totalSize()}`);
    expect(quit!.status).toBe("+OK");
    expect(rest!.rest).toBe("");
  });

  test("openssl s_client -starttls pop3: verified chain, CAPA over TLS, USER/PASS, RETR", async () => {
    const input = "CAPA\r\nUSER alice\r\nPASS alice-pw\r\nRETR 2\r\nQUIT\r\n";
    const r = await sClient(["-quiet", "-starttls", "pop3", "-connect", `127.0.0.1:${port}`, "-CAfile", pki.caCert, "-verify_return_error", "-verify_hostname", "pop.test"], input);
    expect(r.err).toContain("verify return:1");
    const out = r.out;
    expect(out).toContain("+OK List of capabilities follows\r\n");
    const capa = out.slice(out.indexOf("+OK List of capabilities follows"), out.indexOf("\r\n.\r\n"));
    expect(capa).not.toContain("\r\nSTLS\r\n");
    expect(capa).toContain("\r\nUSER\r\n");
    expect(out).toContain("+OK Name is a valid mailbox\r\n");
    expect(out).toMatch(/\+OK Mailbox locked and ready SESSIONID=<[^>]+>\r\n/);
    const body = out.slice(out.indexOf("+OK Message follows\r\n") + "+OK Message follows\r\n".length, out.lastIndexOf("\r\n.\r\n+OK\r\n") + 2);
    const unstuffed = body.replace(/^\.\./gm, ".");
    expect(sha256(Buffer.from(unstuffed, "latin1"))).toBe(sha256(expected[1]!));
    expect(out.endsWith("+OK\r\n")).toBe(true);
  });

  test("injection: CAPA pipelined in the same segment as STLS is never answered over TLS", async () => {
    const r = await popTls({
      port,
      tls: { ca: pki.caCert },
      steps: [{ raw: "STLS\r\nCAPA\r\n" }, { line: true }, { starttls: true }, { cmd: "QUIT" }, { rest: true }],
    });
    expect(r.error).toBeNull();
    const [, begin, hs, quit, rest] = r.events;
    expect(begin!.line).toBe("+OK Begin TLS negotiation now");
    // nothing may follow the +OK in plaintext either
    expect(hs!.tls!.plaintext_leftover).toBe("");
    // had CAPA been executed, its listing would come before QUIT's +OK
    expect(quit!.status).toBe("+OK");
    expect(rest!.rest).toBe("");
  });

  test("injection: a USER pipelined with STLS is not pending after the handshake", async () => {
    const r = await popTls({
      port,
      tls: { ca: pki.caCert },
      steps: [{ raw: "STLS\r\nUSER alice\r\n" }, { line: true }, { starttls: true }, { cmd: "PASS alice-pw" }, { cmd: "QUIT" }],
    });
    expect(r.error).toBeNull();
    expect(r.events[1]!.line).toBe("+OK Begin TLS negotiation now");
    expect(r.events[3]!.status).toBe("-ERR [AUTH] Must give USER command");
    expect(r.events[4]!.status).toBe("+OK");
  });

  test("a failed STLS handshake closes the connection; the server keeps serving", async () => {
    const c = await PopClient.connect(port);
    expect(await c.cmd("STLS")).toBe("+OK Begin TLS negotiation now");
    c.send("this is not a TLS ClientHello\r\n");
    await c.closed();
    // whatever the TLS layer sent (an alert at most) must not be a POP3 response in plaintext
    expect(c.unread().toString("latin1")).not.toMatch(/^[+-](OK|ERR)/m);
    const d = await PopClient.connect(port);
    expect(d.greeting).toMatch(GREETING);
    expect(await d.cmd("QUIT")).toBe("+OK");
  });

  test("the starttls: log line (imap/tls.c:tls_init_serverengine) and the login line say TLS", async () => {
    await popTls({
      port,
      tls: { ca: pki.caCert, alpn: ["pop3"] },
      steps: [{ cmd: "STLS" }, { starttls: true }, { cmd: "USER alice" }, { cmd: "PASS alice-pw" }, { cmd: "QUIT" }, { rest: true }],
    });
    await logged(server, /starttls: TLSv1\.[23] with cipher \S+ \(\d+\/\d+ bits new\) no authentication; application protocol = pop3/);
    await logged(server, /login: localhost \[127\.0\.0\.1\] alice plaintext\+TLS User logged in SESSIONID=<[^>]+>/);
  });
});

test("a stock configuration (allowplaintext not set: off by default) offers STLS and no USER before TLS", async () => {
  const fx = makeFixture({ config: tlsConfig(pki, { allowstarttls: "yes" }) });
  writeFileSync(fx.confPath, readFileSync(fx.confPath, "utf8").replace(/^allowplaintext:.*\n/m, ""));
  const server = await startStandalone(fx, LISTEN);
  const c = await PopClient.connect(server.port({}));
  expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
  const { lines } = await c.readMultiline();
  expect(capaNames(lines)).toContain("STLS");
  expect(capaNames(lines)).not.toContain("USER");
  for (const m of PLAINTEXT_MECHS) expect(saslMechanisms(lines)).not.toContain(m);
  expect(await c.cmd("USER alice")).toBe("-ERR [AUTH] USER command only available under a layer");
});

describe("without allowstarttls", () => {
  // Cyrus 3.12.1 and later; the releases before (as installed Cyrus 3.6) offer STLS here, see test/e2e/dropin
  test("CAPA has no STLS and STLS is -ERR Unrecognized command (a certificate alone is not enough)", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { allowplaintext: "no", pop3_cyrus_compat: "3.12.1" }) });
    const server = await startStandalone(fx, LISTEN);
    const c = await PopClient.connect(server.port({}));
    expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
    expect(capaNames((await c.readMultiline()).lines)).not.toContain("STLS");
    expect(await c.cmd("STLS")).toBe("-ERR Unrecognized command");
    expect(await c.cmd("QUIT")).toBe("+OK");
  });

  test("allowstarttls without a certificate offers nothing either", async () => {
    const fx = makeFixture({ config: { allowplaintext: "no", allowstarttls: "yes" } });
    const server = await startStandalone(fx, LISTEN);
    const c = await PopClient.connect(server.port({}));
    expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
    expect(capaNames((await c.readMultiline()).lines)).not.toContain("STLS");
    expect(await c.cmd("STLS")).toBe("-ERR Unrecognized command");
  });
});

describe("tls_required: yes", () => {
  let port: number;
  beforeAll(async () => {
    const server = await startStandalone(stlsFixture({ tls_required: "yes", allowplaintext: "yes" }), LISTEN);
    port = server.port({});
  });

  test("before TLS: no SASL, no USER, no APOP challenge; USER/AUTH/APOP refused", async () => {
    const c = await PopClient.connect(port);
    // pop3d.c:service_main: no challenge when tls_required is on at greeting time (trailing space kept)
    expect(c.greeting).toMatch(/^\+OK pop\.test pop3d \S+ server ready $/);
    expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
    const { lines } = await c.readMultiline();
    expect(saslMechanisms(lines)).toBeUndefined();
    expect(capaNames(lines)).not.toContain("USER");
    expect(capaNames(lines)).toContain("STLS");
    expect(await c.cmd("USER alice")).toBe("-ERR [AUTH] USER command only available under a layer");
    expect(await c.cmd("AUTH PLAIN AGFsaWNlAGFsaWNlLXB3")).toBe("-ERR [AUTH] AUTH command only available under a layer");
    expect(await c.cmd("AUTH")).toBe("-ERR [AUTH] AUTH command only available under a layer");
    expect(await c.cmd("APOP alice 0123456789abcdef0123456789abcdef")).toBe("-ERR Unrecognized command");
    expect(await c.cmd("QUIT")).toBe("+OK");
  });

  test("after STLS: SASL (with PLAIN) and USER listed, USER/PASS and AUTH PLAIN work", async () => {
    const r = await popTls({
      port,
      tls: { ca: pki.caCert },
      steps: [{ cmd: "STLS" }, { starttls: true }, { cmd: "CAPA", multi: true }, { cmd: "USER alice" }, { cmd: "PASS alice-pw" }, { cmd: "QUIT" }],
    });
    expect(r.error).toBeNull();
    const capa = r.events[2]!;
    expect(saslMechanisms(capa.lines)).toContain("PLAIN");
    expect(capaNames(capa.lines)).toContain("USER");
    expect(r.events[3]!.status).toBe("+OK Name is a valid mailbox");
    expect(r.events[4]!.status).toMatch(/^\+OK Mailbox locked and ready/);

    const auth = await popTls({
      port,
      tls: { ca: pki.caCert },
      steps: [{ cmd: "STLS" }, { starttls: true }, { cmd: "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3" }, { cmd: "QUIT" }],
    });
    expect(auth.error).toBeNull();
    expect(auth.events[2]!.status).toMatch(/^\+OK Mailbox locked and ready/);
  });
});

describe("-p (external SSF)", () => {
  async function capaAndLogin(args: string[], extra: Record<string, string> = {}) {
    const fx = makeFixture({ config: { allowplaintext: "no", ...extra } });
    const server = await startStandalone(fx, [...LISTEN, ...args]);
    const c = await PopClient.connect(server.port({}));
    expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
    const { lines } = await c.readMultiline();
    const user = await c.cmd("USER alice");
    const pass = user.startsWith("+OK") ? await c.cmd("PASS alice-pw") : undefined;
    expect(await c.cmd("QUIT")).toBe("+OK");
    return { lines, user, pass };
  }

  test("-p 2 unlocks USER and PLAIN/LOGIN without TLS", async () => {
    const r = await capaAndLogin(["-p", "2"]);
    expect(capaNames(r.lines)).toContain("USER");
    for (const m of PLAINTEXT_MECHS) expect(saslMechanisms(r.lines)).toContain(m);
    expect(r.user).toBe("+OK Name is a valid mailbox");
    expect(r.pass).toMatch(/^\+OK Mailbox locked and ready/);
  });

  test("-p 1 is not enough (ssf must exceed 1)", async () => {
    const r = await capaAndLogin(["-p", "1"]);
    expect(capaNames(r.lines)).not.toContain("USER");
    expect(r.user).toBe("-ERR [AUTH] USER command only available under a layer");
  });

  test("-p 2 never overrides tls_required", async () => {
    const r = await capaAndLogin(["-p", "2"], { tls_required: "yes" });
    expect(capaNames(r.lines)).not.toContain("USER");
    expect(saslMechanisms(r.lines)).toBeUndefined();
    expect(r.user).toBe("-ERR [AUTH] USER command only available under a layer");
  });
});
