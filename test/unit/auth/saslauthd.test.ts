import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassDbUnavailable } from "../../../src/auth/passdb/passdb.ts";
import { SaslauthdDb, saslauthdRequest } from "../../../src/auth/passdb/saslauthd.ts";

const dir = mkdtempSync(join(tmpdir(), "pop3d-saslauthd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A stand-in saslauthd: records each request and answers with `reply` (raw bytes), or never. */
function fakeSaslauthd(reply: Uint8Array | null) {
  const path = join(dir, `mux-${++n}`);
  const requests: Buffer[] = [];
  const server = Bun.listen({
    unix: path,
    socket: {
      data(s, chunk) {
        requests.push(Buffer.from(chunk));
        if (reply) {
          s.write(reply);
          s.end();
        }
      },
    },
  });
  return { path, requests, stop: () => server.stop(true) };
}

function counted(text: string): Buffer {
  const b = Buffer.from(text);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

describe("request encoding", () => {
  test("four counted strings, lengths in big-endian bytes", () => {
    expect(Buffer.from(saslauthdRequest("bob", "pässword", "pop", "")!)).toEqual(
      Buffer.concat([counted("bob"), counted("pässword"), counted("pop"), counted("")]),
    );
  });
  test("requests beyond libsasl's 8 KiB buffer are not built", () => {
    expect(saslauthdRequest("bob", "x".repeat(8200), "pop", "")).toBeUndefined();
  });
});

describe("SaslauthdDb against a stand-in daemon", () => {
  test("OK means yes; the realm is split off at the last @, service is pop", async () => {
    const d = fakeSaslauthd(counted("OK"));
    try {
      expect(await new SaslauthdDb(d.path).checkPassword("bob@x@example.com", "pw")).toBe(true);
      expect(d.requests[0]).toEqual(Buffer.concat([counted("bob@x"), counted("pw"), counted("pop"), counted("example.com")]));
    } finally {
      d.stop();
    }
  });
  test("NO means no", async () => {
    const d = fakeSaslauthd(counted("NO authentication failed"));
    try {
      expect(await new SaslauthdDb(d.path).checkPassword("bob", "pw")).toBe(false);
      expect(d.requests[0]!.subarray(-2)).toEqual(Buffer.from([0, 0]));
    } finally {
      d.stop();
    }
  });
  test("an oversized password fails without asking the daemon", async () => {
    const d = fakeSaslauthd(counted("OK"));
    try {
      expect(await new SaslauthdDb(d.path).checkPassword("bob", "x".repeat(9000))).toBe(false);
      expect(d.requests).toHaveLength(0);
    } finally {
      d.stop();
    }
  });
  test("a malformed answer, a hang-up and silence are unavailability", async () => {
    const short = fakeSaslauthd(counted("O"));
    const hangup = fakeSaslauthd(Buffer.alloc(0));
    const silent = fakeSaslauthd(null);
    try {
      await expect(new SaslauthdDb(short.path).checkPassword("a", "b")).rejects.toThrow(/bad response/);
      await expect(new SaslauthdDb(hangup.path).checkPassword("a", "b")).rejects.toThrow(/closed before/);
      const slow = new SaslauthdDb(silent.path, { timeoutMs: 50 });
      const err = await slow.checkPassword("a", "b").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PassDbUnavailable);
      expect(String(err)).toContain("no answer within 0.05 s");
    } finally {
      short.stop();
      hangup.stop();
      silent.stop();
    }
  });
  test("no daemon at the path", async () => {
    const err = await new SaslauthdDb(join(dir, "nothing-here")).checkPassword("a", "b").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassDbUnavailable);
    expect(String(err)).toContain("cannot connect: ENOENT");
  });
  test("never a plaintext secret", async () => {
    expect(await new SaslauthdDb(join(dir, "x")).plaintextSecret()).toBeUndefined();
  });
});
