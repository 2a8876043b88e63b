import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fcntlGetLock, fcntlSetLock, LibcError } from "../../../src/sys/libc.ts";
import { holdLockInChild, probeLockFromChild } from "./lock-child.ts";

let dir: string;
let path: string;
let fd: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pop3d-libc-"));
  path = join(dir, "lockfile");
  writeFileSync(path, "");
  fd = openSync(path, "r+");
});

afterEach(() => {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

describe("fcntlSetLock", () => {
  test("a write lock keeps another process out until it is released", async () => {
    expect(fcntlSetLock(fd, "write")).toBe(true);
    expect(await probeLockFromChild(path, "write")).toBe(false);
    expect(await probeLockFromChild(path, "read")).toBe(false);
    expect(fcntlSetLock(fd, "unlock")).toBe(true);
    expect(await probeLockFromChild(path, "write")).toBe(true);
  });

  test("read locks are shared but exclude writers", async () => {
    expect(fcntlSetLock(fd, "read")).toBe(true);
    expect(await probeLockFromChild(path, "read")).toBe(true);
    expect(await probeLockFromChild(path, "write")).toBe(false);
  });

  test("a lock held by another process is refused without blocking, not thrown", async () => {
    const holder = await holdLockInChild(path, "write");
    try {
      expect(fcntlSetLock(fd, "read")).toBe(false);
      expect(fcntlSetLock(fd, "write")).toBe(false);
    } finally {
      await holder.release();
    }
    expect(fcntlSetLock(fd, "write")).toBe(true);
  });

  test("other failures throw with the errno", () => {
    const closed = openSync(path, "r");
    closeSync(closed);
    let caught: unknown;
    try {
      fcntlSetLock(closed, "write");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LibcError);
    expect((caught as LibcError).errno).toBe(9);
    expect((caught as LibcError).code).toBe("EBADF");
    expect((caught as Error).message).toContain("EBADF");
  });
});

describe("fcntlGetLock", () => {
  test("reports the other process holding the lock", async () => {
    expect(fcntlGetLock(fd, "write")).toBeNull();
    const holder = await holdLockInChild(path, "read");
    try {
      expect(fcntlGetLock(fd, "read")).toBeNull();
      expect(fcntlGetLock(fd, "write")).toEqual({ type: "read", pid: holder.pid, start: 0, len: 0 });
    } finally {
      await holder.release();
    }
  });
});
