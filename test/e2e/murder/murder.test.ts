/**
 * Our binary in a real Cyrus Murder (murder.ts): a mupdate master, two backends and a frontend
 * built from Debian's packages on loopback. The frontend's `pop3` service is our binary; Cyrus's
 * own pop3d runs next to it as `pop3cyrus`, so every answer can be compared with Cyrus's.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { PopClient, cleanupAll, makeFixture, sha256 } from "../../support/harness.ts";
import { loginPop, popListing, retrieve } from "../cyrus/pop-helpers.ts";
import { Murder } from "./murder.ts";

// Hang guard only; nothing here measures time.
setDefaultTimeout(120_000);

const USERS = { alice: "alice-pw", bob: "bob-pw", carol: "carol-pw" };

let murder: Murder;
let anchors: Buffer[];

beforeAll(async () => {
  anchors = makeFixture({ users: {}, anchorMessagesFor: [] }).anchorFiles.map((f) => readFileSync(f));
  murder = await Murder.start({ users: USERS });
  await murder.createUser(0, "alice");
  for (const message of anchors) await murder.deliver(0, "alice", message);
});

afterAll(async () => {
  await murder?.stop();
  cleanupAll();
});

describe("the test Murder itself", () => {
  test("Cyrus's own pop3d on the frontend serves alice's INBOX from backend 1", async () => {
    expect(await murder.frontendLocation("user/alice")).toBe(murder.backends[0].servername);
    const imap = await murder.state(0, "alice");
    expect(imap.messages).toHaveLength(anchors.length);
    const c = await loginPop(murder.cyrusFrontendPort, "alice", USERS.alice);
    const listing = await popListing(c);
    expect(listing.list).toEqual(imap.messages.map((m, i) => `${i + 1} ${m.size}`));
    for (let i = 0; i < imap.messages.length; i++) expect(sha256(await retrieve(c, i + 1))).toBe(imap.messages[i]!.sha256);
    expect(await c.cmd("QUIT")).toStartWith("+OK");
  });
});

describe("our binary as the frontend", () => {
  test("a USER/PASS login is proxied to backend 1: the backend's +OK line, its listing and its bytes", async () => {
    const imap = await murder.state(0, "alice");
    const c = await PopClient.connect(murder.frontendPort);
    expect(c.greeting).toStartWith("+OK frontend.test ");
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    // Cyrus's statusline: the backend's own "+OK ..." (its session id) reaches the client
    expect(await c.cmd(`PASS ${USERS.alice}`)).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<murder-backend1-/);
    const listing = await popListing(c);
    expect(listing.list).toEqual(imap.messages.map((m, i) => `${i + 1} ${m.size}`));
    for (let i = 0; i < imap.messages.length; i++) expect(sha256(await retrieve(c, i + 1))).toBe(imap.messages[i]!.sha256);
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    await c.closed();
  });
});
