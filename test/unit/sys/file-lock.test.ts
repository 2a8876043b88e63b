import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileLockTimeoutError, withFileLock } from "../../../src/sys/file-lock.ts";
import { holdLockInChild, probeLockFromChild } from "./lock-child.ts";

let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pop3d-filelock-"));
  path = join(dir, "list.lock");
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("withFileLock", () => {
  test("creates the lock file and holds a lock other processes see while fn runs", async () => {
    const seenInside = await withFileLock(path, "write", async () => {
      expect(existsSync(path)).toBe(true);
      return probeLockFromChild(path, "read");
    });
    expect(seenInside).toBe(false);
    expect(await probeLockFromChild(path, "write")).toBe(true);
  });

  test("a read lock lets other readers in but not writers", async () => {
    const [reader, writer] = await withFileLock(path, "read", () =>
      Promise.all([probeLockFromChild(path, "read"), probeLockFromChild(path, "write")]),
    );
    expect(reader).toBe(true);
    expect(writer).toBe(false);
  });

  test("returns fn's value and releases the lock when fn throws", async () => {
    expect(await withFileLock(path, "write", () => 42)).toBe(42);
    await expect(withFileLock(path, "write", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await probeLockFromChild(path, "write")).toBe(true);
  });

  test("callers in the same process take turns", async () => {
    const events: string[] = [];
    const firstMayFinish = deferred();
    const firstEntered = deferred();
    const first = withFileLock(path, "write", async () => {
      events.push("first in");
      firstEntered.resolve();
      await firstMayFinish.promise;
      events.push("first out");
    });
    await firstEntered.promise;
    const second = withFileLock(path, "write", () => {
      events.push("second in");
    });
    // Give the second caller every chance to run early.
    for (let i = 0; i < 5; i++) await Bun.sleep(1);
    expect(events).toEqual(["first in"]);
    firstMayFinish.resolve();
    await Promise.all([first, second]);
    expect(events).toEqual(["first in", "first out", "second in"]);
  });

  test("waits for another process to let go", async () => {
    const holder = await holdLockInChild(await touch(path), "write");
    let ran = false;
    const waiting = withFileLock(path, "write", () => {
      ran = true;
    });
    for (let i = 0; i < 5; i++) await Bun.sleep(1);
    expect(ran).toBe(false);
    await holder.release();
    await waiting;
    expect(ran).toBe(true);
  });

  test("gives up with a clear error naming the holder", async () => {
    const holder = await holdLockInChild(await touch(path), "write");
    try {
      let ran = false;
      const attempt = withFileLock(path, "read", () => {
        ran = true;
      }, 30);
      await expect(attempt).rejects.toBeInstanceOf(FileLockTimeoutError);
      await expect(attempt).rejects.toThrow(`timed out after 30 ms waiting for a read lock on ${path} (held by pid ${holder.pid})`);
      expect(ran).toBe(false);
    } finally {
      await holder.release();
    }
  });

  test("gives up on a holder in the same process too", async () => {
    const release = deferred();
    const entered = deferred();
    const holder = withFileLock(path, "write", async () => {
      entered.resolve();
      await release.promise;
    });
    await entered.promise;
    await expect(withFileLock(path, "write", () => 1, 20)).rejects.toThrow("held in this process");
    release.resolve();
    await holder;
    expect(await withFileLock(path, "write", () => 2)).toBe(2);
  });
});

async function touch(file: string): Promise<string> {
  await Bun.write(file, "");
  return file;
}
