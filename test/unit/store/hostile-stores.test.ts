/** The mbox and Cyrus stores refuse symlinks and FIFOs where a message or mailbox file should be. */
import { afterEach, describe, expect, test } from "bun:test";
import { renameSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";
import { StoreError } from "../../../src/store/maildrop.ts";
import { MboxStore } from "../../../src/store/mbox/index.ts";
import { CyrusStore } from "../../../src/store/cyrus/cyrus-store.ts";
import { copySpool, type SpoolCopy } from "./cyrus/store-fixture.ts";
import { mboxOf, message, tempDir } from "./mbox/mbox-test-kit.ts";

function mkfifo(path: string): void {
  if (spawnSync(["mkfifo", path]).exitCode !== 0) throw new Error(`mkfifo ${path} failed`);
}

async function openError(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error("expected a StoreError");
}

describe("mbox", () => {
  test("an mbox that is a FIFO is an error at login, not a frozen process", async () => {
    const dir = tempDir("hostile");
    mkfifo(join(dir, "alice"));
    const error = await openError(new MboxStore({ pathTemplate: join(dir, "%u"), lockTimeoutMs: 2000 }).open("alice", undefined));
    expect(error.kind).toBe("perm");
    expect(error.detail).toContain("fifo");
  });

  test("an mbox that is a symlink is refused", async () => {
    const dir = tempDir("hostile");
    writeFileSync(join(dir, "elsewhere"), mboxOf([message(1)]));
    symlinkSync(join(dir, "elsewhere"), join(dir, "alice"));
    const error = await openError(new MboxStore({ pathTemplate: join(dir, "%u"), lockTimeoutMs: 2000 }).open("alice", undefined));
    expect(error.detail).toContain("symlink");
  });
});

describe("Cyrus", () => {
  let spool: SpoolCopy | undefined;
  afterEach(() => spool?.remove());

  test("a message file replaced by a symlink or a FIFO is refused at RETR", async () => {
    spool = copySpool();
    const drop = await new CyrusStore(spool.options()).open("carol", undefined);
    try {
      writeFileSync(join(spool.dir, "secret"), "secret\n");
      renameSync(join(spool.carolDir, "1."), join(spool.dir, "one"));
      symlinkSync(join(spool.dir, "secret"), join(spool.carolDir, "1."));
      unlinkSync(join(spool.carolDir, "2."));
      mkfifo(join(spool.carolDir, "2."));
      for (const index of [0, 1]) {
        let caught: unknown;
        try {
          drop.open(index);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(StoreError);
        expect((caught as StoreError).detail).toContain("not a regular file");
      }
    } finally {
      drop.close();
    }
  });
});

describe("mbox index", () => {
  test("a FIFO planted under the index's name is no index, not a hang", async () => {
    const dir = tempDir("hostile");
    writeFileSync(join(dir, "alice"), mboxOf([message(1), message(2)]));
    mkfifo(join(dir, ".alice.pop3d-index"));
    const drop = await new MboxStore({ pathTemplate: join(dir, "%u"), lockTimeoutMs: 2000 }).open("alice", undefined);
    try {
      expect(drop.messages.length).toBe(2);
    } finally {
      drop.close();
    }
  });
});
