import { describe, expect, test } from "bun:test";
import { isShaCrypt, shaCryptHash, verifyShaCrypt } from "../../../src/auth/passdb/sha-crypt.ts";

// Generated with python3's crypt module (glibc/libxcrypt) and `openssl passwd -6/-5` on this machine;
// the rounds=1000 "roundstoolow" string is the published example of the algorithm description.
const VECTORS: [string, string][] = [
  ["pw", "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"],
  ["pw", "$6$rounds=1000$saltsalt$nII71HJmawaDYdXrUHYtoWV/pe6ZN/eQzrZXdKjhrcMU0onLRg6A5m38udZu.lA6f53rIQturF4FMx1X99KF/0"],
  ["Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"],
  ["Hello world!", "$6$rounds=5000$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"],
  [
    "Hello world!",
    "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
  ],
  ["", "$6$emptypw$TWmzQ8/uLn1BFSZ5Lkfum8lAba5vixF9Nl3Aiof.Praatq9nh0kkPuTdoVrIL6du0L6LAoadbPq.q.D7keveg/"],
  ["x".repeat(100), "$6$longpw$sYLwncVCGEiLCFfKg4jnizFQfC03SX3WnZE.25nzUWc1EiWSTwzV2R1g.auoIfypk.Wrt4j29NS68wDO.1Xgq/"],
  ["pässwörd", "$6$rounds=1000$utf8$yfePPclWT9o4WMKOUoG0ovIM7w/0JCHOP.doxEQ7DWz/JfyLpWp26YsHCNcIoJmsgregmLBlspecU7iMqSrtD."],
  [
    "the minimum number is still observed",
    "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
  ],
  ["pw", "$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5"],
  ["Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"],
  ["y".repeat(70), "$5$longpw$DkxO3a1LcVmk1x.vie.gQdOGi.ohNEJUYFm.zutkjc2"],
];

describe("sha-crypt verification", () => {
  for (const [pw, stored] of VECTORS) {
    test(`${stored.slice(0, 30)}… accepts its password and refuses another`, () => {
      expect(verifyShaCrypt(pw, stored)).toBe(true);
      expect(verifyShaCrypt(`${pw}x`, stored)).toBe(false);
    });
  }

  test("rounds below the minimum are clamped to 1000", () => {
    const at1000 = VECTORS[8]![1].replace("rounds=1000", "rounds=10");
    expect(verifyShaCrypt("the minimum number is still observed", at1000)).toBe(true);
  });

  test("a salt longer than 16 characters is truncated", () => {
    expect(shaCryptHash("6", "Hello world!", "saltstringsaltstring", 10000)).toBe(
      "OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
    );
  });

  test("a tampered hash does not verify", () => {
    const stored = VECTORS[0]![1];
    const last = stored.at(-1) === "/" ? "." : "/";
    expect(verifyShaCrypt("pw", stored.slice(0, -1) + last)).toBe(false);
  });

  test("passphrases of 512 bytes or more never match, as with libxcrypt", () => {
    // python3 crypt.crypt("a" * 511, "$6$s$"); the same call with 512 bytes returns "*0".
    const at511 = "$6$s$nCd5ZumfvnzYsAPSDDbuaZB/KxfUlgGFeRqIHdYj1/zeuH99s4fjYQSRT3rDJRBVXnL76aRFov3Cac046Epw9/";
    expect(verifyShaCrypt("a".repeat(511), at511)).toBe(true);
    const at512 = `$6$s$${shaCryptHash("6", "a".repeat(512), "s")}`;
    expect(verifyShaCrypt("a".repeat(512), at512)).toBe(false);
  });

  test("other crypt formats are not recognised", () => {
    for (const s of ["$1$salt$hash", "$2b$10$abcdefghijklmnopqrstuv", "abJnggxhB/yWI", "$6$nohash", "$6$s$bad hash"]) {
      expect(isShaCrypt(s)).toBe(false);
      expect(verifyShaCrypt("pw", s)).toBe(false);
    }
  });
});
