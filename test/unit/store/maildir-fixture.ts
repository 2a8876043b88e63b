/** Temp Maildirs for store tests, filled the way an MDA does it (write in tmp/, rename into new/). */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Maildrop, MessageSource } from "../../../src/store/maildrop.ts";

export interface MaildirFixture {
  /** Directory the template points into: `${root}/%u/Maildir`. */
  readonly root: string;
  readonly template: string;
  maildir(user: string): string;
  cleanup(): void;
}

export function makeFixture(): MaildirFixture {
  const root = mkdtempSync(join(tmpdir(), "pop3d-maildir-"));
  return {
    root,
    template: `${root}/%u/Maildir`,
    maildir: (user) => createMaildir(join(root, user, "Maildir")),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function createMaildir(dir: string): string {
  for (const sub of ["tmp", "new", "cur"]) mkdirSync(join(dir, sub), { recursive: true });
  return dir;
}

let counter = 0;

/** A standard unique name; later calls sort later in delivery order unless `seconds` says otherwise. */
export function uniqueName(seconds = 1_700_000_000, extra = ""): string {
  counter++;
  return `${seconds}.M${counter}P${process.pid}Q${counter}.testhost${extra}`;
}

export interface DeliverOptions {
  name?: string;
  /** Put the file straight into cur/ with this info (e.g. "2,S"). */
  curInfo?: string;
}

/** Deliver `content`; returns the file name it got (relative to new/ or cur/). */
export function deliver(dir: string, content: string | Uint8Array, options: DeliverOptions = {}): string {
  const base = options.name ?? uniqueName();
  writeFileSync(join(dir, "tmp", base), content);
  if (options.curInfo === undefined) {
    renameSync(join(dir, "tmp", base), join(dir, "new", base));
    return base;
  }
  const name = `${base}:${options.curInfo}`;
  renameSync(join(dir, "tmp", base), join(dir, "cur", name));
  return name;
}

export function filesIn(dir: string): { new: string[]; cur: string[] } {
  return { new: readdirSync(join(dir, "new")).sort(), cur: readdirSync(join(dir, "cur")).sort() };
}

export function readSource(source: MessageSource, chunk = 7): string {
  const parts: Buffer[] = [];
  const buffer = Buffer.alloc(chunk);
  for (let n; (n = source.read(buffer)) > 0; ) parts.push(Buffer.from(buffer.subarray(0, n)));
  source.close();
  return Buffer.concat(parts).toString("latin1");
}

export function readMessage(drop: Maildrop, index: number): string {
  return readSource(drop.open(index));
}

/** uid → message text, for comparing snapshots. */
export function contentsByUid(drop: Maildrop): Map<number, string> {
  return new Map(drop.messages.map((m, i) => [m.uid, readMessage(drop, i)]));
}
