/**
 * The Maildir snapshot is compact (issue: ≤ 150 bytes a message while a session holds it), its
 * UIDs are those of the list, and a login lets the event loop run while it works.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { MaildirStore } from "../../../src/store/maildir/index.ts";
import type { MaildirMaildrop } from "../../../src/store/maildir/maildir-maildrop.ts";
import { makeFixture, type MaildirFixture } from "./maildir-fixture.ts";

// Hang guard only: 2,000 files are written and listed; nothing here measures time.
setDefaultTimeout(120_000);

const MESSAGES = 2_000;
const MAX_BYTES_PER_MESSAGE = 150;

let fx: MaildirFixture;

/** 2,000 messages in cur/, written inside each test (a hook has no timeout of its own to raise). */
function fill(): void {
  fx = makeFixture();
  const dir = fx.maildir("big");
  const body = Buffer.from("From: a@example.org\nSubject: size\n\nbody\n");
  for (let i = 0; i < MESSAGES; i++) {
    // A realistic name: Dovecot/Postfix style, with host, size fields and flags.
    const name = `${1_733_449_200 + i}.M${100_000 + i}P${20_000 + (i % 977)}.mail.example.org,S=${body.length},W=${body.length + 4}:2,S`;
    writeFileSync(join(dir, "cur", name), body);
  }
}

afterEach(() => fx?.cleanup());

test("a snapshot costs at most 150 bytes a message, and reopening keeps every UID and size", async () => {
  fill();
  const store = new MaildirStore({ pathTemplate: fx.template, now: () => Date.now() + 1_000 });
  const first = (await store.open("big", undefined)) as MaildirMaildrop;
  const again = (await store.open("big", undefined)) as MaildirMaildrop;
  try {
    expect(first.messages.length).toBe(MESSAGES);
    expect(first.snapshotBytes / MESSAGES).toBeLessThanOrEqual(MAX_BYTES_PER_MESSAGE);
    expect(again.snapshotBytes / MESSAGES).toBeLessThanOrEqual(MAX_BYTES_PER_MESSAGE);
    expect(again.messages.map((m) => [m.uid, m.size])).toEqual(first.messages.map((m) => [m.uid, m.size]));
    expect(first.messages.map((m) => m.uid)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i + 1));
    // The array view behaves like the array it replaces.
    expect(first.messages[MESSAGES]).toBeUndefined();
    expect([...first.messages].length).toBe(MESSAGES);
    expect(first.messages.at(-1)?.uid).toBe(MESSAGES);
  } finally {
    first.close();
    again.close();
  }
});

test("a first login yields to the event loop while it lists and sizes the Maildir", async () => {
  fill();
  const store = new MaildirStore({ pathTemplate: fx.template, now: () => Date.now() + 1_000 });
  let turns = 0;
  let opened = false;
  const counting = (): void => {
    if (opened) return;
    turns++;
    setImmediate(counting);
  };
  setImmediate(counting);
  const drop = await store.open("big", undefined);
  opened = true;
  drop.close();
  expect(turns).toBeGreaterThan(1);
});
