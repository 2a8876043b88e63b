import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fcntlLockWait, lockFile, retryWithBackoff } from "../../../src/sys/file-lock.ts";
import { appendSyncLog } from "../../../src/store/cyrus/sync-log.ts";
import { holdLockInChild, probeLockFromChild } from "./lock-child.ts";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pop3d-lockwait-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("retryWithBackoff", () => {
  test("returns the first value an attempt yields", async () => {
    let calls = 0;
    const outcome = await retryWithBackoff(() => (++calls === 3 ? "got it" : undefined), { deadline: Infinity });
    expect(outcome).toEqual({ done: true, value: "got it" });
    expect(calls).toBe(3);
  });

  test("stops at the deadline after at least one attempt", async () => {
    let calls = 0;
    const outcome = await retryWithBackoff(() => void calls++, { deadline: Date.now() - 1 });
    expect(outcome).toEqual({ done: false, reason: "timeout" });
    expect(calls).toBe(1);
  });

  test("an abort ends a wait that has no deadline", async () => {
    const stop = new AbortController();
    let calls = 0;
    const waiting = retryWithBackoff(() => {
      if (++calls === 2) stop.abort();
      return undefined;
    }, { deadline: Infinity, signal: stop.signal, firstRetryMs: 1, maxRetryMs: 60_000 });
    expect(await waiting).toEqual({ done: false, reason: "aborted" });
  });

  test("the event loop keeps running while it waits", async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const deadline = Date.now() + 60;
    await retryWithBackoff(() => undefined, { deadline });
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe("fcntlLockWait", () => {
  test("gets a lock once another process lets go; an abort stops a wait without deadline", async () => {
    const path = join(dir, "accept.lock");
    writeFileSync(path, "");
    const holder = await holdLockInChild(path, "write");
    const fd = openSync(path, "r+");
    try {
      const stop = new AbortController();
      const waiting = fcntlLockWait(fd, "write", { deadline: Infinity, signal: stop.signal });
      stop.abort();
      expect(await waiting).toBe(false);
      const second = fcntlLockWait(fd, "write", { deadline: Infinity });
      await holder.release();
      expect(await second).toBe(true);
      expect(await probeLockFromChild(path, "read")).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  test("a bad descriptor is an error, not a refusal", async () => {
    const fd = openSync(join(dir, "x"), "w");
    closeSync(fd);
    await expect(fcntlLockWait(fd, "write", { deadline: Infinity })).rejects.toThrow("EBADF");
  });
});

describe("lockFile", () => {
  test("follows a file replaced by rename while it waited (mayBeReplaced)", async () => {
    const path = join(dir, "data");
    writeFileSync(path, "old");
    const holder = await holdLockInChild(path, "write");
    const waiting = lockFile(path, "read", { mayBeReplaced: true });
    writeFileSync(`${path}.NEW`, "new");
    renameSync(`${path}.NEW`, path);
    await holder.release();
    const lock = await waiting;
    try {
      expect(readFileSync(lock.fd, "utf8")).toBe("new");
    } finally {
      lock.release();
    }
  });

  test("refuses a symlink unless told to follow it", async () => {
    writeFileSync(join(dir, "target"), "");
    const link = join(dir, "link");
    require("node:fs").symlinkSync(join(dir, "target"), link);
    await expect(lockFile(link, "write")).rejects.toThrow("ELOOP");
    const lock = await lockFile(link, "write", { followSymlink: true });
    lock.release();
  });
});

describe("sync log", () => {
  test("appends wait for another session of this process holding the log's lock", async () => {
    const log = join(dir, "sync", "log");
    const first = await lockFile(log, "write", { create: { dirMode: 0o755 } });
    let appended = false;
    const appending = appendSyncLog(dir, [""], "MAILBOX user.a\n", (m) => {
      throw new Error(m);
    }).then(() => (appended = true));
    for (let i = 0; i < 5; i++) await Bun.sleep(1);
    expect(appended).toBe(false);
    first.release();
    await appending;
    expect(readFileSync(log, "utf8")).toBe("MAILBOX user.a\n");
  });
});
