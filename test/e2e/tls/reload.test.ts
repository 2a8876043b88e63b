/**
 * SIGHUP in standalone mode reloads the certificates: new pop3s and STLS connections get the new
 * certificate, sessions already running are not dropped.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { cleanupAll, expectedRetr, makeFixture, sha256 } from "../../support/harness.ts";
import { fingerprint, installRenewed, makePki, tlsConfig, type Pki } from "./pki.ts";
import { GREETING, SClientSession, logged, popTls, startStandalone, type Standalone } from "./tls-support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

let pki: Pki;
let server: Standalone;
let expected: Buffer[];
beforeAll(async () => {
  pki = makePki();
  const fx = makeFixture({ config: tlsConfig(pki, { allowplaintext: "no", allowstarttls: "yes" }) });
  expected = fx.anchorFiles.map(expectedRetr);
  server = await startStandalone(fx, ["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"]);
});
afterAll(cleanupAll);

async function servedFingerprint(kind: "pop3s" | "stls"): Promise<string> {
  const r =
    kind === "pop3s"
      ? await popTls({ port: server.port({ tls: true }), implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "QUIT" }] })
      : await popTls({ port: server.port({}), tls: { ca: pki.caCert }, steps: [{ cmd: "STLS" }, { starttls: true }, { cmd: "QUIT" }] });
  expect(r.error).toBeNull();
  return r.tls!.peer_sha256!;
}

test("SIGHUP: new connections see the renewed certificate, open sessions keep working", async () => {
  const original = fingerprint(pki.serverCert);
  const renewed = fingerprint(pki.renewedCert);
  expect(renewed).not.toBe(original);
  expect(await servedFingerprint("pop3s")).toBe(original);
  expect(await servedFingerprint("stls")).toBe(original);

  // sessions opened before the reload, one on each listener, logged in
  const tlsArgs = ["-CAfile", pki.caCert, "-verify_return_error"];
  const pop3s = await SClientSession.open(["-connect", `127.0.0.1:${server.port({ tls: true })}`, ...tlsArgs]);
  const stls = await SClientSession.open(["-starttls", "pop3", "-connect", `127.0.0.1:${server.port({})}`, ...tlsArgs]);
  expect(pop3s.greeting).toMatch(GREETING);
  for (const s of [pop3s, stls]) {
    expect(await s.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
  }
  expect(await pop3s.cmd("PASS alice-pw")).toMatch(/^\+OK Mailbox locked and ready/);

  installRenewed(pki);
  const mark = server.stderr().length;
  server.proc.kill("SIGHUP");
  await logged(server, /reloaded TLS certificates/, mark);

  expect(await servedFingerprint("pop3s")).toBe(renewed);
  expect(await servedFingerprint("stls")).toBe(renewed);

  // the old sessions are still there and still work
  expect(await pop3s.cmd("RETR 3")).toBe("+OK Message follows");
  expect(sha256(Buffer.from(await pop3s.multiline(), "latin1"))).toBe(sha256(expected[2]!));
  expect(await pop3s.cmd("QUIT")).toBe("+OK");
  expect(await stls.cmd("PASS alice-pw")).toMatch(/^\+OK Mailbox locked and ready/);
  expect(await stls.cmd("STAT")).toMatch(/^\+OK 7 \d+$/);
  expect(await stls.cmd("QUIT")).toBe("+OK");
  expect(await pop3s.exited()).toBe(0);
  expect(await stls.exited()).toBe(0);
  expect(server.proc.exitCode).toBeNull();
});

test("a reload that fails (unreadable key) keeps the old certificate and the server running", async () => {
  const before = await servedFingerprint("pop3s");
  const saved = readFileSync(pki.serverKey);
  rmSync(pki.serverKey);
  const mark = server.stderr().length;
  server.proc.kill("SIGHUP");
  await logged(server, /TLS reload failed, keeping the old certificates: tls_server_key/, mark);
  expect(await servedFingerprint("pop3s")).toBe(before);
  writeFileSync(pki.serverKey, saved, { mode: 0o600 });
  expect(server.proc.exitCode).toBeNull();
});

/** A port below 1024 nobody listens on, or undefined (not root, or none free). */
function freePrivilegedPort(): number | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = Bun.spawnSync([
    "python3",
    "-c",
    "import socket\nfor p in range(990, 600, -1):\n  s = socket.socket()\n  try:\n    s.bind(('127.0.0.1', p)); print(p); break\n  except OSError: pass\n  finally: s.close()",
  ]);
  const port = Number(r.stdout.toString().trim());
  return port > 0 ? port : undefined;
}

test.skipIf(freePrivilegedPort() === undefined)(
  "SIGHUP with pop3s on a privileged port, after leaving root: certificates reload, the socket stays, the server lives",
  async () => {
    const port = freePrivilegedPort()!;
    const own = makePki(); // the tests above leave this file's key unreadable
    const fx = makeFixture({ config: tlsConfig(own, { allowplaintext: "no" }) });
    const privileged = await startStandalone(fx, ["--listen-tls", `127.0.0.1:${port}`]);
    const before = await popTls({ port, implicit: true, tls: { ca: own.caCert }, steps: [{ cmd: "QUIT" }] });
    expect(before.error).toBeNull();
    const mark = privileged.stderr().length;
    privileged.proc.kill("SIGHUP");
    await logged(privileged, /reloaded TLS certificates/, mark);
    const after = await popTls({ port, implicit: true, tls: { ca: own.caCert }, steps: [{ cmd: "QUIT" }] });
    expect(after.error).toBeNull();
    expect(after.greeting).toMatch(GREETING);
    expect(privileged.proc.exitCode).toBeNull();
    expect(privileged.stderr()).not.toContain("EACCES");
    expect(await privileged.stop()).toBe(0);
  },
);
