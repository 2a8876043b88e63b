/**
 * pop3s and STLS with real clients (openssl s_client, python poplib, curl, fetchmail, mpop) in
 * standalone mode (--listen-tls), protocol versions, ALPN (imap/tls.c:tls_init_serverengine), and start-up without a
 * certificate (master/service.c:main: exit 78).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BINARY,
  ROOT,
  childEnv,
  cleanupAll,
  collect,
  exitStatus,
  expectedRetr,
  makeFixture,
  ownProcess,
  run,
  sha256,
  tempDir,
  type Fixture,
} from "../../support/harness.ts";
import { closeFd, socketPair } from "../../support/socketpair.ts";
import { fingerprint, makePki, tlsConfig, type Pki } from "./pki.ts";
import { GREETING, POPLIB_TLS, capaNames, logged, popTls, sClient, saslMechanisms, startStandalone, underFakeMaster, type Standalone } from "./tls-support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const USERS = { alice: "alice-pw", fetch: "fetch-pw", mpop: "mpop-pw" };
const MDA = join(ROOT, "test/e2e/fixtures/mda_to_dir.sh");

let pki: Pki;
let fx: Fixture;
let server: Standalone;
let plainPort: number;
let tlsPort: number;
let expected: Buffer[];

beforeAll(async () => {
  pki = makePki();
  fx = makeFixture({
    users: USERS,
    anchorMessagesFor: Object.keys(USERS),
    config: tlsConfig(pki, { allowplaintext: "no", allowstarttls: "yes" }),
  });
  expected = fx.anchorFiles.map(expectedRetr);
  server = await startStandalone(fx, ["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"]);
  plainPort = server.port({});
  tlsPort = server.port({ tls: true });
});
afterAll(cleanupAll);

const totalSize = (): number => expected.reduce((n, b) => n + b.length, 0);
const toLf = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("latin1")).replace(/\r\n/g, "\n");
const messageId = (text: string): string => {
  const m = /^Message-ID: (<[^>]+>)$/im.exec(text);
  if (!m) throw new Error(`no Message-ID in ${JSON.stringify(text.slice(0, 300))}`);
  return m[1]!;
};
/** Delivered copies must be the anchor messages exactly (LF line ends after local delivery). */
function expectDelivered(delivered: string[]): void {
  expect(delivered).toHaveLength(7);
  const want = new Map(expected.map((b) => [messageId(toLf(b)), toLf(b)]));
  const got = new Map(delivered.map((t) => [messageId(t), t]));
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [id, text] of want) expect(got.get(id)).toBe(text);
}

describe("--listen-tls (pop3s)", () => {
  test("the handshake comes first, then the greeting over TLS 1.3 with our certificate", async () => {
    const r = await popTls({
      port: tlsPort,
      implicit: true,
      tls: { ca: pki.caCert },
      steps: [{ cmd: "CAPA", multi: true }, { cmd: "STLS" }, { cmd: "USER alice" }, { cmd: "PASS alice-pw" }, { cmd: "QUIT" }, { rest: true }],
    });
    expect(r.error).toBeNull();
    expect(r.greeting).toMatch(GREETING);
    expect(r.tls!.version).toBe("TLSv1.3");
    expect(r.tls!.peer_sha256).toBe(fingerprint(pki.serverCert));
    const [capa, stls, user, pass, quit, rest] = r.events;
    expect(capaNames(capa!.lines)).not.toContain("STLS");
    expect(capaNames(capa!.lines)).toContain("USER");
    expect(saslMechanisms(capa!.lines)).toContain("PLAIN");
    // imap/tls.c:tls_init_serverengine: STLS on a pop3s connection with allowstarttls on
    expect(stls!.status).toBe("-ERR Already successfully executed STLS");
    expect(user!.status).toBe("+OK Name is a valid mailbox");
    expect(pass!.status).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/);
    expect(quit!.status).toBe("+OK");
    expect(rest!.rest).toBe("");
    await logged(server, /login: localhost \[127\.0\.0\.1\] alice plaintext\+TLS User logged in/);
  });

  test("openssl s_client -connect: verified chain, greeting, login, STAT", async () => {
    const r = await sClient(
      ["-quiet", "-connect", `127.0.0.1:${tlsPort}`, "-CAfile", pki.caCert, "-verify_return_error", "-verify_hostname", "pop.test"],
      "USER alice\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n",
    );
    expect(r.err).toContain("verify return:1");
    const lines = r.out.split("\r\n");
    expect(lines[0]).toMatch(GREETING);
    expect(lines.slice(1, 5)).toEqual([
      "+OK Name is a valid mailbox",
      expect.stringMatching(/^\+OK Mailbox locked and ready/),
      `+OK 7 ${totalSize()}`,
      "+OK",
    ]);
  });

  test("python poplib.POP3_SSL downloads all 7 messages intact (sha256)", async () => {
    const r = await run(["python3", POPLIB_TLS, "pop3s", String(tlsPort), pki.caCert, "alice", "alice-pw"]);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout.toString());
    expect(out.greeting).toMatch(GREETING);
    expect(out.tls_version).toBe("TLSv1.3");
    expect(out.capa).not.toContain("STLS");
    expect(out.stat).toEqual([7, totalSize()]);
    expect(out.messages.map((m: { sha256: string }) => m.sha256)).toEqual(expected.map(sha256));
    expect(out.quit).toBe("+OK");
  });

  test("python poplib.POP3 + stls() on the plain listener downloads all 7 messages intact", async () => {
    const r = await run(["python3", POPLIB_TLS, "stls", String(plainPort), pki.caCert, "alice", "alice-pw"]);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout.toString());
    expect(out.capa_before).toContain("STLS");
    expect(out.capa_before).not.toContain("USER");
    expect(out.capa).not.toContain("STLS");
    expect(out.capa).toContain("USER");
    expect(out.messages.map((m: { sha256: string }) => m.sha256)).toEqual(expected.map(sha256));
  });

  test("curl pop3s:// --cacert: LIST and RETR", async () => {
    const url = (path: string) => `pop3s://alice:alice-pw@127.0.0.1:${tlsPort}/${path}`;
    const list = await run(["curl", "-sS", "--cacert", pki.caCert, url("")]);
    expect(list.stderr).toBe("");
    expect(list.code).toBe(0);
    expect(list.stdout.toString("latin1")).toBe(expected.map((b, i) => `${i + 1} ${b.length}\r\n`).join(""));
    const retr = await run(["curl", "-sS", "--cacert", pki.caCert, url("2")]);
    expect(retr.code).toBe(0);
    expect(sha256(retr.stdout)).toBe(sha256(expected[1]!));
  });

  test("curl --ssl-reqd pop3:// upgrades with STLS and RETRs intact", async () => {
    const retr = await run(["curl", "-sS", "-v", "--ssl-reqd", "--cacert", pki.caCert, `pop3://alice:alice-pw@127.0.0.1:${plainPort}/5`]);
    expect(retr.code, retr.stderr).toBe(0);
    expect(retr.stderr).toContain("> STLS");
    expect(retr.stderr).toContain("< +OK Begin TLS negotiation now");
    expect(sha256(retr.stdout)).toBe(sha256(expected[4]!));
  });

  describe("fetchmail", () => {
    async function fetchmail(port: number, tlsLines: string): Promise<{ delivered: string[]; log: string }> {
      const home = tempDir("fetchmail");
      const outDir = tempDir("fetchmail-out");
      const rc = join(home, "fetchmailrc");
      writeFileSync(
        rc,
        [
          "set no bouncemail",
          `poll 127.0.0.1 port ${port} protocol pop3 auth password`,
          `  user "fetch" there with password "${USERS.fetch}" is "fetch" here`,
          `  ${tlsLines} sslcertck sslcertfile "${pki.caCert}" sslcommonname pop.test`,
          "  no rewrite",
          `  mda "${MDA} ${outDir}"`,
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      const r = await run(["fetchmail", "-f", rc, "-v", "--nosyslog", "--pidfile", join(home, "pid"), "--fetchall", "--keep"], {
        env: { HOME: home, FETCHMAILHOME: home },
      });
      const log = r.stdout.toString("utf8") + r.stderr;
      expect(r.code, `fetchmail failed:\n${log}`).toBe(0);
      const stripReceived = (text: string): string => text.replace(/^Received: from 127\.0\.0\.1 [^\n]*\n(?:[ \t][^\n]*\n)*/, "");
      const delivered = readdirSync(outDir).map((f) => stripReceived(readFileSync(join(outDir, f)).toString("latin1")));
      return { delivered, log };
    }

    test("--ssl (pop3s) with sslproto TLS1.2+ delivers all 7 messages intact", async () => {
      const { delivered, log } = await fetchmail(tlsPort, "ssl sslproto 'TLS1.2+'");
      expect(log).toMatch(/SSL\/TLS: using protocol TLSv1\.[23]/);
      expectDelivered(delivered);
    });

    test("sslproto TLS1.2+ without --ssl on the plain port upgrades with STLS", async () => {
      const { delivered, log } = await fetchmail(plainPort, "sslproto 'TLS1.2+'");
      expect(log).toContain("POP3> STLS");
      expect(log).toContain("upgrade to TLS succeeded");
      expectDelivered(delivered);
    });
  });

  describe("mpop", () => {
    async function mpop(port: number, starttls: "on" | "off"): Promise<{ delivered: string[]; log: string }> {
      const home = tempDir("mpop");
      const maildir = join(tempDir("mpop-out"), "Maildir");
      for (const sub of ["cur", "new", "tmp"]) await Bun.write(join(maildir, sub, ".keep"), "");
      const rc = join(home, "mpoprc");
      writeFileSync(
        rc,
        [
          "defaults",
          "auth user",
          "received_header off",
          "account test",
          "host 127.0.0.1",
          `port ${port}`,
          "tls on",
          `tls_starttls ${starttls}`,
          `tls_trust_file ${pki.caCert}`,
          "user mpop",
          `password ${USERS.mpop}`,
          `delivery maildir ${maildir}`,
          `uidls_file ${join(home, "uidls")}`,
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      const r = await run(["mpop", "-C", rc, "-d", "--keep=on", "--only-new=off", "test"], { env: { HOME: home } });
      const log = r.stdout.toString("utf8") + r.stderr;
      expect(r.code, `mpop failed:\n${log}`).toBe(0);
      const files = readdirSync(join(maildir, "new")).filter((f) => f !== ".keep");
      return { delivered: files.map((f) => readFileSync(join(maildir, "new", f)).toString("latin1")), log };
    }

    test("tls on, tls_starttls off (pop3s) delivers all 7 messages intact", async () => {
      const { delivered, log } = await mpop(tlsPort, "off");
      expect(log).not.toContain("--> STLS");
      expectDelivered(delivered);
    });

    test("tls on, tls_starttls on (STLS) delivers all 7 messages intact", async () => {
      const { delivered, log } = await mpop(plainPort, "on");
      expect(log).toContain("--> STLS");
      expect(log).toContain("<-- +OK Begin TLS negotiation now");
      expectDelivered(delivered);
    });
  });

  describe("protocol versions (default tls_versions: tls1_2 tls1_3)", () => {
    test("TLS 1.1 is refused (openssl s_client -tls1_1, even at SECLEVEL=0)", async () => {
      const r = await sClient(["-connect", `127.0.0.1:${tlsPort}`, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
      expect(r.code).not.toBe(0);
      expect(r.out).not.toContain("+OK");
    });

    test("TLS 1.0 and 1.1 are refused (python ssl)", async () => {
      for (const v of ["TLSv1", "TLSv1_1"] as const) {
        const r = await popTls({ port: tlsPort, implicit: true, tls: { ca: pki.caCert, min: v, max: v, ciphers: "DEFAULT@SECLEVEL=0" } });
        expect(r.error, v).toMatch(/SSL/);
        expect(r.greeting, v).toBeNull();
      }
    });

    test("TLS 1.2 and 1.3 are accepted", async () => {
      for (const v of ["TLSv1_2", "TLSv1_3"] as const) {
        const r = await popTls({ port: tlsPort, implicit: true, tls: { ca: pki.caCert, min: v, max: v }, steps: [{ cmd: "QUIT" }] });
        expect(r.error, v).toBeNull();
        expect(r.tls!.version).toBe(v.replace("_", "."));
        expect(r.greeting).toMatch(GREETING);
      }
    });

    test("the starttls: line names the negotiated protocol, not the cipher's minimum version", async () => {
      const r = await popTls({
        port: tlsPort,
        implicit: true,
        tls: { ca: pki.caCert, min: "TLSv1_2", max: "TLSv1_2", ciphers: "ECDHE-ECDSA-AES128-SHA" },
        steps: [{ cmd: "QUIT" }],
      });
      expect(r.error).toBeNull();
      expect(r.tls!.version).toBe("TLSv1.2");
      expect(r.tls!.cipher).toBe("ECDHE-ECDSA-AES128-SHA");
      // Cyrus logs SSL_get_version(): the protocol of the connection
      await logged(server, /starttls: TLSv1\.\d with cipher ECDHE-ECDSA-AES128-SHA \(128\/128 bits new\)/);
      expect(server.stderr()).toContain("starttls: TLSv1.2 with cipher ECDHE-ECDSA-AES128-SHA (128/128 bits new) no authentication");
    });
  });

  describe("ALPN (imap/tls.c:tls_init_serverengine: only pop3)", () => {
    test("-alpn pop3 is selected", async () => {
      const r = await popTls({ port: tlsPort, implicit: true, tls: { ca: pki.caCert, alpn: ["pop3"] }, steps: [{ cmd: "QUIT" }] });
      expect(r.error).toBeNull();
      expect(r.tls!.alpn).toBe("pop3");
      await logged(server, /starttls: TLSv1\.3 with cipher \S+ \(\d+\/\d+ bits new\) no authentication; application protocol = pop3/);
    });

    test("-alpn imap fails the handshake (no_application_protocol)", async () => {
      const r = await sClient(["-connect", `127.0.0.1:${tlsPort}`, "-alpn", "imap"]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/no application protocol/i);
      const py = await popTls({ port: tlsPort, implicit: true, tls: { ca: pki.caCert, alpn: ["imap", "http/1.1"] } });
      expect(py.error).toMatch(/NO_APPLICATION_PROTOCOL|no application protocol/i);
    });

    test("pop3 among other offers is selected; no ALPN at all is fine", async () => {
      const both = await popTls({ port: tlsPort, implicit: true, tls: { ca: pki.caCert, alpn: ["imap", "pop3"] }, steps: [{ cmd: "QUIT" }] });
      expect(both.error).toBeNull();
      expect(both.tls!.alpn).toBe("pop3");
      const none = await popTls({ port: tlsPort, implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "QUIT" }] });
      expect(none.error).toBeNull();
      expect(none.tls!.alpn).toBeNull();
      expect(none.greeting).toMatch(GREETING);
    });

    test("ALPN on STLS as well", async () => {
      const r = await popTls({ port: plainPort, tls: { ca: pki.caCert, alpn: ["imap"] }, steps: [{ cmd: "STLS" }, { starttls: true }] });
      expect(r.events[0]!.status).toBe("+OK Begin TLS negotiation now");
      expect(r.error).toMatch(/NO_APPLICATION_PROTOCOL|no application protocol/i);
    });
  });
});

describe("tls_versions set by the operator", () => {
  test("tls1_0 tls1_1 tls1_2 tls1_3: TLS 1.0 and 1.1 are accepted (at the client's SECLEVEL=0)", async () => {
    const f = makeFixture({ config: tlsConfig(pki, { tls_versions: "tls1_0 tls1_1 tls1_2 tls1_3" }) });
    const s = await startStandalone(f, ["--listen-tls", "127.0.0.1:0"]);
    for (const v of ["TLSv1", "TLSv1_1"] as const) {
      const r = await popTls({ port: s.port({ tls: true }), implicit: true, tls: { ca: pki.caCert, min: v, max: v, ciphers: "DEFAULT@SECLEVEL=0" }, steps: [{ cmd: "QUIT" }] });
      expect(r.error, v).toBeNull();
      expect(r.tls!.version).toBe(v === "TLSv1" ? "TLSv1" : "TLSv1.1");
      expect(r.greeting).toMatch(GREETING);
    }
    expect(await s.stop()).toBe(0);
  });

  test("tls1_3 alone: a TLS 1.2 client is refused", async () => {
    const f = makeFixture({ config: tlsConfig(pki, { tls_versions: "tls1_3" }) });
    const s = await startStandalone(f, ["--listen-tls", "127.0.0.1:0"]);
    const r = await popTls({ port: s.port({ tls: true }), implicit: true, tls: { ca: pki.caCert, max: "TLSv1_2" } });
    expect(r.error).toMatch(/SSL/);
    const ok = await popTls({ port: s.port({ tls: true }), implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "QUIT" }] });
    expect(ok.tls!.version).toBe("TLSv1.3");
  });
});

describe("start-up without a usable certificate: exit 78 (EX_CONFIG)", () => {
  async function startupExit(args: string[], config: Record<string, string>): Promise<{ code: number; stderr: string }> {
    const f = makeFixture({ config });
    const [ours, theirs] = socketPair();
    const proc = Bun.spawn([BINARY, "-C", f.confPath, ...args], { stdio: [theirs, theirs, "pipe"], env: childEnv() });
    ownProcess(proc);
    closeFd(theirs);
    const stderr = collect(proc.stderr as ReadableStream<Uint8Array>);
    const code = await exitStatus(proc);
    await stderr.done;
    closeFd(ours);
    return { code, stderr: stderr.text() };
  }

  test("-s in stdio mode without tls_server_cert", async () => {
    expect((await startupExit(["-s"], {})).code).toBe(78);
  });

  test("-s with tls_server_cert: disabled", async () => {
    expect((await startupExit(["-s"], tlsConfig(pki, { tls_server_cert: "disabled" }))).code).toBe(78);
  });

  test("--listen-tls without a certificate names the missing options on stderr", async () => {
    const r = await startupExit(["--listen-tls", "127.0.0.1:0"], {});
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("pop3s: required OpenSSL options not present");
  });

  test("an unreadable certificate file names the option", async () => {
    const r = await startupExit(["--listen-tls", "127.0.0.1:0"], tlsConfig(pki, { tls_server_cert: join(pki.dir, "missing.pem") }));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("tls_server_cert");
  });
});

describe("more tls_* options and pop3s details", () => {
  test("-s with --listen makes that listener pop3s", async () => {
    const f = makeFixture({ config: tlsConfig(pki) });
    const s = await startStandalone(f, ["-s", "--listen", "127.0.0.1:0"]);
    expect(s.listeners).toEqual([{ host: "127.0.0.1", port: expect.any(Number), tls: true, proxy: false }]);
    const r = await popTls({ port: s.listeners[0]!.port, implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "QUIT" }] });
    expect(r.greeting).toMatch(GREETING);
  });

  test("pop3s clears tls_required (imap/tls.c:tls_init_serverengine): APOP challenge in the greeting, SASL and USER in CAPA", async () => {
    const f = makeFixture({ config: tlsConfig(pki, { tls_required: "yes", allowplaintext: "no" }) });
    const s = await startStandalone(f, ["--listen-tls", "127.0.0.1:0"]);
    const r = await popTls({ port: s.port({ tls: true }), implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "CAPA", multi: true }, { cmd: "USER alice" }, { cmd: "PASS alice-pw" }] });
    expect(r.error).toBeNull();
    expect(r.greeting).toMatch(GREETING);
    expect(saslMechanisms(r.events[0]!.lines)).toContain("PLAIN");
    expect(capaNames(r.events[0]!.lines)).toContain("USER");
    expect(r.events[2]!.status).toMatch(/^\+OK Mailbox locked and ready/);
  });

  test("a full chain in tls_server_cert is sent: a client trusting only the root verifies it", async () => {
    const f = makeFixture({ config: { tls_server_cert: pki.fullChain, tls_server_key: pki.chainedKey } });
    const s = await startStandalone(f, ["--listen-tls", "127.0.0.1:0"]);
    const r = await sClient(["-connect", `127.0.0.1:${s.port({ tls: true })}`, "-CAfile", pki.caCert, "-verify_return_error", "-showcerts"], "QUIT\r\n");
    expect(r.out).toContain("Verify return code: 0 (ok)");
    expect(r.out).toContain("CN = pop3d Test Intermediate");
  });

  test("tls_ciphers restricts the TLS 1.2 ciphers", async () => {
    const f = makeFixture({ config: tlsConfig(pki, { tls_ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" }) });
    const s = await startStandalone(f, ["--listen-tls", "127.0.0.1:0"]);
    const port = s.port({ tls: true });
    const ok = await popTls({ port, implicit: true, tls: { ca: pki.caCert, max: "TLSv1_2" }, steps: [{ cmd: "QUIT" }] });
    expect(ok.error).toBeNull();
    expect(ok.tls!.cipher).toBe("ECDHE-ECDSA-AES128-GCM-SHA256");
    const refused = await popTls({ port, implicit: true, tls: { ca: pki.caCert, max: "TLSv1_2", ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384" } });
    expect(refused.error).toMatch(/SSL/);
  });

  test("tls_prefer_server_ciphers: the server's order wins over the client's", async () => {
    const order = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
    const clientOrder = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
    const negotiated = async (prefer: string) => {
      const f = makeFixture({ config: tlsConfig(pki, { tls_ciphers: order, tls_prefer_server_ciphers: prefer }) });
      const s = await startStandalone(f, ["--listen-tls", "127.0.0.1:0"]);
      const r = await popTls({ port: s.port({ tls: true }), implicit: true, tls: { ca: pki.caCert, max: "TLSv1_2", ciphers: clientOrder }, steps: [{ cmd: "QUIT" }] });
      expect(r.error).toBeNull();
      return r.tls!.cipher;
    };
    expect(await negotiated("yes")).toBe("ECDHE-ECDSA-AES128-GCM-SHA256");
    expect(await negotiated("no")).toBe("ECDHE-ECDSA-AES256-GCM-SHA384");
  });

  test("tls_eccurve other than the default: a warning that names the option, TLS still works", async () => {
    const f = makeFixture({ config: tlsConfig(pki, { tls_eccurve: "secp384r1" }) });
    const s = await startStandalone(f, ["--listen-tls", "127.0.0.1:0"]);
    await logged(s, /warning\s+tls_eccurve/);
    const r = await popTls({ port: s.port({ tls: true }), implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "QUIT" }] });
    expect(r.greeting).toMatch(GREETING);
  });

  test("service-prefixed options: CYRUS_SERVICE=pop3s uses pop3s_tls_server_cert over tls_server_cert", async () => {
    const f = makeFixture({
      config: tlsConfig(pki, { pop3s_tls_server_cert: pki.renewedCert, pop3s_tls_server_key: pki.renewedKey }),
    });
    const server = await underFakeMaster(f, ["-U", "1", "-s"], "pop3s");
    const r = await popTls({ port: server.port, implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "QUIT" }] });
    expect(r.error).toBeNull();
    expect(r.tls!.peer_sha256).toBe(fingerprint(pki.renewedCert));
    expect(await server.exited).toBe(0);
  });
});
