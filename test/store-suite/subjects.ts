/**
 * The stores the behaviour suite runs against, each behind the same small adapter: how to build
 * the store, how an MDA delivers into it, and how a separate process opens it (for kill -9).
 */
import { fstatSync, mkdtempSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { MailStore } from "../../src/store/maildrop.ts";
import { MaildirStore } from "../../src/store/maildir/index.ts";
import { MboxStore } from "../../src/store/mbox/index.ts";
import { withMboxLock } from "../../src/store/mbox/mbox-lock.ts";
import { CyrusStore, cyrusStoreOptions } from "../../src/store/cyrus/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { MemoryStore } from "../support/memory-store.ts";
import { createMaildir, deliver as deliverToMaildir } from "../unit/store/maildir-fixture.ts";
import { CyrusInstance } from "../e2e/cyrus/cyrus-instance.ts";

const SRC = resolve(import.meta.dir, "../../src");

export interface StoreSubject {
  readonly name: string;
  readonly user: string;
  store(): MailStore;
  /** An MDA delivering `message` now. */
  deliver(message: string): Promise<void>;
  /**
   * Module source for a child process that prints "opened", deletes the messages whose UIDs are
   * in argv[2] (comma-separated) and commits; undefined for a store that lives in memory only.
   */
  readonly quitDriver: string | undefined;
  cleanup(): Promise<void>;
}

function driver(imports: string, makeStore: string, user: string): string {
  return `${imports}
const store = ${makeStore};
const drop = await store.open(${JSON.stringify(user)}, undefined);
const ids = new Set(process.argv[2].split(",").map(Number));
const deleted = [];
for (let i = 0; i < drop.messages.length; i++) if (ids.has(drop.messages[i].uid)) deleted.push(i);
console.log("opened");
await drop.commit({ deleted, retrieved: [] });
console.log("committed");
`;
}

export function maildirSubject(): StoreSubject {
  const root = mkdtempSync(join(tmpdir(), "pop3d-suite-maildir-"));
  const template = `${root}/%u/Maildir`;
  const dir = createMaildir(join(root, "alice", "Maildir"));
  return {
    name: "Maildir",
    user: "alice",
    store: () => new MaildirStore({ pathTemplate: template }),
    deliver: async (message) => void deliverToMaildir(dir, message),
    quitDriver: driver(
      `import { MaildirStore } from ${JSON.stringify(`${SRC}/store/maildir/index.ts`)};`,
      `new MaildirStore({ pathTemplate: ${JSON.stringify(template)} })`,
      "alice",
    ),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
}

let mboxCounter = 0;

export function mboxSubject(): StoreSubject {
  const root = mkdtempSync(join(tmpdir(), "pop3d-suite-mbox-"));
  const template = `${root}/%u`;
  writeFileSync(join(root, "alice"), "");
  return {
    name: "mbox",
    user: "alice",
    store: () => new MboxStore({ pathTemplate: template }),
    // What an MDA appends — a From_ line, the message with From_ lines quoted, a blank line —
    // under the dotlock and the fcntl lock, as procmail and postfix local(8) take them.
    deliver: async (message) => {
      const quoted = message.replace(/^(>*From )/gm, ">$1");
      const body = quoted.endsWith("\n") ? quoted : `${quoted}\n`;
      const entry = `From sender@example.org Sat Dec  5 10:00:${String(mboxCounter++ % 60).padStart(2, "0")} 2026\n${body}\n`;
      // Written through the locked descriptor: closing another one would drop this process's fcntl lock.
      await withMboxLock(join(root, "alice"), (lock) => {
        writeSync(lock.fd!, Buffer.from(entry, "latin1"), 0, Buffer.byteLength(entry, "latin1"), fstatSync(lock.fd!).size);
      });
    },
    quitDriver: driver(
      `import { MboxStore } from ${JSON.stringify(`${SRC}/store/mbox/index.ts`)};`,
      `new MboxStore({ pathTemplate: ${JSON.stringify(template)}, lockTimeoutMs: 20000 })`,
      "alice",
    ),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A real Cyrus installation (imapd, lmtpd under master); mail arrives through Cyrus's deliver. */
export async function cyrusSubject(): Promise<StoreSubject> {
  const cyrus = await CyrusInstance.start({ users: { alice: "alice-pw" }, mailboxes: [{ name: "user/alice" }] });
  const options = () => cyrusStoreOptions(loadConfig(cyrus.confPath, "pop3"));
  return {
    name: "Cyrus",
    user: "alice",
    store: () => new CyrusStore(options()),
    deliver: async (message) => {
      // Files our store rewrote in this (root) process go back to Cyrus's account first, as the
      // server's pop3_run_as would have made them, or lmtpd could not update the mailbox.
      const chown = Bun.spawnSync(["chown", "-R", `--reference=${cyrus.confPath}`, cyrus.dir]);
      if (chown.exitCode !== 0) throw new Error(`chown: ${chown.stderr.toString()}`);
      // lmtpd drops a second copy of a Message-ID it has delivered: give each its own.
      const withId = `Message-ID: <${Bun.randomUUIDv7()}@suite.test>\r\n${message.replace(/\r?\n/g, "\r\n")}`;
      await cyrus.deliver("alice", Buffer.from(withId));
    },
    quitDriver: driver(
      `import { CyrusStore, cyrusStoreOptions } from ${JSON.stringify(`${SRC}/store/cyrus/index.ts`)};
import { loadConfig } from ${JSON.stringify(`${SRC}/config/index.ts`)};`,
      `new CyrusStore(cyrusStoreOptions(loadConfig(${JSON.stringify(cyrus.confPath)}, "pop3")))`,
      "alice",
    ),
    cleanup: () => cyrus.stop(),
  };
}

export function memorySubject(): StoreSubject {
  const store = new MemoryStore({ alice: { uidValidity: 42, messages: [] } });
  return {
    name: "memory (test store)",
    user: "alice",
    store: () => store,
    deliver: async (message) => void store.deliver("alice", message),
    quitDriver: undefined,
    cleanup: async () => undefined,
  };
}
