import { afterEach, beforeEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { MaildirStore } from "../../../src/store/maildir/index.ts";
import { deliver, makeFixture, type MaildirFixture } from "./maildir-fixture.ts";

const MESSAGES = 20_000;

let fx: MaildirFixture;

beforeEach(() => {
  fx = makeFixture();
});

afterEach(() => {
  fx.cleanup();
});

test("a 20,000-message Maildir opens (times printed, not asserted)", async () => {
  const dir = fx.maildir("big");
  const body = Buffer.from(`From: a@example.org\nSubject: load\n\n${"a line of text\n".repeat(40)}`);
  for (let i = 0; i < MESSAGES; i++) {
    const sub = i % 10 === 0 ? "new" : "cur";
    const info = sub === "cur" ? ":2,S" : "";
    writeFileSync(join(dir, sub, `${1_700_000_000 + Math.floor(i / 7)}.M${i}P1.loadhost,S=${body.length}${info}`), body);
  }
  // Directories changed within the last 100 ms are listed, not trusted; the clock is moved past that.
  let skew = 0;
  const store = new MaildirStore({ pathTemplate: fx.template, now: () => Date.now() + skew });
  const timed = async (label: string) => {
    const started = performance.now();
    const drop = await store.open("big", undefined);
    const ms = performance.now() - started;
    console.log(`maildir ${MESSAGES} messages, ${label}: ${ms.toFixed(1)} ms`);
    const uids = drop.messages.map((m) => m.uid);
    drop.close();
    return uids;
  };
  skew = 1_000;
  const first = await timed("first open (sizes every file)");
  const second = await timed("second open (uid list only)");
  deliver(dir, "one more\n");
  const third = await timed("after a delivery (lists new/ only)");
  skew = 0;
  deliver(dir, "and another\n");
  const fourth = await timed("right after a delivery (lists new/, records nothing)");
  expect(first.length).toBe(MESSAGES);
  expect(second).toEqual(first);
  expect(third).toEqual([...first, MESSAGES + 1]);
  expect(fourth).toEqual([...third, MESSAGES + 2]);
}, 120_000);
