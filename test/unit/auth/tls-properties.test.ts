import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { channelBindingsOf, clientCertificateIdentity, tlsSecurityStrength, type TlsChannelSource } from "../../../src/auth/sasl/tls-properties.ts";

function source(o: Partial<{ version: string | null; reused: boolean; mine: Uint8Array; peer: Uint8Array; ekm: Uint8Array }>): TlsChannelSource & { exporterCalls: unknown[][] } {
  const exporterCalls: unknown[][] = [];
  return {
    exporterCalls,
    getTLSVersion: () => (o.version === undefined ? "TLSv1.2" : o.version),
    isSessionReused: () => o.reused ?? false,
    getTLSFinishedMessage: () => o.mine,
    getTLSPeerFinishedMessage: () => o.peer,
    exportKeyingMaterial: (...args: unknown[]) => {
      exporterCalls.push(args);
      return o.ekm;
    },
  };
}

describe("channel bindings", () => {
  const mine = new Uint8Array(12).fill(1);
  const peer = new Uint8Array(12).fill(2);
  test("TLS 1.2 full handshake: tls-unique is the client's Finished", () => {
    expect(channelBindingsOf(source({ mine, peer }))).toEqual([{ type: "tls-unique", data: peer }]);
  });
  test("TLS 1.2 resumed: tls-unique is our Finished", () => {
    expect(channelBindingsOf(source({ mine, peer, reused: true }))).toEqual([{ type: "tls-unique", data: mine }]);
  });
  test("TLS 1.3: tls-exporter from the exporter with RFC 9266's label and an empty context", () => {
    const ekm = new Uint8Array(32).fill(7);
    const s = source({ version: "TLSv1.3", ekm });
    expect(channelBindingsOf(s)).toEqual([{ type: "tls-exporter", data: ekm }]);
    expect(s.exporterCalls).toEqual([[32, "EXPORTER-Channel-Binding", new Uint8Array(0)]]);
  });
  test("nothing when the data is missing", () => {
    expect(channelBindingsOf(source({ version: null }))).toEqual([]);
    expect(channelBindingsOf(source({}))).toEqual([]);
    expect(channelBindingsOf(source({ version: "TLSv1.3" }))).toEqual([]);
  });
});

describe("client certificate identity", () => {
  test("the first subject CN of a verified certificate", () => {
    expect(clientCertificateIdentity({ subject: { CN: "alice" } }, true)).toBe("alice");
    expect(clientCertificateIdentity({ subject: { CN: ["alice", "bob"] } }, true)).toBe("alice");
  });
  test("nothing for an unverified certificate or one without CN", () => {
    expect(clientCertificateIdentity({ subject: { CN: "alice" } }, false)).toBeUndefined();
    expect(clientCertificateIdentity({ subject: {} }, true)).toBeUndefined();
    expect(clientCertificateIdentity(undefined, true)).toBeUndefined();
  });
});

describe("tlsSecurityStrength", () => {
  test("cipher bits from the cipher name", () => {
    expect(tlsSecurityStrength({ name: "TLS_AES_256_GCM_SHA384", standardName: "TLS_AES_256_GCM_SHA384" })).toBe(256);
    expect(tlsSecurityStrength({ name: "ECDHE-RSA-AES128-GCM-SHA256" })).toBe(128);
    expect(tlsSecurityStrength({ name: "TLS_CHACHA20_POLY1305_SHA256" })).toBe(256);
    expect(tlsSecurityStrength({ name: "something-new" })).toBeUndefined();
    expect(tlsSecurityStrength(null)).toBeUndefined();
  });
});

describe("against a real Bun TLS connection", () => {
  const openssl = Bun.which("openssl");
  if (!openssl) console.log("tls-properties.test.ts: openssl not found: the real TLS handshake tests are skipped");

  async function handshake(maxVersion: number) {
    const dir = mkdtempSync(join(tmpdir(), "pop3d-tls-"));
    try {
      const gen = Bun.spawnSync([openssl!, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=pop.test"], { stderr: "pipe" });
      if (gen.exitCode !== 0) throw new Error(gen.stderr.toString());
      const tls = { key: await Bun.file(join(dir, "key.pem")).text(), cert: await Bun.file(join(dir, "cert.pem")).text(), maxVersion };
      let serverSide: ReturnType<typeof channelBindingsOf> | undefined;
      const serverDone = Promise.withResolvers<void>();
      const server = Bun.listen({
        hostname: "127.0.0.1",
        port: 0,
        tls,
        socket: {
          handshake(s) {
            serverSide = channelBindingsOf(s as unknown as TlsChannelSource);
            serverDone.resolve();
          },
          data() {},
        },
      });
      const clientDone = Promise.withResolvers<{ finished?: Uint8Array; ekm?: Uint8Array }>();
      const client = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        tls: { rejectUnauthorized: false },
        socket: {
          handshake(s) {
            const t = s as unknown as TlsChannelSource;
            clientDone.resolve({ finished: t.getTLSFinishedMessage(), ekm: t.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", new Uint8Array(0)) });
          },
          data() {},
        },
      });
      const clientView = await clientDone.promise;
      await serverDone.promise;
      client.end();
      server.stop(true);
      return { serverSide: serverSide!, clientView };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test.skipIf(!openssl)("TLS 1.3: the server's tls-exporter equals the client's", async () => {
    const { serverSide, clientView } = await handshake(0x0304);
    expect(serverSide).toHaveLength(1);
    expect(serverSide[0]!.type).toBe("tls-exporter");
    expect(Buffer.from(serverSide[0]!.data)).toEqual(Buffer.from(clientView.ekm!));
  });

  test.skipIf(!openssl)("TLS 1.2: the server's tls-unique is the client's Finished message", async () => {
    const { serverSide, clientView } = await handshake(0x0303);
    expect(serverSide).toHaveLength(1);
    expect(serverSide[0]!.type).toBe("tls-unique");
    expect(Buffer.from(serverSide[0]!.data)).toEqual(Buffer.from(clientView.finished!));
  });
});
