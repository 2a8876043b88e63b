/**
 * Our binary with `pop3_mailstore: cyrus` on mailboxes of a real Cyrus 3.x (Debian cyrus-imapd),
 * next to Cyrus's own imapd, lmtpd and pop3d: what POP shows must equal what Cyrus's pop3d shows,
 * and after our QUIT Cyrus's imapd and its consistency tools must find the mailbox as if Cyrus's
 * pop3d had done the work.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { PopClient, cleanupAll, makeFixture, sha256, startServer, type RunningServer } from "../../support/harness.ts";
import { CyrusInstance } from "./cyrus-instance.ts";
import { expectConsistent, loginPop, popListing, retrieve } from "./pop-helpers.ts";

// Hang guard only; nothing here measures time.
setDefaultTimeout(120_000);

/** dave may log in but has no Cyrus mailbox. */
const USERS = { alice: "alice-pw", carol: "carol-pw", dave: "dave-pw" };

/** A message with its own Message-ID: lmtpd drops duplicates of one it has delivered before. */
function freshMessage(subject: string): Buffer {
  const id = `<${Bun.randomUUIDv7()}@pop.test>`;
  return Buffer.from(`From: sender@example.org\r\nTo: alice@pop.test\r\nSubject: ${subject}\r\nMessage-ID: ${id}\r\n\r\n.leading dot\r\nbody\r\n`);
}

let cyrus: CyrusInstance;
let ours: RunningServer;
let anchors: Buffer[];

beforeAll(async () => {
  anchors = makeFixture({ users: {}, anchorMessagesFor: [] }).anchorFiles.map((f) => readFileSync(f));
  cyrus = await CyrusInstance.start({
    users: USERS,
    mailboxes: [{ name: "user/alice", quotaKb: 100_000 }, { name: "user/carol" }],
  });
  for (const message of anchors) await cyrus.deliver("alice", message);
  for (const message of anchors.slice(0, 3)) await cyrus.deliver("carol", message);
  ours = await startServer(cyrus.fixture);
});

afterAll(async () => {
  await ours?.stop();
  await cyrus?.stop();
  cleanupAll();
});

describe("a Cyrus INBOX served by our binary", () => {
  test("STAT, LIST and UIDL equal Cyrus's own pop3d, RETR equals the stored message", async () => {
    const imap = await cyrus.state("alice");
    expect(imap.messages.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const mine = await loginPop(ours.port, "alice", USERS.alice);
    const theirs = await loginPop(cyrus.cyrusPop3Port, "alice", USERS.alice);
    const myListing = await popListing(mine);
    expect(myListing).toEqual(await popListing(theirs));
    expect(myListing.uidl).toEqual(imap.messages.map((m, i) => `${i + 1} ${imap.uidvalidity}.${m.uid}`));
    expect(myListing.list).toEqual(imap.messages.map((m, i) => `${i + 1} ${m.size}`));

    for (let i = 0; i < imap.messages.length; i++) {
      const body = await retrieve(mine, i + 1);
      expect(sha256(body)).toBe(imap.messages[i]!.sha256);
    }
    expect(await mine.cmd("QUIT")).toBe("+OK");
    expect(await theirs.cmd("QUIT")).toBe("+OK");
    await expectConsistent(cyrus, "alice");
  });

  test("DELE and QUIT expunge as Cyrus does: imapd sees the rest, quota and tools agree", async () => {
    const before = await cyrus.state("alice");
    const c = await loginPop(ours.port, "alice", USERS.alice);
    expect(await c.cmd("DELE 2")).toBe("+OK message deleted");
    expect(await c.cmd("DELE 5")).toBe("+OK message deleted");
    await retrieve(c, 1);
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();

    const after = await cyrus.state("alice");
    expect(after.messages.map((m) => m.uid)).toEqual([1, 3, 4, 6, 7]);
    // popuseimapflags is off: RETR leaves no \Seen behind.
    expect(after.messages.every((m) => m.flags.length === 0)).toBe(true);
    expect(after.messages.map((m) => m.sha256)).toEqual(before.messages.filter((m) => m.uid !== 2 && m.uid !== 5).map((m) => m.sha256));
    expect(after.highestmodseq).toBe(before.highestmodseq + 1);
    expect(after.uidvalidity).toBe(before.uidvalidity);

    const quota = await cyrus.imap("user", "alice", USERS.alice, "quota");
    const used = after.messages.reduce((sum, m) => sum + m.size, 0);
    expect(quota.storage).toEqual([Math.floor(used / 1024), 100_000]);
    await expectConsistent(cyrus, "alice");

    const theirs = await loginPop(cyrus.cyrusPop3Port, "alice", USERS.alice);
    expect((await popListing(theirs)).uidl).toEqual(after.messages.map((m, i) => `${i + 1} ${after.uidvalidity}.${m.uid}`));
    expect(await theirs.cmd("QUIT")).toBe("+OK");
  });

  test("a second delivery and a second session both work", async () => {
    await cyrus.deliver("alice", freshMessage("second delivery"));
    const imap = await cyrus.state("alice");
    expect(imap.messages.map((m) => m.uid)).toEqual([1, 3, 4, 6, 7, 8]);

    const c = await loginPop(ours.port, "alice", USERS.alice);
    const listing = await popListing(c);
    expect(listing.stat).toBe(`+OK ${imap.messages.length} ${imap.messages.reduce((s, m) => s + m.size, 0)}`);
    expect(listing.uidl.at(-1)).toBe(`6 ${imap.uidvalidity}.8`);
    expect(sha256(await retrieve(c, 6))).toBe(imap.messages[5]!.sha256);
    expect(await c.cmd("DELE 6")).toBe("+OK message deleted");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();

    expect((await cyrus.state("alice")).messages.map((m) => m.uid)).toEqual([1, 3, 4, 6, 7]);
    await expectConsistent(cyrus, "alice");
  });

  test("DELE of a message another client expunged meanwhile is harmless", async () => {
    const c = await loginPop(ours.port, "carol", USERS.carol);
    expect((await popListing(c)).uidl.map((l) => l.split(".")[1])).toEqual(["1", "2", "3"]);
    await cyrus.imap("user", "carol", USERS.carol, "expunge", "2");
    expect(await c.cmd("DELE 2")).toBe("+OK message deleted");
    expect(await c.cmd("DELE 3")).toBe("+OK message deleted");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();

    expect((await cyrus.state("carol")).messages.map((m) => m.uid)).toEqual([1]);
    await expectConsistent(cyrus, "carol");
  });

  test("sessions without QUIT change nothing", async () => {
    const before = await cyrus.state("alice");
    const c = await loginPop(ours.port, "alice", USERS.alice);
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    c.close();
    const again = await loginPop(ours.port, "alice", USERS.alice);
    expect((await popListing(again)).uidl.length).toBe(before.messages.length);
    expect(await again.cmd("QUIT")).toBe("+OK");
    expect(await cyrus.state("alice")).toEqual(before);
  });

  test("a user without a Cyrus mailbox gets Cyrus's [SYS/TEMP] answer and may retry", async () => {
    const c = await PopClient.connect(ours.port);
    expect(await c.cmd("USER dave")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd(`PASS ${USERS.dave}`)).toBe("-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist");
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd(`PASS ${USERS.alice}`)).toStartWith("+OK Mailbox locked and ready");
    expect(await c.cmd("QUIT")).toBe("+OK");
  });
});
