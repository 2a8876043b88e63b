import { describe, expect, test } from "bun:test";
import { type CanonicalOptions, canonicalizeUser } from "../../../src/auth/canonical.ts";

const base: CanonicalOptions = { virtdomains: "off", defaultDomain: "", toLower: true, popSubfolders: false };
const vd: CanonicalOptions = { ...base, virtdomains: "userid", defaultDomain: "example.com" };

function user(raw: string, opts: CanonicalOptions = base): string | undefined {
  const r = canonicalizeUser(raw, opts);
  return r.ok ? r.user : undefined;
}

describe("character policy (pop3d.c:popd_canon_user)", () => {
  for (const ch of ["%", "&", "*", "/", ":", "?", "\x7f"]) {
    test(`rejects ${JSON.stringify(ch)}`, () => {
      const r = canonicalizeUser(`jo${ch}hn`, base);
      expect(r.ok).toBe(false);
    });
  }
  for (let c = 0; c < 0x20; c++) {
    test(`rejects control byte 0x${c.toString(16)}`, () => {
      expect(canonicalizeUser(`a${String.fromCharCode(c)}b`, base).ok).toBe(false);
    });
  }
  test("rejects every non-ASCII character", () => {
    for (const s of ["jöhn", "\u0080x", "\u00ffx", "日本", "a\u{1F600}"]) expect(user(s)).toBeUndefined();
  });
  test("allows space and other printable punctuation", () => {
    expect(user("john smith")).toBe("john smith");
    expect(user("a.b-c_d+e=f!~#$'(){}[]|^`,;<>\"\\")).toBe("a.b-c_d+e=f!~#$'(){}[]|^`,;<>\"\\");
  });
  test("with virtdomains off, @ is an ordinary character", () => {
    expect(user("alice@example.com")).toBe("alice@example.com");
    expect(user("alice%example.com")).toBeUndefined();
  });
  test("rejects the empty name and dot names", () => {
    expect(user("")).toBeUndefined();
    expect(user(".")).toBeUndefined();
    expect(user("..")).toBeUndefined();
    expect(user("...")).toBe("...");
    expect(user("..@example.org", vd)).toBeUndefined();
    expect(user("bob@..", vd)).toBeUndefined();
    expect(user("@example.org", vd)).toBeUndefined();
    expect(user("bob@", vd)).toBeUndefined();
  });
});

describe("length", () => {
  test("80 bytes pass, 81 fail", () => {
    expect(user("a".repeat(80))).toBe("a".repeat(80));
    const r = canonicalizeUser("a".repeat(81), base);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain("80");
  });
  test("the limit counts the domain but not a default domain that was dropped", () => {
    expect(user(`${"a".repeat(70)}@example.com`, vd)).toBe("a".repeat(70));
    expect(user(`${"a".repeat(70)}@example.org`, vd)).toBeUndefined();
  });
});

describe("case", () => {
  test("lowercases ASCII when toLower is on", () => {
    expect(user("Alice@Example.ORG")).toBe("alice@example.org");
  });
  test("keeps case when toLower is off", () => {
    expect(user("Alice", { ...base, toLower: false })).toBe("Alice");
  });
});

describe("global identities", () => {
  test("anonymous in any case", () => {
    expect(user("AnOnYmOuS", { ...base, toLower: false })).toBe("anonymous");
  });
  test("anybody and anyone map to anyone", () => {
    expect(user("ANYBODY")).toBe("anyone");
    expect(user("anyone")).toBe("anyone");
  });
  test("with virtual domains the domain is ignored for them", () => {
    expect(user("anonymous@other.org", vd)).toBe("anonymous");
    expect(user("Anyone%other.org", vd)).toBe("anyone");
  });
  test("without virtual domains a domain makes an ordinary name", () => {
    expect(user("anonymous@other.org")).toBe("anonymous@other.org");
  });
});

describe("virtual domains", () => {
  test("drops the default domain, case-insensitively", () => {
    expect(user("bob@example.com", vd)).toBe("bob");
    expect(user("bob@EXAMPLE.com", vd)).toBe("bob");
  });
  test("keeps other domains", () => {
    expect(user("bob@example.org", vd)).toBe("bob@example.org");
  });
  test("the last @ separates the domain", () => {
    expect(user("a@b@example.com", vd)).toBe("a@b");
  });
  test("% is a domain separator turned into @ when there is no @", () => {
    expect(user("bob%example.org", vd)).toBe("bob@example.org");
    expect(user("bob%example.com", vd)).toBe("bob");
  });
  test("a % left over after the domain split is still rejected", () => {
    expect(user("a%b%example.org", vd)).toBeUndefined();
    expect(user("a@b%example.org", vd)).toBeUndefined();
  });
  test("mode on behaves like userid for names that carry a domain", () => {
    expect(user("bob@example.org", { ...vd, virtdomains: "on" })).toBe("bob@example.org");
  });
});

describe("popsubfolders (pop3d.c:openinbox)", () => {
  const sub: CanonicalOptions = { ...vd, popSubfolders: true };
  test("user+folder@domain", () => {
    expect(canonicalizeUser("bob+Lists@example.org", sub)).toEqual({ ok: true, user: "bob@example.org", subfolder: "Lists" });
  });
  test("the default domain is dropped after stripping", () => {
    expect(canonicalizeUser("bob+lists@example.com", sub)).toEqual({ ok: true, user: "bob", subfolder: "lists" });
  });
  test("without virtual domains the folder runs to the end", () => {
    expect(canonicalizeUser("bob+a@b", { ...base, popSubfolders: true })).toEqual({ ok: true, user: "bob", subfolder: "a@b" });
  });
  test("the folder keeps its case and is not subject to the name policy", () => {
    expect(canonicalizeUser("Bob+Sent Items", { ...base, popSubfolders: true })).toEqual({
      ok: true,
      user: "bob",
      subfolder: "Sent Items",
    });
  });
  test("a bare + names no folder", () => {
    expect(canonicalizeUser("bob+", { ...base, popSubfolders: true })).toEqual({ ok: true, user: "bob" });
  });
  test("with popsubfolders off, + is part of the name", () => {
    expect(canonicalizeUser("bob+x", base)).toEqual({ ok: true, user: "bob+x" });
  });
});
