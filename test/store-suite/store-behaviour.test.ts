/**
 * One behaviour suite, the same checks against every store (Maildir, mbox, Cyrus, and the
 * in-memory store the protocol tests use): sizes, UIDL stability, DELE/RSET/QUIT, mail delivered
 * during a session, and kill -9 during QUIT.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { crlfSize } from "../../src/store/crlf-size.ts";
import type { Maildrop } from "../../src/store/maildrop.ts";
import { readLine } from "../unit/store/mbox/mbox-test-kit.ts";
import { cyrusSubject, maildirSubject, mboxSubject, memorySubject, type StoreSubject } from "./subjects.ts";

// Hang guard only (Cyrus start-up and deliveries); nothing here measures time.
setDefaultTimeout(120_000);

const SUBJECTS: Array<[string, () => StoreSubject | Promise<StoreSubject>]> = [
  ["Maildir", maildirSubject],
  ["mbox", mboxSubject],
  ["Cyrus", cyrusSubject],
  ["memory (test store)", memorySubject],
];

/** Messages of every shape a size can go wrong on: LF, CRLF, mixed, no final newline, dots. */
const SHAPES = [
  "From: a@example.org\nSubject: lf\n\nplain LF body\n",
  "From: a@example.org\r\nSubject: crlf\r\n\r\nCRLF body\r\n",
  "From: a@example.org\nSubject: mixed\r\n\nmixed\r\nline ends\n",
  "From: a@example.org\nSubject: unterminated\n\nno final newline",
  "From: a@example.org\nSubject: dots\n\n.\n..leading dots\nFrom inside the body\n",
];

function readAll(drop: Maildrop, index: number): Buffer {
  const source = drop.open(index);
  const parts: Buffer[] = [];
  const chunk = Buffer.alloc(4096);
  try {
    for (let n; (n = source.read(chunk)) > 0; ) parts.push(Buffer.from(chunk.subarray(0, n)));
  } finally {
    source.close();
  }
  return Buffer.concat(parts);
}

async function withDrop<T>(subject: StoreSubject, fn: (drop: Maildrop) => T | Promise<T>): Promise<T> {
  const drop = await subject.store().open(subject.user, undefined);
  try {
    return await fn(drop);
  } finally {
    drop.close();
  }
}

const uidsOf = (subject: StoreSubject) => withDrop(subject, (drop) => drop.messages.map((m) => m.uid));

/** Subject line → uid, the way a client recognises its messages. */
const subjectsByUid = (subject: StoreSubject) =>
  withDrop(subject, (drop) => new Map(drop.messages.map((m, i) => [m.uid, /Subject: ([^\r\n]*)/.exec(readAll(drop, i).toString("latin1"))?.[1] ?? ""])));

for (const [name, make] of SUBJECTS) {
  describe(`store behaviour: ${name}`, () => {
    let subject: StoreSubject;

    beforeAll(async () => {
      subject = await make();
      for (const shape of SHAPES) await subject.deliver(shape);
    });

    afterAll(async () => {
      await subject?.cleanup();
    });

    test("every listed size is the size RETR sends (CRLF line ends, final CRLF)", async () => {
      await withDrop(subject, (drop) => {
        expect(drop.messages.length).toBe(SHAPES.length);
        drop.messages.forEach((m, i) => {
          const bytes = readAll(drop, i);
          expect(m.size).toBe(crlfSize(bytes));
        });
      });
    });

    test("UIDs and UIDVALIDITY stay the same across logins, and new mail gets higher UIDs", async () => {
      const first = await withDrop(subject, (drop) => ({ validity: drop.uidValidity, uids: drop.messages.map((m) => m.uid) }));
      const second = await withDrop(subject, (drop) => ({ validity: drop.uidValidity, uids: drop.messages.map((m) => m.uid) }));
      expect(second).toEqual(first);
      expect(new Set(first.uids).size).toBe(first.uids.length);
      await subject.deliver("From: a@example.org\nSubject: later\n\nlater\n");
      const third = await uidsOf(subject);
      expect(third.slice(0, first.uids.length)).toEqual(first.uids);
      expect(third.length).toBe(first.uids.length + 1);
      expect(third.at(-1)!).toBeGreaterThan(Math.max(...first.uids));
    });

    test("a session that ends without QUIT, or after RSET, removes nothing", async () => {
      const before = await subjectsByUid(subject);
      const dropped = await subject.store().open(subject.user, undefined);
      dropped.close();
      // RSET undoes every DELE: the session commits no deletions.
      await withDrop(subject, (drop) => drop.commit({ deleted: [], retrieved: [0] }));
      expect(await subjectsByUid(subject)).toEqual(before);
    });

    test("DELE then QUIT removes exactly the marked messages; the rest keep their UIDs", async () => {
      const before = await subjectsByUid(subject);
      const uids = [...before.keys()];
      const result = await withDrop(subject, (drop) => drop.commit({ deleted: [0, 2], retrieved: [] }));
      expect(result.expunged).toBe(2);
      const after = await subjectsByUid(subject);
      expect([...after.keys()]).toEqual(uids.filter((_, i) => i !== 0 && i !== 2));
      for (const [uid, line] of after) expect(line).toBe(before.get(uid)!);
    });

    test("mail delivered during a session is not in its snapshot and survives its QUIT", async () => {
      const drop = await subject.store().open(subject.user, undefined);
      try {
        const seen = drop.messages.map((m) => m.uid);
        await subject.deliver("From: a@example.org\nSubject: during\n\narrived mid-session\n");
        expect(drop.messages.map((m) => m.uid)).toEqual(seen);
        await drop.commit({ deleted: [0], retrieved: [] });
      } finally {
        drop.close();
      }
      const after = await subjectsByUid(subject);
      expect([...after.values()]).toContain("during");
      expect(after.size).toBeGreaterThan(0);
    });

    test("mail delivered while a QUIT runs is never lost", async () => {
      const before = await subjectsByUid(subject);
      const drop = await subject.store().open(subject.user, undefined);
      try {
        const deliveries = (async () => {
          for (let i = 0; i < 4; i++) await subject.deliver(`From: a@example.org\nSubject: racing ${i}\n\nracing the QUIT\n`);
        })();
        await Promise.all([drop.commit({ deleted: [0, 1], retrieved: [] }), deliveries]);
      } finally {
        drop.close();
      }
      const after = await subjectsByUid(subject);
      const lines = [...after.values()];
      for (let i = 0; i < 4; i++) expect(lines).toContain(`racing ${i}`);
      const [first, second] = [...before.keys()];
      expect(after.has(first!) || after.has(second!)).toBe(false);
      for (const [uid, line] of before) if (uid !== first && uid !== second) expect(after.get(uid)).toBe(line);
    });

    test("kill -9 at random moments of QUIT: all of that QUIT's deletions or none", async () => {
      if (subject.quitDriver === undefined) return; // the memory store has nothing a crash could leave behind
      const driverPath = `${process.env.TMPDIR ?? "/tmp"}/pop3d-suite-driver-${process.pid}-${name.replace(/\W/g, "")}.ts`;
      await Bun.write(driverPath, subject.quitDriver);
      for (let i = 0; i < 12; i++) await subject.deliver(`From: a@example.org\nSubject: bulk ${i}\n\n${"bulk line\n".repeat(50 + i)}`);
      let held = await subjectsByUid(subject);
      let windowMs = 0;
      try {
        for (let iteration = 0; iteration < 6 && held.size >= 4; iteration++) {
          const victims = [...held.keys()].filter((_, i) => i % 2 === iteration % 2).slice(0, 4);
          const child = Bun.spawn([process.execPath, driverPath, victims.join(",")], { stdout: "pipe", stderr: "pipe" });
          expect(await readLine(child.stdout)).toBe("opened");
          const started = performance.now();
          if (iteration === 0) {
            // One QUIT left alone shows how long a commit takes, so later kills land inside one.
            expect(await readLine(child.stdout)).toBe("committed");
            windowMs = performance.now() - started;
          } else {
            await Bun.sleep(Math.random() * windowMs * 1.2);
            child.kill(9);
          }
          await child.exited;
          const now = await subjectsByUid(subject);
          const none = now.size === held.size && [...held].every(([uid, line]) => now.get(uid) === line);
          const all = now.size === held.size - victims.length && [...held].every(([uid, line]) => victims.includes(uid) || now.get(uid) === line);
          expect({ iteration, allOrNothing: none || all }).toEqual({ iteration, allOrNothing: true });
          held = now;
        }
      } finally {
        rmSync(driverPath, { force: true });
      }
    });
  });
}
