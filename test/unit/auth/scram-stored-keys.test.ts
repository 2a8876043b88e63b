import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PasswdFileDb } from "../../../src/auth/passdb/passwd-file.ts";
import { parseStoredSecret, pickDecoy } from "../../../src/auth/passdb/schemes.ts";
import { formatStoredScramKeys, parseStoredScramKeys, SCRAM_HASHES } from "../../../src/auth/passdb/scram-keys.ts";

// Made with python3 hashlib.pbkdf2_hmac / hmac on this machine (RFC 5802 section 3 key derivation).
const PENCIL_256 = "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
const SECRET_1 = "{SCRAM-SHA-1}4096,QSXCR+Q6sek8bf92,J7Kdwdw9E4o94OUZ82wHeg1sNkY=,0OdPjjXjXpQjt4rh0atwxqwiDcg=";

const dir = mkdtempSync(join(tmpdir(), "pop3d-scram-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function db(lines: string[]): PasswdFileDb {
  const path = join(dir, `passwd-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, lines.join("\n") + "\n");
  return new PasswdFileDb(path);
}

describe("{SCRAM-SHA-*} passwd-file secrets (Dovecot's stored-key form)", () => {
  test("plaintext logins verify against the stored keys", async () => {
    const d = db([`user:${PENCIL_256}`, `old:${SECRET_1}`]);
    expect(await d.checkPassword("user", "pencil")).toBe(true);
    expect(await d.checkPassword("user", "pencil2")).toBe(false);
    expect(await d.checkPassword("old", "secret")).toBe(true);
    expect(await d.checkPassword("nobody", "pencil")).toBe(false);
  });
  test("the keys are handed to SCRAM of the same hash only, and there is no plaintext secret", async () => {
    const d = db([`user:${PENCIL_256}`]);
    const keys = await d.scramCredentials("user", "SHA-256");
    expect(keys?.iterations).toBe(4096);
    expect(Buffer.from(keys!.salt).toString("base64")).toBe("W22ZaJ0SNY7soEsUEjb6gQ==");
    expect(await d.scramCredentials("user", "SHA-1")).toBeUndefined();
    expect(await d.plaintextSecret("user")).toBeUndefined();
  });
  test("malformed stored keys are refused", () => {
    const h = SCRAM_HASHES["SHA-256"];
    expect(parseStoredScramKeys("4096,c2FsdA==,AAAA,AAAA", h)).toBeUndefined();
    expect(parseStoredScramKeys("0,c2FsdA==," + "A".repeat(43) + "=," + "A".repeat(43) + "=", h)).toBeUndefined();
    expect(parseStoredScramKeys("x,y,z", h)).toBeUndefined();
    const good = parseStoredScramKeys(PENCIL_256.slice("{SCRAM-SHA-256}".length), h)!;
    expect(formatStoredScramKeys(good)).toBe(PENCIL_256.slice("{SCRAM-SHA-256}".length));
  });
  test("an unknown user is checked against a SCRAM decoy when SCRAM secrets dominate", () => {
    const decoy = pickDecoy([PENCIL_256, PENCIL_256, "{PLAIN}x"].map(parseStoredSecret));
    expect(decoy.scheme).toBe("SCRAM-SHA-256");
  });
});
