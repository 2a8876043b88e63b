import { describe, expect, test } from "bun:test";
import { StoreError } from "../../../src/store/maildrop.ts";
import { expandPathTemplate, resolveUserPath, validatePathTemplate } from "../../../src/store/fs/path-template.ts";
import { resolveMaildirPath } from "../../../src/store/maildir/maildir-path.ts";

describe("expandPathTemplate", () => {
  test("%u %n %d %%", () => {
    expect(expandPathTemplate("/m/%d/%n/%u/100%%", "bob@example.org")).toBe("/m/example.org/bob/bob@example.org/100%");
  });

  test("a user without domain has an empty %d", () => {
    expect(expandPathTemplate("/var/mail/%d/%n", "alice")).toBe("/var/mail//alice");
  });

  test("escapes in the user name are not expanded again", () => {
    expect(expandPathTemplate("/m/%u", "a%n")).toBe("/m/a%n");
  });
});

describe("validatePathTemplate", () => {
  test("accepts the documented escapes", () => {
    expect(() => validatePathTemplate("/var/mail/%u/Maildir")).not.toThrow();
    expect(() => validatePathTemplate("/var/mail/%d/%n%%")).not.toThrow();
  });

  test("rejects unknown escapes, relative paths and dot segments", () => {
    expect(() => validatePathTemplate("/var/mail/%h")).toThrow('unknown escape "%h"');
    expect(() => validatePathTemplate("/var/mail/%")).toThrow("unknown escape");
    expect(() => validatePathTemplate("mail/%u")).toThrow("absolute");
    expect(() => validatePathTemplate("/var/mail/../%u")).toThrow('".."');
  });
});

describe("resolveMaildirPath", () => {
  test("expands the user and maps a +folder to a Maildir++ folder", () => {
    expect(resolveMaildirPath("/m/%u/Maildir", "alice", undefined)).toBe("/m/alice/Maildir");
    expect(resolveMaildirPath("/m/%u/Maildir", "alice", "lists/bun")).toBe("/m/alice/Maildir/.lists.bun");
  });

  test("refuses user names and folders that would climb out", () => {
    for (const [user, folder] of [
      ["..", undefined],
      [".", undefined],
      ["alice", "."],
      ["alice", ".."],
      ["alice", "a//b"],
      ["alice", ""],
    ] as const) {
      let caught: unknown;
      try {
        resolveMaildirPath("/m/%u/Maildir", user, folder);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(StoreError);
      expect((caught as StoreError).kind).toBe("temp");
      expect((caught as StoreError).message).toBe("Mailbox does not exist");
    }
  });
});

describe("resolveUserPath", () => {
  test("expands and checks a file path for mbox and the like", () => {
    expect(resolveUserPath("/var/mail/%u", "alice")).toBe("/var/mail/alice");
    expect(() => resolveUserPath("/var/mail/%u", "..")).toThrow("Mailbox does not exist");
  });
});
