import { describe, expect, test } from "bun:test";
import { internalName, legacyMailboxesDbKey, mailboxesDbKey, namespaceLockNames, userMailboxName } from "../../../../src/store/cyrus/mailbox-name.ts";
import { quotaFilePath } from "../../../../src/store/cyrus/quota-legacy.ts";
import { dirHashChar, lockFilePath, metaRoot, namedPath, uuidPath } from "../../../../src/store/cyrus/spool-paths.ts";

const naming = { unixHierarchySep: true, virtDomains: true, defaultDomain: "pop.test" };

describe("mailbox names", () => {
  test("INBOX and subfolders of plain, dotted and domain users", () => {
    const cases: Array<[string, string | undefined, string, string]> = [
      ["alice", undefined, "user.alice", "Nuser\x1falice"],
      ["john.doe", "Sent/2024.1", "user.john^doe.Sent.2024^1", "Nuser\x1fjohn.doe\x1fSent\x1f2024.1"],
      ["alice@example.com", undefined, "example.com!user.alice", "Nexample.com\x1duser\x1falice"],
      ["bob@pop.test", undefined, "user.bob", "Nuser\x1fbob"],
    ];
    for (const [user, folder, intname, key] of cases) {
      const name = userMailboxName(user, folder, naming);
      expect(internalName(name)).toBe(intname);
      expect(mailboxesDbKey(name).toString()).toBe(key);
      expect(legacyMailboxesDbKey(name).toString()).toBe(intname);
    }
  });

  test("without unixhierarchysep '.' separates folders; without virtdomains '@' is part of the name", () => {
    const name = userMailboxName("carol@x.org", "a.b", { unixHierarchySep: false, virtDomains: false, defaultDomain: undefined });
    expect(name).toEqual({ localpart: "carol@x.org", domain: undefined, boxes: ["a", "b"] });
    expect(() => userMailboxName("carol", "a//b", naming)).toThrow(/empty folder/);
  });

  test("the user namespace lock of Cyrus 3.0–3.10 and of 3.12", () => {
    expect(namespaceLockNames(userMailboxName("john.doe@example.com", "Sent", naming))).toEqual([
      "*U*john^doe@example^com",
      "*U*example.com!user.john^doe",
    ]);
  });
});

describe("spool paths (checked against directories Cyrus 3.6 created)", () => {
  const hashed = { hashImapSpool: true, fullDirHash: true };
  test("fulldirhash letters", () => {
    expect(namedPath("/s", "example.com!user.alice", hashed, undefined)).toBe("/s/domain/O/example.com/L/user/alice");
    expect(namedPath("/s", "user.john^doe", hashed, undefined)).toBe("/s/K/user/john^doe");
    expect(namedPath("/s", "Another.org!user.Zed", hashed, undefined)).toBe("/s/domain/W/Another.org/L/user/Zed");
    expect(namedPath("/s", "user.9lives", hashed, undefined)).toBe("/s/M/user/9lives");
  });

  test("first-letter hashing, and none", () => {
    const first = { hashImapSpool: true, fullDirHash: false };
    expect(["alice", "Zed", "9lives", ""].map((n) => dirHashChar(n, false))).toEqual(["a", "z", "q", "q"]);
    expect(namedPath("/s", "example.com!user.Zed", first, undefined)).toBe("/s/domain/e/example.com/z/user/Zed");
    expect(namedPath("/s", "user.alice.Sent", { hashImapSpool: false, fullDirHash: false }, undefined)).toBe("/s/user/alice/Sent");
  });

  test("uuid layout and lock files", () => {
    expect(uuidPath("/s", "4dt9l97fkd57frqfdve9esg5")).toBe("/s/uuid/4/d/4dt9l97fkd57frqfdve9esg5");
    const none = { hashImapSpool: false, fullDirHash: false };
    expect(lockFilePath("/c/lock", "4dt9l97fkd57frqfdve9esg5", none, undefined)).toBe("/c/lock/4dt9l97fkd57frqfdve9esg5.lock");
    expect(lockFilePath("/c/lock", "*U*alice", none, undefined)).toBe("/c/lock/*U*alice.lock");
    expect(lockFilePath("/c/lock", "$GLOBAL", { hashImapSpool: true, fullDirHash: false }, undefined)).toBe("/c/lock/q/$GLOBAL.lock");
  });

  test("metadata roots: metadir override, then metapartition if listed, then the partition", () => {
    const lookup = (k: string): string | undefined =>
      ({ "partition-p": "/data", "metapartition-p": "/meta", "metadir-header-p": "/hdr" })[k];
    expect(metaRoot({ lookup, metaFiles: new Set(["index"]) }, "p", "header")).toBe("/hdr");
    expect(metaRoot({ lookup, metaFiles: new Set(["index"]) }, "p", "index")).toBe("/meta");
    expect(metaRoot({ lookup, metaFiles: new Set(["index"]) }, "p", "annotations")).toBe("/data");
  });

  test("quotalegacy files", () => {
    expect(quotaFilePath("/c", "user.carol", false, false)).toBe("/c/quota/c/user.carol");
    expect(quotaFilePath("/c", "example.com!user.alice", true, false)).toBe("/c/domain/e/example.com/quota/a/user.alice");
  });
});
