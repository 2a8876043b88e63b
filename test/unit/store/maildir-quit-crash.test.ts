/**
 * QUIT is all or nothing on a Maildir: kill -9 at random moments of a commit, and the next login
 * sees either every deletion of that QUIT or none, with every surviving message under its old UID.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MaildirStore } from "../../../src/store/maildir/index.ts";
import { EXPUNGE_INTENT_FILE, writeExpungeIntent } from "../../../src/store/maildir/expunge-intent.ts";
import { contentsByUid, deliver, makeFixture, type MaildirFixture } from "./maildir-fixture.ts";
import { readLine } from "./mbox/mbox-test-kit.ts";

const STORE_MODULE = resolve(import.meta.dir, "../../../src/store/maildir/index.ts");
const MESSAGES = 300;
const DELETES_PER_QUIT = 60;
const ITERATIONS = 12;

let fx: MaildirFixture;
let dir: string;

beforeEach(() => {
  fx = makeFixture();
  dir = fx.maildir("alice");
});

afterEach(() => fx.cleanup());

/** Opens alice's Maildir, says so, then deletes the messages with the given UIDs and commits. */
const DRIVER = `
import { MaildirStore } from ${JSON.stringify(STORE_MODULE)};
const [template, list] = process.argv.slice(2);
const drop = await new MaildirStore({ pathTemplate: template }).open("alice", undefined);
const ids = new Set(list.split(",").map(Number));
const deleted = [];
for (let i = 0; i < drop.messages.length; i++) if (ids.has(drop.messages[i].uid)) deleted.push(i);
console.log("opened");
await drop.commit({ deleted, retrieved: [] });
console.log("committed");
`;

async function contents(warnings: string[] = []): Promise<Map<number, string>> {
  const drop = await new MaildirStore({ pathTemplate: fx.template, warn: (m) => warnings.push(m) }).open("alice", undefined);
  try {
    return contentsByUid(drop);
  } finally {
    drop.close();
  }
}

test("an interrupted QUIT whose intent was recorded is finished at the next login", async () => {
  const names = Array.from({ length: 5 }, (_, i) => deliver(dir, `message ${i}\n`));
  const before = await contents();
  // The crash came after the intent and the first unlink.
  await writeExpungeIntent(dir, { uidValidity: 1, entries: [{ uid: 2, baseName: names[1]! }, { uid: 4, baseName: names[3]! }] });
  unlinkSync(join(dir, "new", names[1]!));
  const warnings: string[] = [];
  const after = await contents(warnings);
  expect([...after.keys()]).toEqual([1, 3, 5]);
  for (const [uid, text] of after) expect(text).toBe(before.get(uid)!);
  expect(existsSync(join(dir, EXPUNGE_INTENT_FILE))).toBe(false);
  expect(warnings).toEqual([`${dir}: finished an interrupted QUIT: removed 1 more of its 2 messages`]);
});

test(
  "kill -9 at random moments of QUIT: every deletion of that QUIT or none, UIDs unchanged",
  async () => {
    for (let i = 0; i < MESSAGES; i++) deliver(dir, `message ${i}\n${"x".repeat(i % 50)}\n`, i % 3 === 0 ? { curInfo: "2,S" } : {});
    const driver = join(fx.root, "driver.ts");
    writeFileSync(driver, DRIVER);
    let held = await contents();
    const original = new Map(held);
    let commitWindowMs = 0;
    const outcomes = { none: 0, all: 0 };
    for (let iteration = 0; iteration <= ITERATIONS; iteration++) {
      const victims = [...held.keys()].sort(() => Math.random() - 0.5).slice(0, DELETES_PER_QUIT);
      const proc = Bun.spawn([process.execPath, driver, fx.template, victims.join(",")], { stdout: "pipe", stderr: "pipe" });
      expect(await readLine(proc.stdout)).toBe("opened");
      const started = performance.now();
      if (iteration === 0) {
        // One QUIT left alone measures how long a commit takes, so later kills land inside one.
        expect(await readLine(proc.stdout)).toBe("committed");
        commitWindowMs = performance.now() - started;
      } else {
        await Bun.sleep(Math.random() * commitWindowMs * 1.2);
        proc.kill(9);
      }
      await proc.exited;

      const now = await contents();
      const expectedAll = new Map([...held].filter(([uid]) => !victims.includes(uid)));
      const sameAs = (m: Map<number, string>) => now.size === m.size && [...m].every(([uid, text]) => now.get(uid) === text);
      const none = sameAs(held);
      const all = sameAs(expectedAll);
      expect(none || all).toBe(true);
      outcomes[none ? "none" : "all"]++;
      for (const [uid, text] of now) expect(text).toBe(original.get(uid)!);
      expect(existsSync(join(dir, EXPUNGE_INTENT_FILE))).toBe(false);
      held = now;
      if (held.size < DELETES_PER_QUIT) break;
    }
    expect(outcomes.none + outcomes.all).toBeGreaterThan(0);
  },
  120_000,
);
