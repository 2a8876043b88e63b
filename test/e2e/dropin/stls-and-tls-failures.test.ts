/**
 * STLS as the Cyrus we replace offers it (docs/compatibility.md): a certificate alone offers STLS
 * for Cyrus up to 3.12.0, allowstarttls is needed from 3.12.1 on (and 3.8.6, 3.10.2), with a
 * start-up warning when a certificate is configured and STLS stays off. A broken key under
 * master or inetd fails TLS only; -X over pipes never advertises STLS.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PopClient, childEnv, cleanupAll, makeFixture, run } from "../../support/harness.ts";
import { makePki, tlsConfig, type Pki } from "../tls/pki.ts";
import { capaNames, logged, popTls, startStandalone, underFakeMaster } from "../tls/tls-support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(cleanupAll);

async function capaOf(port: number): Promise<string[]> {
  const c = await PopClient.connect(port);
  expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
  const { lines } = await c.readMultiline();
  expect(await c.cmd("QUIT")).toBe("+OK");
  await c.closed();
  return capaNames(lines);
}

describe("STLS follows the Cyrus release", () => {
  test("a 3.6 config (certificate, no allowstarttls) offers STLS, and it works", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { pop3_cyrus_compat: "3.6" }) });
    const server = await startStandalone(fx, ["--listen", "127.0.0.1:0"]);
    const port = server.port({});
    expect(await capaOf(port)).toContain("STLS");
    const r = await popTls({ port, tls: { ca: pki.caCert }, steps: [{ cmd: "STLS" }, { starttls: true }, { cmd: "CAPA", multi: true }, { cmd: "QUIT" }] });
    expect(r.error).toBeNull();
    expect(r.events[0]!.status).toBe("+OK Begin TLS negotiation now");
    expect(r.events[1]!.tls?.version).toMatch(/^TLSv1\.[23]$/);
    expect(server.stderr()).toMatch(/behaving as Cyrus 3\.6\.0 \(pop3_cyrus_compat: 3\.6\)/);
    expect(server.stderr()).not.toContain("STLS is not offered");
  });

  test("3.12.1 without allowstarttls: no STLS, and a start-up warning says so", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { pop3_cyrus_compat: "3.12.1" }) });
    const server = await startStandalone(fx, ["--listen", "127.0.0.1:0"]);
    expect(await capaOf(server.port({}))).not.toContain("STLS");
    await logged(server, /tls_server_cert is set but STLS is not offered \(allowstarttls: 0\)/);
  });

  test("3.12.1 with allowstarttls: STLS, no warning", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { pop3_cyrus_compat: "3.12.1", allowstarttls: "yes" }) });
    const server = await startStandalone(fx, ["--listen", "127.0.0.1:0"]);
    expect(await capaOf(server.port({}))).toContain("STLS");
    expect(server.stderr()).not.toContain("STLS is not offered");
  });
});

describe("a broken TLS key", () => {
  test("under master, plain POP3 keeps serving and the error names the option and file", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { pop3_cyrus_compat: "3.6", tls_server_key: "/nonexistent/key.pem", pop3_syslog_socket: "/nonexistent/log" }) });
    const m = await underFakeMaster(fx, ["-U", "1"]);
    const c = await PopClient.connect(m.port);
    expect(c.greeting).toStartWith("+OK ");
    expect(await c.cmd("CAPA")).toBe("+OK List of capabilities follows");
    // STLS would fail: it is not offered
    expect(capaNames((await c.readMultiline()).lines)).not.toContain("STLS");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();
    expect(await m.exited).toBe(0);
  });

  test("under master with -s (pop3s), each connection is closed without a byte, and the process exits 0", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { tls_server_key: "/nonexistent/key.pem", pop3_syslog_socket: "/nonexistent/log" }) });
    const m = await underFakeMaster(fx, ["-s", "-U", "1"]);
    const r = await popTls({ port: m.port, implicit: true, tls: { ca: pki.caCert } });
    expect(r.greeting).toBeNull();
    expect(r.error).not.toBeNull();
    // exit 0: master keeps the service instead of disabling it after a few failed starts
    expect(await m.exited).toBe(0);
  });

  test("standalone refuses to start with exit 78, naming tls_server_key and the file", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { tls_server_key: "/nonexistent/key.pem" }) });
    const r = await run([BINARY, "-C", fx.confPath, "--listen", "127.0.0.1:0"]);
    expect(r.code).toBe(78);
    expect(r.stderr.toString()).toContain("tls_server_key: cannot read /nonexistent/key.pem");
  });
});

describe("certificates checked at start-up", () => {
  test("a garbage certificate: exit 78 naming tls_server_cert and the file", async () => {
    const fx = makeFixture({ config: tlsConfig(pki) });
    const garbage = join(fx.dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    const bad = makeFixture({ config: tlsConfig(pki, { tls_server_cert: garbage }) });
    const r = await run([BINARY, "-C", bad.confPath, "--listen", "127.0.0.1:0"]);
    expect(r.code).toBe(78);
    expect(r.stderr.toString()).toContain(`tls_server_cert: ${garbage} holds no usable certificate`);
  });

  test("a key that does not match the certificate: exit 78 naming both files", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { tls_server_key: pki.strangerKey }) });
    const r = await run([BINARY, "-C", fx.confPath, "--listen", "127.0.0.1:0"]);
    expect(r.code).toBe(78);
    expect(r.stderr.toString()).toContain(`tls_server_key: the key in ${pki.strangerKey} does not match the certificate in ${pki.serverCert}`);
  });

  test("two certificates (RSA and EC): each client gets the one it can verify", async () => {
    const dir = makeFixture().dir;
    const rsa = (name: string, ...args: string[]) => run(["openssl", "req", "-x509", ...args, "-nodes", "-days", "2", "-subj", "/CN=pop.test", "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)]);
    expect((await rsa("rsa", "-newkey", "rsa:2048")).code).toBe(0);
    const fx = makeFixture({ config: { tls_server_cert: `${join(dir, "rsa.pem")},${pki.serverCert}`, tls_server_key: `${join(dir, "rsa.key")},${pki.serverKey}`, pop3_cyrus_compat: "3.6" } });
    for (const f of ["rsa.pem", "rsa.key"]) Bun.spawnSync(["chown", "nobody", join(dir, f)]);
    const server = await startStandalone(fx, ["--listen", "127.0.0.1:0"]);
    const port = server.port({});
    const peer = async (sigalg: string) => {
      const r = await run(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-starttls", "pop3", "-tls1_2", "-sigalgs", sigalg], { stdin: "QUIT\r\n" });
      return /Peer signature type: (\S+)/.exec(r.stdout.toString())?.[1];
    };
    expect(await peer("ECDSA+SHA256")).toBe("ECDSA");
    expect(await peer("RSA+SHA256")).toBe("RSA");
  });
});

describe("-X over pipes", () => {
  test("CAPA does not advertise STLS, which cannot work there", async () => {
    const fx = makeFixture({ config: tlsConfig(pki, { pop3_cyrus_compat: "3.6", pop3_syslog_socket: join(pki.dir, "nolog") }) });
    const input = join(fx.dir, "input");
    writeFileSync(input, "CAPA\r\nQUIT\r\n");
    const proc = Bun.spawn([BINARY, "-C", fx.confPath, "-X"], { stdin: Bun.file(input), stdout: "pipe", stderr: "pipe", env: childEnv() });
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    expect(out).toContain("+OK List of capabilities follows");
    expect(out).not.toContain("STLS");
    expect(out).toContain("TOP\r\n");
  });
});
