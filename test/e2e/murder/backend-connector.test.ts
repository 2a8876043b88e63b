/**
 * The frontend's backend connector (src/proxy) against our compiled binary as a backend, for the
 * address forms Cyrus's backend_connect understands beyond the Murder tests' plain one:
 * `host:port/tls` (TLS from the first byte), `<shorthost>_password`, a client certificate, a mechanism
 * restriction, and what a refused or silent backend gives.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupAll, makeFixture, freePort } from "../../support/harness.ts";
import { loadConfig } from "../../../src/config/index.ts";
import { createBackendConnector } from "../../../src/proxy/connector.ts";
import type { BackendLink } from "../../../src/pop3/backend-link.ts";
import { makePki } from "../tls/pki.ts";
import { startStandalone, type Standalone } from "../tls/tls-support.ts";

// Hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

let backend: Standalone;
let dir: string;
let pki: ReturnType<typeof makePki>;

beforeAll(async () => {
  pki = makePki();
  const fx = makeFixture({
    users: { alice: "alice-pw", mailproxy: "proxy-pw" },
    anchorMessagesFor: ["alice"],
    config: { proxyservers: "mailproxy", tls_server_cert: pki.serverCert, tls_server_key: pki.serverKey, allowstarttls: "yes" },
  });
  dir = fx.dir;
  backend = await startStandalone(fx, ["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"]);
});

afterAll(async () => {
  await backend?.stop();
  cleanupAll();
});

/** A frontend config with `lines`, as our binary would load it. */
function connector(lines: Record<string, string>) {
  const path = join(dir, `frontend-${Bun.randomUUIDv7()}.conf`);
  writeFileSync(path, Object.entries({ configdirectory: join(dir, "conf"), ...lines }).map(([k, v]) => `${k}: ${v}\n`).join(""));
  return createBackendConnector(loadConfig(path, "pop3"));
}

/** Relays STAT and QUIT over a logged-in link and returns the two replies. */
async function statAndQuit(link: BackendLink): Promise<string[]> {
  let text = "";
  const ended = new Promise<void>((resolve) =>
    link.attach({
      data: (chunk) => void (text += Buffer.from(chunk).toString("latin1")),
      end: () => resolve(),
    }),
  );
  link.write(Buffer.from("STAT\r\nQUIT\r\n"));
  await ended;
  return text.split("\r\n").filter(Boolean);
}

describe("the backend connector", () => {
  test("host:port/tls speaks TLS from the first byte and logs in with <shorthost>_password", async () => {
    // "127.0.0.1:port/tls" cuts to the short host "127"; proxy_password is wrong, so only the override works
    const result = await connector({ proxy_authname: "mailproxy", proxy_password: "wrong", "127_password": "proxy-pw" }).login(
      `127.0.0.1:${backend.port({ tls: true })}/tls`,
      "alice",
    );
    if (!result.ok) throw new Error(result.detail);
    expect(result.link.status).toMatch(/^ Mailbox locked and ready SESSIONID=</);
    const replies = await statAndQuit(result.link);
    expect(replies[0]).toMatch(/^\+OK 7 \d+$/);
    expect(replies[1]).toStartWith("+OK");
  });

  test("a client certificate is presented over TLS when tls_client_cert is set", async () => {
    const result = await connector({ proxy_authname: "mailproxy", proxy_password: "proxy-pw", tls_client_cert: pki.clientCert, tls_client_key: pki.clientKey }).login(
      `127.0.0.1:${backend.port({ tls: true })}/tls`,
      "alice",
    );
    if (!result.ok) throw new Error(result.detail);
    expect(await statAndQuit(result.link)).toHaveLength(2);
  });

  test("a refused proxy login, a mechanism restriction without PLAIN, a closed port and a silent server", async () => {
    const plain = `127.0.0.1:${backend.port({ tls: false })}`;
    const wrong = await connector({ proxy_authname: "mailproxy", proxy_password: "wrong" }).login(plain, "alice");
    expect(wrong).toMatchObject({ ok: false, failure: "auth" });
    // alice is not in proxyservers: the backend refuses her acting for another user
    const notProxy = await connector({ proxy_authname: "alice", proxy_password: "alice-pw" }).login(plain, "mailproxy");
    expect(notProxy).toMatchObject({ ok: false, failure: "auth" });
    const noPlain = await connector({ proxy_authname: "mailproxy", proxy_password: "proxy-pw", force_sasl_client_mech: "SCRAM-SHA-256" }).login(plain, "alice");
    expect(noPlain).toMatchObject({ ok: false, failure: "auth" });
    expect(!noPlain.ok && noPlain.detail).toContain("no usable SASL mechanism");

    const closed = await connector({ proxy_password: "x" }).login(`127.0.0.1:${freePort()}`, "alice");
    expect(closed).toEqual({ ok: false, failure: "unavailable", detail: expect.stringContaining("ECONNREFUSED") });

    // accepts and never greets: client_timeout bounds the wait
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await connector({ proxy_password: "x", client_timeout: "1" }).login(`127.0.0.1:${silent.port}`, "alice");
      expect(r).toMatchObject({ ok: false, failure: "unavailable" });
      expect(!r.ok && r.detail).toContain("no greeting");
    } finally {
      silent.stop(true);
    }
  });
});
