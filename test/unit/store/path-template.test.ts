import { describe, expect, test } from "bun:test";
import { StoreError } from "../../../src/store/maildrop.ts";
import { expandMaildirTemplate, resolveMaildirPath, validateMaildirTemplate } from "../../../src/store/maildir/path-template.ts";

describe("expandMaildirTemplate", () => {
  test("%u %n %d %%", () => {
    expect(expandMaildirTemplate("/m/%d/%n/%u/100%%", "bob@example.org")).toBe("/m/example.org/bob/bob@example.org/100%");
  });

  test("a user without domain has an empty %d", () => {
    expect(expandMaildirTemplate("/var/mail/%d/%n", "alice")).toBe("/var/mail//alice");
  });

  test("escapes in the user name are not expanded again", () => {
    expect(expandMaildirTemplate("/m/%u", "a%n")).toBe("/m/a%n");
  });
});

describe("validateMaildirTemplate", () => {
  test("accepts the documented escapes", () => {
    expect(() => validateMaildirTemplate("/var/mail/%u/Maildir")).not.toThrow();
    expect(() => validateMaildirTemplate("/var/mail/%d/%n%%")).not.toThrow();
  });

  test("rejects unknown escapes, relative paths and dot segments", () => {
    expect(() => validateMaildirTemplate("/var/mail/%h")).toThrow('unknown escape "%h"');
    expect(() => validateMaildirTemplate("/var/mail/%")).toThrow("unknown escape");
    expect(() => validateMaildirTemplate("mail/%u")).toThrow("absolute");
    expect(() => validateMaildirTemplate("/var/mail/../%u")).toThrow('".."');
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
