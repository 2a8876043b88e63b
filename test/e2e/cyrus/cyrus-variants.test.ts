/**
 * Our Cyrus mailstore under other Cyrus settings: legacy by-name spools with hashing and virtual
 * domains, popuseimapflags with immediate expunge, popminpoll, and a corrupt index.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { PopClient, cleanupAll, makeFixture, sha256, startServer, type RunningServer } from "../../support/harness.ts";
import { CyrusInstance } from "./cyrus-instance.ts";
import { expectConsistent, loginPop, popListing, retrieve } from "./pop-helpers.ts";

setDefaultTimeout(120_000);

let anchors: Buffer[];
let anchorFiles: string[];
beforeAll(() => {
  anchorFiles = makeFixture({ users: {}, anchorMessagesFor: [] }).anchorFiles;
  anchors = anchorFiles.slice(0, 5).map((f) => readFileSync(f));
});
afterAll(cleanupAll);

async function bothListings(cyrus: CyrusInstance, ours: RunningServer, user: string): Promise<void> {
  const password = cyrus.users[user]!;
  const mine = await loginPop(ours.port, user, password);
  const theirs = await loginPop(cyrus.cyrusPop3Port, user, password);
  expect(await popListing(mine)).toEqual(await popListing(theirs));
  expect(await mine.cmd("QUIT")).toBe("+OK");
  expect(await theirs.cmd("QUIT")).toBe("+OK");
}

describe("legacy by-name spool: hashimapspool, fulldirhash, virtual domains, popuseimapflags, immediate expunge", () => {
  const users = { "alice@example.com": "alice-pw", "bob.smith": "bob-pw" };
  let cyrus: CyrusInstance;
  let ours: RunningServer;

  beforeAll(async () => {
    cyrus = await CyrusInstance.start({
      users,
      mailboxes: [{ name: "user/alice@example.com", quotaKb: 50_000 }, { name: "user/bob.smith" }, { name: "user/bob.smith/Archive.2024" }],
      config: {
        mailbox_legacy_dirs: "yes",
        hashimapspool: "yes",
        fulldirhash: "yes",
        virtdomains: "userid",
        mboxname_lockpath: "{dir}/locks",
        popuseimapflags: "yes",
        expunge_mode: "immediate",
        popsubfolders: "yes",
      },
    });
    for (const m of anchors) await cyrus.deliver("alice@example.com", m);
    for (const m of anchors.slice(0, 2)) await cyrus.deliver("bob.smith", m);
    ours = await startServer(cyrus.fixture);
  });
  afterAll(async () => {
    await ours?.stop();
    await cyrus?.stop();
  });

  test("Cyrus stored these mailboxes by name, and we list them as Cyrus's pop3d does", async () => {
    const alicePath = await cyrus.mailboxPath("user/alice@example.com");
    expect(alicePath).toMatch(/\/domain\/[A-W]\/example\.com\/[A-W]\/user\/alice$/);
    expect(await cyrus.mailboxPath("user/bob.smith")).toMatch(/\/[A-W]\/user\/bob\^smith$/);
    await bothListings(cyrus, ours, "alice@example.com");
    await bothListings(cyrus, ours, "bob.smith");
  });

  test("\\Deleted messages are hidden, RETR sets \\Seen, DELE expunges and Cyrus cleans up", async () => {
    const user = "alice@example.com";
    await cyrus.imap("user", user, users[user], "store", "2", "+FLAGS", "(\\Deleted)");
    await bothListings(cyrus, ours, user);

    const before = await cyrus.state(user);
    const c = await loginPop(ours.port, user, users[user]);
    const listing = await popListing(c);
    expect(listing.uidl.map((l) => l.split(".")[1])).toEqual(["1", "3", "4", "5"]);
    expect(sha256(await retrieve(c, 1))).toBe(before.messages[0]!.sha256);
    expect(sha256(await retrieve(c, 3))).toBe(before.messages[3]!.sha256);
    expect(await c.cmd("TOP 4 0")).toBe("+OK Message follows");
    await c.readMultiline();
    expect(await c.cmd("DELE 3")).toBe("+OK message deleted");
    expect(await c.cmd("DELE 2")).toBe("+OK message deleted");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();

    const after = await cyrus.state(user);
    expect(after.messages.map((m) => [m.uid, m.flags])).toEqual([
      [1, ["\\Seen"]],
      [2, ["\\Deleted"]],
      [5, []],
    ]);
    await expectConsistent(cyrus, user);
    // expunge_mode immediate: the next Cyrus process to close the mailbox removes the files.
    const dir = await cyrus.mailboxPath("user/alice@example.com");
    await cyrus.state(user);
    expect([3, 4].map((uid) => existsSync(`${dir}/${uid}.`))).toEqual([false, false]);
    expect(existsSync(`${dir}/5.`)).toBe(true);
  });

  test("popsubfolders: user+folder opens the INBOX child, as with Cyrus's pop3d", async () => {
    for (const f of [2, 3]) await cyrus.imap("user", "bob.smith", users["bob.smith"], "append", "Archive.2024", anchorFiles[f]!);
    const login = "bob.smith+Archive.2024";
    const mine = await loginPop(ours.port, login, users["bob.smith"]);
    const theirs = await loginPop(cyrus.cyrusPop3Port, login, users["bob.smith"]);
    const listing = await popListing(mine);
    expect(listing).toEqual(await popListing(theirs));
    expect(listing.list.length).toBe(2);
    expect(await theirs.cmd("QUIT")).toBe("+OK");
    expect(await mine.cmd("DELE 1")).toBe("+OK message deleted");
    expect(await mine.cmd("QUIT")).toBe("+OK");
    const check = await cyrus.tool("reconstruct", ["-n", "-G", "-f", "user/bob.smith/Archive.2024"]);
    expect(check.stdout.toString()).toBe("user/bob.smith/Archive.2024\n");
  });

  test("a user with a dot in the name", async () => {
    const c = await loginPop(ours.port, "bob.smith", users["bob.smith"]);
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    expect(await c.cmd("QUIT")).toBe("+OK");
    expect((await cyrus.state("bob.smith")).messages.map((m) => m.uid)).toEqual([2]);
    await expectConsistent(cyrus, "bob.smith");
  });
});

describe("popminpoll and a corrupt index", () => {
  const users = { erin: "erin-pw", frank: "frank-pw", gina: "gina-pw", hank: "hank-pw" };
  let cyrus: CyrusInstance;
  let ours: RunningServer;

  beforeAll(async () => {
    cyrus = await CyrusInstance.start({
      users,
      mailboxes: Object.keys(users).map((u) => ({ name: `user/${u}` })),
      config: { popminpoll: "1" },
    });
    for (const u of Object.keys(users)) for (const m of anchors.slice(0, 2)) await cyrus.deliver(u, m);
    ours = await startServer(cyrus.fixture);
  });
  afterAll(async () => {
    await ours?.stop();
    await cyrus?.stop();
  });

  async function loginReply(port: number, user: string): Promise<string> {
    const c = await PopClient.connect(port);
    expect(await c.cmd(`USER ${user}`)).toBe("+OK Name is a valid mailbox");
    const reply = await c.cmd(`PASS ${users[user as keyof typeof users]}`);
    expect(await c.cmd("QUIT")).toBe("+OK");
    return reply;
  }

  const DELAY = "-ERR [LOGIN-DELAY] Logins must be at least 1 minute apart";

  test("our QUIT records the login for our binary and for Cyrus's pop3d", async () => {
    expect(await loginReply(ours.port, "erin")).toStartWith("+OK Mailbox locked and ready");
    expect(await loginReply(ours.port, "erin")).toBe(DELAY);
    expect(await loginReply(cyrus.cyrusPop3Port, "erin")).toBe(DELAY);
  });

  test("Cyrus's pop3d QUIT delays our next login", async () => {
    expect(await loginReply(cyrus.cyrusPop3Port, "frank")).toStartWith("+OK Mailbox locked and ready");
    expect(await loginReply(ours.port, "frank")).toBe(DELAY);
  });

  test("a session that ends without QUIT does not count", async () => {
    const c = await loginPop(ours.port, "gina", users.gina);
    c.close();
    await c.closed();
    expect(await loginReply(ours.port, "gina")).toStartWith("+OK Mailbox locked and ready");
  });

  test("a record with a bad CRC: [SYS/PERM], and the index is not written", async () => {
    const index = `${await cyrus.mailboxPath("user/hank")}/cyrus.index`;
    const bytes = readFileSync(index);
    const startOffset = bytes.readUInt32BE(12);
    bytes[startOffset + 12] ^= 0x01; // record 1's size, CRC left as it was
    writeFileSync(index, bytes);
    const corrupt = sha256(bytes);

    expect(await loginReply(ours.port, "hank")).toBe("-ERR [SYS/PERM] Unable to open maildrop: Mailbox format corruption detected");
    expect(sha256(readFileSync(index))).toBe(corrupt);
    const reconstruct = await cyrus.tool("reconstruct", ["-n", "-u", "hank"]);
    expect(reconstruct.stdout.toString()).not.toBe("user/hank\n");
  });
});
