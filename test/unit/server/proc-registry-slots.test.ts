/**
 * Proc entry names (src/server/proc-registry.ts): a one-session process uses its bare pid, as
 * Cyrus does; a process that may serve several sessions names each `<pid + slot × 2^22>`, which no
 * real pid reaches and which Cyrus's proc_foreach still parses as a positive 32-bit pid.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_PROC_SLOTS, ProcFileRegistry, pidOfProcEntry, procEntryName } from "../../../src/server/proc-registry.ts";

const dir = mkdtempSync(join(tmpdir(), "proc-slots-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const entry = (userid: string) => ({ service: "pop3", clientHost: "h", userid, mailbox: userid });

test("names decode to the pid and stay positive 32-bit numbers", () => {
  const pid = 4194303; // the largest pid Linux can give
  for (const slot of [0, 1, MAX_PROC_SLOTS - 1]) {
    const name = procEntryName(pid, slot);
    expect(Number(name)).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(pidOfProcEntry(name)).toBe(pid);
  }
});

test("one-session registry: the bare pid; shared registry: never the bare pid, one file per session", () => {
  const single = new ProcFileRegistry(join(dir, "single"));
  const a = {};
  single.update(a, entry("alice"));
  expect(readdirSync(join(dir, "single"))).toEqual([String(process.pid)]);
  single.remove(a);

  const shared = new ProcFileRegistry(join(dir, "shared"), true);
  const keys = [{}, {}, {}];
  keys.forEach((k, i) => shared.update(k, entry(`user${i}`)));
  const names = readdirSync(join(dir, "shared")).sort();
  expect(names).toHaveLength(3);
  expect(names).not.toContain(String(process.pid));
  for (const n of names) expect(pidOfProcEntry(n)).toBe(process.pid);
  expect(shared.count("pop3", "h", "user1")).toEqual({ host: 3, user: 1 });
  shared.remove(keys[1]!);
  expect(readdirSync(join(dir, "shared"))).toHaveLength(2);
});
