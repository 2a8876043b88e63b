/** How --check-config sorts imapd.conf keys, and its list of Cyrus keys read as-is kept in step with src/. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RAW_KEYS_ALWAYS, RAW_KEYS_CYRUS_STORE, classifyKey } from "../../../src/check-config/keys.ts";

const SRC = join(import.meta.dir, "../../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("classifyKey", () => {
  test("our options, their service overrides, Cyrus-only keys, other services' keys and typos", () => {
    expect(classifyKey("popminpoll", "pop3")).toBe("read");
    expect(classifyKey("pop3_popminpoll", "pop3")).toBe("read");
    expect(classifyKey("tls_cert_file", "pop3")).toBe("read");
    expect(classifyKey("pop3s_popminpoll", "pop3")).toBe("other-service");
    expect(classifyKey("imap_lmtpsocket", "pop3")).toBe("other-service");
    expect(classifyKey("lmtpsocket", "pop3")).toBe("cyrus-only");
    expect(classifyKey("sasl_auto_transition", "pop3")).toBe("cyrus-only");
    expect(classifyKey("partition-default", "pop3")).toBe("cyrus-store");
    expect(classifyKey("hashimapspool", "pop3")).toBe("cyrus-store");
    expect(classifyKey("pop3_maildr_path", "pop3")).toBe("unknown");
    expect(classifyKey("popminpol", "pop3")).toBe("unknown");
  });

  test("every Cyrus key the code reads with Config.raw (or a helper around it) is in the lists", () => {
    const literal = /\b(?:raw|switchOption|oneOf|path)\((?:cfg, )?"([a-z0-9_-]+)"/g;
    const found = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      if (file.includes("/config/") || file.includes("/check-config/")) continue;
      for (const m of readFileSync(file, "utf8").matchAll(literal)) found.add(m[1]!);
    }
    expect(found.size).toBeGreaterThan(5);
    for (const key of found) expect(RAW_KEYS_ALWAYS.has(key) || RAW_KEYS_CYRUS_STORE.has(key), key).toBe(true);
  });
});
