/**
 * kill -9 during a QUIT commit, at random instants: the mbox is always exactly the old file or
 * exactly the new one, the next login works (the dead holder's dotlock is stale), and every
 * surviving message keeps its UIDL.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MboxStore } from "../../../../src/store/mbox/index.ts";
import { mboxEntry, envelope, message, readLine, tempDir } from "./mbox-test-kit.ts";

const MESSAGES = 300;
const ITERATIONS = 20;
const DELETES_PER_SESSION = 3;
const STORE_MODULE = join(import.meta.dir, "../../../../src/store/mbox/index.ts");

/** Opens alice's mbox, reports, then deletes the given message numbers and commits. */
const DRIVER = `
import { MboxStore } from ${JSON.stringify(STORE_MODULE)};
const [template, list] = process.argv.slice(2);
const drop = await new MboxStore({ pathTemplate: template, lockTimeoutMs: 20000 }).open("alice", undefined);
const ids = new Set(list.split(",").map(Number));
const deleted = [];
for (let i = 0; i < drop.messages.length; i++) if (ids.has(drop.messages[i].uid)) deleted.push(i);
console.log("opened");
await drop.commit({ deleted, retrieved: [] });
console.log("committed");
`;

function bigMessage(i: number): Buffer {
  const line = `${String(i).padStart(6, "0")} ${"abcdefghij".repeat(7)}\n`;
  const body = line.repeat(200 + ((i * 37) % 400)) + (i % 5 === 0 ? ">From a quoted line\n" : "");
  return message(i, body);
}

interface Held {
  uid: number;
  bytes: Buffer;
}

function fileOf(held: Held[]): Buffer {
  return Buffer.concat(held.map((h) => mboxEntry(bigMessage(h.uid), envelope(h.uid))));
}

async function uidlsByUid(template: string): Promise<Map<number, string>> {
  const drop = await new MboxStore({ pathTemplate: template }).open("alice", undefined);
  const map = new Map(drop.messages.map((m) => [m.uid, m.uidl!]));
  drop.close();
  return map;
}

test(
  "kill -9 at random points of QUIT leaves the old mbox or the new one, never a mix",
  async () => {
    const dir = tempDir("crash");
    const path = join(dir, "alice");
    const template = join(dir, "%u");
    const driver = join(dir, "driver.ts");
    writeFileSync(driver, DRIVER);
    let held: Held[] = Array.from({ length: MESSAGES }, (_, i) => ({ uid: i + 1, bytes: Buffer.alloc(0) }));
    writeFileSync(path, fileOf(held));
    const firstUidls = await uidlsByUid(template);

    let commitWindowMs = 0;
    const outcomes = { old: 0, new: 0 };
    for (let iteration = 0; iteration <= ITERATIONS; iteration++) {
      const victims = [...held].sort(() => Math.random() - 0.5).slice(0, DELETES_PER_SESSION).map((h) => h.uid);
      const before = readFileSync(path);
      const after = fileOf(held.filter((h) => !victims.includes(h.uid)));
      const proc = Bun.spawn([process.execPath, driver, template, victims.join(",")], { stdout: "pipe", stderr: "pipe" });
      expect(await readLine(proc.stdout)).toBe("opened");
      const started = performance.now();
      if (iteration === 0) {
        // A run left alone measures how long a commit takes, so kills land inside one.
        expect(await readLine(proc.stdout)).toBe("committed");
        commitWindowMs = performance.now() - started;
      } else {
        await Bun.sleep(Math.random() * commitWindowMs * 1.2);
        proc.kill(9);
      }
      await proc.exited;

      const now = readFileSync(path);
      const isOld = now.equals(before);
      expect(isOld || now.equals(after)).toBe(true);
      if (!isOld) held = held.filter((h) => !victims.includes(h.uid));
      outcomes[isOld ? "old" : "new"]++;

      const uidls = await uidlsByUid(template);
      expect([...uidls.keys()]).toEqual(held.map((h) => h.uid));
      for (const [uid, uidl] of uidls) expect(uidl).toBe(firstUidls.get(uid)!);
      expect(existsSync(`${path}.lock`)).toBe(false);
    }
    expect(outcomes.old + outcomes.new).toBe(ITERATIONS + 1);
  },
  120_000,
);
