import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { MaildirStore } from "../../../src/store/maildir/index.ts";
import { UID_LIST_FILE, UID_LIST_LOCK_FILE } from "../../../src/store/maildir/uid-list.ts";
import { holdLockInChild } from "../sys/lock-child.ts";
import { contentsByUid, deliver, makeFixture, type MaildirFixture } from "./maildir-fixture.ts";

const STORE_MODULE = resolve(import.meta.dir, "../../../src/store/maildir/index.ts");
const FIXTURE_MODULE = resolve(import.meta.dir, "maildir-fixture.ts");

let fx: MaildirFixture;
let dir: string;

beforeEach(() => {
  fx = makeFixture();
  dir = fx.maildir("alice");
});

afterEach(() => {
  fx.cleanup();
});

/** uid → content as seen by a separate process opening the same Maildir. */
async function contentsFromChild(): Promise<Array<[number, string]>> {
  const code = `
    import { MaildirStore } from ${JSON.stringify(STORE_MODULE)};
    import { contentsByUid } from ${JSON.stringify(FIXTURE_MODULE)};
    const drop = await new MaildirStore({ pathTemplate: ${JSON.stringify(fx.template)} }).open("alice", undefined);
    console.log(JSON.stringify([...contentsByUid(drop)]));
    drop.close();`;
  const child = Bun.spawn([process.execPath, "-e", code], { stdout: "pipe", stderr: "pipe" });
  const [out, err, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (status !== 0) throw new Error(`child store exited ${status}: ${err}`);
  return JSON.parse(out);
}

async function contentsHere(): Promise<Array<[number, string]>> {
  const drop = await new MaildirStore({ pathTemplate: fx.template }).open("alice", undefined);
  const contents = [...contentsByUid(drop)];
  drop.close();
  return contents;
}

test("concurrent first opens in several processes agree on every UID", async () => {
  for (let i = 0; i < 40; i++) deliver(dir, `message ${i}\n`, i % 2 === 0 ? {} : { curInfo: "2,S" });
  const views = await Promise.all([contentsFromChild(), contentsFromChild(), contentsFromChild(), contentsHere(), contentsHere()]);
  expect(views[0].length).toBe(40);
  expect(new Set(views[0].map(([uid]) => uid)).size).toBe(40);
  for (const view of views.slice(1)) expect(view).toEqual(views[0]);
});

test("UIDs are the same after a restart (a new process)", async () => {
  for (let i = 0; i < 5; i++) deliver(dir, `message ${i}\n`);
  const here = await contentsHere();
  expect(await contentsFromChild()).toEqual(here);
  deliver(dir, "after restart\n");
  const child = await contentsFromChild();
  expect(child.slice(0, 5)).toEqual(here);
  expect(child[5]).toEqual([6, "after restart\n"]);
});

test("an open that must update the uid list waits for another process holding its lock", async () => {
  deliver(dir, "waiting\n");
  const lockPath = `${dir}/${UID_LIST_LOCK_FILE}`;
  await Bun.write(lockPath, "");
  const holder = await holdLockInChild(lockPath, "write");
  let opened = false;
  const opening = new MaildirStore({ pathTemplate: fx.template }).open("alice", undefined).then((drop) => {
    opened = true;
    return drop;
  });
  for (let i = 0; i < 5; i++) await Bun.sleep(2);
  expect(opened).toBe(false);
  expect(existsSync(`${dir}/${UID_LIST_FILE}`)).toBe(false);
  await holder.release();
  const drop = await opening;
  expect(drop.messages.map((m) => m.uid)).toEqual([1]);
  drop.close();
});
