/**
 * A Maildir filled with things that are not messages — symlinks, FIFOs, directories and sockets
 * named like messages — and messages that change under the session. None may leak a file, freeze
 * the process, or crash a login; each skipped entry is logged once.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";
import { StoreError } from "../../../src/store/maildrop.ts";
import { MaildirStore } from "../../../src/store/maildir/index.ts";
import { deliver, makeFixture, readMessage, uniqueName, type MaildirFixture } from "./maildir-fixture.ts";

let fx: MaildirFixture;
let dir: string;
let warnings: string[];

beforeEach(() => {
  fx = makeFixture();
  dir = fx.maildir("alice");
  warnings = [];
});

afterEach(() => {
  fx.cleanup();
});

const store = () => new MaildirStore({ pathTemplate: fx.template, warn: (m) => warnings.push(m) });

function mkfifo(path: string): void {
  const result = spawnSync(["mkfifo", path]);
  if (result.exitCode !== 0) throw new Error(`mkfifo ${path} failed`);
}

describe("entries that are not message files", () => {
  test("symlinks, FIFOs and directories named like messages are skipped with one log line each", async () => {
    const secret = join(fx.root, "secret");
    writeFileSync(secret, "root's secret\n");
    deliver(dir, "real one\n");
    symlinkSync(secret, join(dir, "new", uniqueName()));
    symlinkSync(secret, join(dir, "cur", `${uniqueName()},S=14,W=15:2,S`));
    mkfifo(join(dir, "new", uniqueName()));
    mkfifo(join(dir, "cur", `${uniqueName()},S=10:2,`));
    mkdirSync(join(dir, "new", uniqueName()));
    deliver(dir, "real two\n");
    const drop = await store().open("alice", undefined);
    try {
      expect(drop.messages.length).toBe(2);
      expect([readMessage(drop, 0), readMessage(drop, 1)]).toEqual(["real one\n", "real two\n"]);
      expect(warnings.length).toBe(5);
      expect(warnings.filter((w) => w.includes("a symlink, not a message file")).length).toBe(2);
      expect(warnings.filter((w) => w.includes("a FIFO, not a message file")).length).toBe(2);
      expect(warnings.filter((w) => w.includes("a directory, not a message file")).length).toBe(1);
    } finally {
      drop.close();
    }
  });

  test("a message replaced by a symlink or a FIFO after login is refused at RETR, not served", async () => {
    const secret = join(fx.root, "secret");
    writeFileSync(secret, "root's secret\n");
    const a = deliver(dir, "a\n");
    const b = deliver(dir, "b\n");
    const drop = await store().open("alice", undefined);
    try {
      unlinkSync(join(dir, "new", a));
      symlinkSync(secret, join(dir, "new", a));
      unlinkSync(join(dir, "new", b));
      mkfifo(join(dir, "new", b));
      for (const index of [0, 1]) {
        let caught: unknown;
        try {
          readMessage(drop, index);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(StoreError);
        expect((caught as StoreError).message).toBe("Could not read message file");
        expect((caught as StoreError).detail).toContain("not a regular file");
      }
    } finally {
      drop.close();
    }
  });
});

describe("odd but real messages", () => {
  test("a 0-byte file is a message of size 0; a message without final newline gets its CRLF counted", async () => {
    deliver(dir, "");
    deliver(dir, "no newline at the end");
    const drop = await store().open("alice", undefined);
    try {
      expect(drop.messages.map((m) => m.size)).toEqual([0, "no newline at the end".length + 2]);
      expect(readMessage(drop, 0)).toBe("");
      expect(readMessage(drop, 1)).toBe("no newline at the end");
    } finally {
      drop.close();
    }
  });

  test("a file removed between LIST and RETR is a clean error, and QUIT still commits", async () => {
    const gone = deliver(dir, "soon gone\n");
    deliver(dir, "stays\n");
    const drop = await store().open("alice", undefined);
    try {
      unlinkSync(join(dir, "new", gone));
      expect(() => readMessage(drop, 0)).toThrow("Could not read message file");
      expect(readMessage(drop, 1)).toBe("stays\n");
      const result = await drop.commit({ deleted: [0, 1], retrieved: [] });
      expect(result.expunged).toBe(1);
    } finally {
      drop.close();
    }
    const again = await store().open("alice", undefined);
    expect(again.messages.length).toBe(0);
    again.close();
  });
});

describe("the store's own files replaced by things that are not files", () => {
  test("FIFOs named pop3d-uidlist, its temp file, pop3d-expunge and dovecot-uidlist cannot hang a login", async () => {
    deliver(dir, "one\n");
    deliver(dir, "two\n");
    for (const name of ["pop3d-uidlist", "pop3d-uidlist.tmp", "pop3d-expunge", "dovecot-uidlist"]) mkfifo(join(dir, name));
    const drop = await store().open("alice", undefined);
    try {
      expect(drop.messages.length).toBe(2);
      expect(readMessage(drop, 1)).toBe("two\n");
      await drop.commit({ deleted: [0], retrieved: [] });
    } finally {
      drop.close();
    }
    const again = await store().open("alice", undefined);
    try {
      expect(again.messages.map((m) => m.uid)).toEqual([2]);
    } finally {
      again.close();
    }
  });
});

describe("messages moved after login", () => {
  test("moved to cur/ with or without flags, every message is still found and read", async () => {
    const names = Array.from({ length: 6 }, (_, i) => deliver(dir, `moved ${i}\n`));
    const drop = await store().open("alice", undefined);
    try {
      const infos = [":2,", ":2,S", ":2,RS", ":2,", ":2,FS", ":2,T"];
      names.forEach((name, i) => renameSync(join(dir, "new", name), join(dir, "cur", `${name}${infos[i]}`)));
      for (let i = 0; i < names.length; i++) expect(readMessage(drop, i)).toBe(`moved ${i}\n`);
      // Moved again after they were found: still followed.
      renameSync(join(dir, "cur", `${names[0]}:2,`), join(dir, "cur", `${names[0]}:2,S`));
      expect(readMessage(drop, 0)).toBe("moved 0\n");
      expect((await drop.commit({ deleted: [0, 5], retrieved: [] })).expunged).toBe(2);
    } finally {
      drop.close();
    }
  });
});
