import { describe, expect, test } from "bun:test";
import { parseStoredSecret, pickDecoy, verifySecret } from "../../../src/auth/passdb/schemes.ts";

const CRYPT_5000 = "{SHA512-CRYPT}$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/";
const CRYPT_1000 =
  "{SHA512-CRYPT}$6$rounds=1000$saltsalt$nII71HJmawaDYdXrUHYtoWV/pe6ZN/eQzrZXdKjhrcMU0onLRg6A5m38udZu.lA6f53rIQturF4FMx1X99KF/0";

describe("parseStoredSecret", () => {
  test("splits the scheme and upper-cases it", () => {
    expect(parseStoredSecret("{ssha256}abc")).toEqual({ scheme: "SSHA256", secret: "abc" });
  });
  test("no braces means crypt(3)", () => {
    expect(parseStoredSecret("$6$s$h")).toEqual({ scheme: "CRYPT", secret: "$6$s$h" });
  });
});

describe("pickDecoy: what an unknown user's password is checked against", () => {
  test("the most expensive secret wins, rounds included (no user checks slower than an unknown one)", () => {
    const secrets = [CRYPT_1000, "{PLAIN}a", CRYPT_5000, CRYPT_5000.replace("{SHA512-CRYPT}", "{CRYPT}")].map(
      parseStoredSecret,
    );
    expect(pickDecoy(secrets)).toEqual(parseStoredSecret(CRYPT_5000));
  });
  test("unsupported secrets are never chosen", () => {
    const secrets = ["{ARGON2ID}x", "{ARGON2ID}y", "{SSHA256}swTyciKL1jSrpuiILDonRJjkh3hIgn9GWA19lVbEJrMxMjM0NTY3OA=="].map(
      parseStoredSecret,
    );
    expect(pickDecoy(secrets).scheme).toBe("SSHA256");
  });
  test("one expensive secret among many cheap ones is still the decoy", () => {
    const secrets = ["{PLAIN}a", "{PLAIN}b", "{PLAIN}c", CRYPT_1000].map(parseStoredSecret);
    expect(pickDecoy(secrets)).toEqual(parseStoredSecret(CRYPT_1000));
  });
  test("an empty database gets a plaintext decoy that matches nothing useful", () => {
    const decoy = pickDecoy([]);
    expect(decoy.scheme).toBe("PLAIN");
    expect(verifySecret(decoy, "anything")).toBe(false);
  });
});
