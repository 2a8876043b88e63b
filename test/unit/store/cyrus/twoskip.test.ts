import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TwoskipError, withTwoskip } from "../../../../src/store/cyrus/twoskip.ts";
import { buildTwoskip, type TwoskipSpec } from "./twoskip-writer.ts";

const FIXTURE_DB = join(import.meta.dir, "fixtures/cyrus-3.6/conf/mailboxes.db");
const dir = mkdtempSync(join(tmpdir(), "twoskip-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function write(bytes: Buffer): string {
  const path = join(dir, `db-${files++}`);
  writeFileSync(path, bytes);
  return path;
}

const get = (path: string, key: string) => withTwoskip(path, (db) => db.get(Buffer.from(key))?.toString());
const keys = (path: string, prefix: string) => withTwoskip(path, (db) => [...db.withPrefix(Buffer.from(prefix))].map(([k]) => k.toString()));

describe("a mailboxes.db written by Cyrus 3.6", () => {
  test("finds name and id records", async () => {
    expect(await get(FIXTURE_DB, "Nuser\x1fcarol")).toStartWith("%(T e I 4dt9l97fkd57frqfdve9esg5 P default V 1795926633");
    expect(await get(FIXTURE_DB, "Nuser\x1fbob.smith")).toContain("A %(bob.smith lrswipkxtecdan)");
    expect(await get(FIXTURE_DB, "I4dt9l97fkd57frqfdve9esg5")).toContain("N user\x1fcarol");
  });

  test("misses keys that are absent or only prefixes", async () => {
    expect(await get(FIXTURE_DB, "Nuser\x1fcaro")).toBeUndefined();
    expect(await get(FIXTURE_DB, "Nuser\x1fcarol\x1fSent")).toBeUndefined();
    expect(await get(FIXTURE_DB, "user.carol")).toBeUndefined();
  });

  test("iterates a prefix in key order", async () => {
    expect(await keys(FIXTURE_DB, "Nuser\x1f")).toEqual(["Nuser\x1falice", "Nuser\x1fbob.smith", "Nuser\x1fcarol"]);
  });
});

describe("skip-list search", () => {
  const entries: Array<[string, string]> = Array.from({ length: 3000 }, (_, i) => [`key-${String(i * 7).padStart(6, "0")}`, `value ${i}`]);

  test("every key is found through the upper levels, gaps are not", async () => {
    const path = write(buildTwoskip({ entries }));
    await withTwoskip(path, (db) => {
      expect(db.clean).toBe(true);
      for (const [k, v] of entries) expect(db.get(Buffer.from(k))?.toString()).toBe(v);
      for (const missing of ["key-000001", "key-", "key-999999", "", "zzz"]) expect(db.get(Buffer.from(missing))).toBeUndefined();
    });
  });

  test("a key shorter than its neighbours sorts first (raw byte order)", async () => {
    const path = write(buildTwoskip({ entries: [["ab", "2"], ["a", "1"], ["abc", "3"], ["b", "4"]] }));
    expect(await keys(path, "a")).toEqual(["a", "ab", "abc"]);
    expect(await get(path, "ab")).toBe("2");
  });

  test("removed keys behind delete records are gone", async () => {
    const spec: TwoskipSpec = { entries: [["a", "1"], ["c", "3"], ["e", "5"]], deleted: [["b", "old"], ["d", "old"]] };
    const path = write(buildTwoskip(spec));
    expect(await get(path, "b")).toBeUndefined();
    expect(await get(path, "d")).toBeUndefined();
    expect(await get(path, "c")).toBe("3");
    expect(await keys(path, "")).toEqual(["a", "c", "e"]);
  });

  test("after a crash, records of the unfinished transaction are invisible", async () => {
    const path = write(buildTwoskip({ entries: [["m", "1"], ["x", "2"]], uncommitted: [["a", "new"]] }));
    await withTwoskip(path, (db) => {
      expect(db.clean).toBe(false);
      expect(db.get(Buffer.from("a"))).toBeUndefined();
      expect(db.get(Buffer.from("x"))?.toString()).toBe("2");
    });
  });
});

describe("integrity checks", () => {
  const base = buildTwoskip({ entries: [["alpha", "one"], ["beta", "two"]] });

  test("a bad header CRC is refused", async () => {
    const bytes = Buffer.from(base);
    bytes[33] ^= 1;
    await expect(get(write(bytes), "alpha")).rejects.toThrow(TwoskipError);
  });

  test("a bad value is caught by the tail CRC", async () => {
    const bytes = Buffer.from(base);
    const at = bytes.indexOf("one");
    bytes[at] ^= 0x20;
    await expect(get(write(bytes), "alpha")).rejects.toThrow(/tail CRC/);
  });

  test("a bad pointer is caught by the head CRC", async () => {
    const bytes = Buffer.from(base);
    bytes[64 + 8 + 7] ^= 1; // the dummy's first pointer
    await expect(get(write(bytes), "beta")).rejects.toThrow(/head CRC/);
  });

  test("not a twoskip file", async () => {
    await expect(get(write(Buffer.from(readFileSync(FIXTURE_DB).subarray(0, 40))), "x")).rejects.toThrow(TwoskipError);
  });
});
