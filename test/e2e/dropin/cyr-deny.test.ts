/**
 * user_deny.db written by Cyrus's own cyr_deny (flat and twoskip): our binary refuses a denied
 * user exactly as Cyrus's pop3d under the real master does — after USER, before each command
 * once logged in, at AUTH — and `cyr_deny -a` lets the user in again.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { PopClient, cleanupAll, run, startServer, type RunningServer } from "../../support/harness.ts";
import { CYRUS_BIN, CyrusInstance, cyrusPop3d, requireCyrus } from "../cyrus/cyrus-instance.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(120_000);

const USERS = { alice: "alice-pw", bob: "bob-pw" };
const MESSAGE = "POP access suspended, call helpdesk";

let skipReason: string | undefined;
try {
  requireCyrus();
  cyrusPop3d();
} catch (e) {
  skipReason = (e as Error).message;
  console.log(`cyr-deny.test.ts: skipped: ${skipReason}`);
}

afterAll(cleanupAll);

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function cyrDeny(cyrus: CyrusInstance, args: string[]): Promise<void> {
  const r = await run(cyrus.asCyrus([`${CYRUS_BIN}/cyr_deny`, "-C", cyrus.confPath, ...args]));
  if (r.code !== 0) throw new Error(`cyr_deny ${args.join(" ")}: ${r.stderr}`);
}

/** USER then PASS (the second may never be answered: the deny check runs before it is read). */
async function userPass(port: number, user: string): Promise<string[]> {
  const c = await PopClient.connect(port);
  const out = [await c.cmd(`USER ${user}`)];
  c.send(`PASS ${USERS[user as keyof typeof USERS]}\r\n`);
  out.push(await c.readLine().catch(() => "<closed>"));
  if (out[1]!.startsWith("+OK")) out.push(await c.cmd("STAT"), await c.cmd("QUIT"));
  await c.closed().catch(() => {});
  return out.map((l) => l.replace(/SESSIONID=<[^>]*>/, "SESSIONID=<…>"));
}

async function authPlain(port: number, user: string): Promise<string[]> {
  const c = await PopClient.connect(port);
  const out = [await c.cmd(`AUTH PLAIN ${b64(`\0${user}\0${USERS[user as keyof typeof USERS]}`)}`)];
  c.send("QUIT\r\n");
  out.push(await c.readLine().catch(() => "<closed>"));
  await c.closed().catch(() => {});
  return out;
}

for (const format of ["flat", "twoskip"] as const) {
  describe.skipIf(skipReason !== undefined)(`userdeny_db: ${format}`, () => {
    let cyrus: CyrusInstance;
    let ours: RunningServer;
    beforeAll(async () => {
      cyrus = await CyrusInstance.start({
        users: USERS,
        mailboxes: [{ name: "user/alice" }, { name: "user/bob" }],
        config: { userdeny_db: format },
      });
      ours = await startServer(cyrus.fixture);
    });
    afterAll(async () => {
      await ours?.stop();
      await cyrus?.stop();
    });

    test("cyr_deny -s 'pop3*' -m: USER is answered, then the deny message ends the session, as with Cyrus", async () => {
      await cyrDeny(cyrus, ["-s", "pop3*", "-m", MESSAGE, "alice"]);
      const theirs = await userPass(cyrus.cyrusPop3Port, "alice");
      const mine = await userPass(ours.port, "alice");
      expect(theirs).toEqual(["+OK Name is a valid mailbox", `-ERR [SYS/TEMP] ${MESSAGE}`]);
      expect(mine).toEqual(theirs);
      // another user is not affected
      expect(await userPass(ours.port, "bob")).toEqual(await userPass(cyrus.cyrusPop3Port, "bob"));
    });

    test("AUTH PLAIN of a denied user fails the same way", async () => {
      expect(await authPlain(ours.port, "alice")).toEqual(await authPlain(cyrus.cyrusPop3Port, "alice"));
    });

    test("a deny entry for another service only does not apply; cyr_deny -a allows again", async () => {
      await cyrDeny(cyrus, ["-s", "imap", "bob"]);
      const bob = await userPass(ours.port, "bob");
      expect(bob[1]).toStartWith("+OK");
      await cyrDeny(cyrus, ["-a", "alice"]);
      const theirs = await userPass(cyrus.cyrusPop3Port, "alice");
      expect(theirs[1]).toStartWith("+OK");
      expect(await userPass(ours.port, "alice")).toEqual(theirs);
    });

    test("denied in mid-session: the next command gets the notice", async () => {
      const c = await PopClient.connect(ours.port);
      expect(await c.cmd("USER bob")).toBe("+OK Name is a valid mailbox");
      expect(await c.cmd(`PASS ${USERS.bob}`)).toStartWith("+OK");
      await cyrDeny(cyrus, ["bob"]);
      expect(await c.cmd("NOOP")).toBe("+OK");
      expect(await c.readLine()).toBe("-ERR [SYS/TEMP] Access to this service has been blocked");
      await c.closed();
      await cyrDeny(cyrus, ["-a", "bob"]);
    });
  });
}
