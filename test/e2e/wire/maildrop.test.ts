/**
 * Maildrop semantics seen through the wire and the Maildir on disk (RFC 1939 section 5): UIDL formats and
 * their stability, what QUIT, RSET and a dropped connection do to the files, the login snapshot,
 * messages that vanish or move under a session, and `readonly`.
 */
import { describe, test } from "bun:test";
import { renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ANCHOR_NAMES, messageFiles, startServer, useWireCleanup } from "./wire-fixture.ts";
import { ANCHOR_SIZES, ANCHOR_TOTAL, anchor, crlfNormalise, topOf } from "./expected.ts";
import { checkDialogs, type Dialog } from "./dialog.ts";
import { MISSING, NO_SUCH, READY, USER_OK, connect, loggedIn, serve, untilLogged } from "./steps.ts";

useWireCleanup();

const STAT_ALL = `+OK 7 ${ANCHOR_TOTAL}`;
const COULD_NOT_READ = "-ERR [SYS/PERM] Could not read message file";
const READ_ONLY = "-ERR [SYS/PERM] This connection is configured for read-only access";
const ALL_FILES = ANCHOR_NAMES.map((name) => `cur/${name}`).sort();
const hex8 = (n: number) => n.toString(16).padStart(8, "0");

async function uidlLines(d: Dialog, pattern: RegExp): Promise<string[]> {
  const lines = await d.step("UIDL", "+OK unique-id listing follows", [1, 2, 3, 4, 5, 6, 7].map(() => pattern));
  return lines.slice(1);
}

describe("UIDL", () => {
  test("uidl_format cyrus / uidonly / dovecot / courier, stable across sessions and restarts", async () => {
    const { fx, srv } = await serve();
    const first = await loggedIn(srv, "cyrus");
    const cyrus = await uidlLines(first, /^[1-7] \d+\.[1-7]$/);
    const validity = Number(/^1 (\d+)\./.exec(cyrus[0] ?? "")?.[1] ?? NaN);
    const listing = (render: (uid: number) => string) => [1, 2, 3, 4, 5, 6, 7].map((n) => `${n} ${render(n)}`).join(", ");
    first.same("cyrus format", cyrus.join(", "), listing((uid) => `${validity}.${uid}`));
    await first.step("UIDL 3", `+OK 3 ${validity}.3`);
    await first.step("QUIT", "+OK");
    const second = await loggedIn(srv, "cyrus, 2nd session");
    second.same("same UIDLs", (await uidlLines(second, /^[1-7] \S+$/)).join(", "), cyrus.join(", "));
    await second.step("QUIT", "+OK");
    await srv.stop();

    const dialogs = [first, second];
    const formats: Array<[string, RegExp, (uid: number) => string]> = [
      ["uidonly", /^[1-7] [1-7]$/, (uid) => String(uid)],
      ["dovecot", /^[1-7] [0-9a-f]{16}$/, (uid) => hex8(uid) + hex8(validity)],
      ["courier", /^[1-7] \d+-[1-7]$/, (uid) => `${validity}-${uid}`],
      ["cyrus", /^[1-7] \d+\.[1-7]$/, (uid) => `${validity}.${uid}`],
    ];
    for (const [format, shape, render] of formats) {
      fx.writeConfig({ uidl_format: format });
      const restarted = await startServer(fx);
      const d = await loggedIn(restarted, `${format} after restart`);
      d.same(`${format} format`, (await uidlLines(d, shape)).join(", "), listing(render));
      await d.step("UIDL 7", `+OK 7 ${render(7)}`);
      await d.step("QUIT", "+OK");
      await restarted.stop();
      dialogs.push(d);
    }
    checkDialogs(dialogs);
  });
});

describe("UPDATE state and dropped sessions", () => {
  test("DELE then QUIT removes exactly the deleted files; other files keep their names", async () => {
    const { fx, srv } = await serve();
    const d = await loggedIn(srv);
    await d.message("RETR 1", anchor(1));
    await d.message("TOP 3 1", topOf(anchor(3), 1));
    await d.step("DELE 2", "+OK message deleted");
    await d.step("DELE 5", "+OK message deleted");
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    const kept = ALL_FILES.filter((f) => f !== `cur/${ANCHOR_NAMES[1]}` && f !== `cur/${ANCHOR_NAMES[4]}`);
    d.same("files after QUIT", messageFiles(fx.maildir("alice")).join(" "), kept.join(" "));
    const next = await loggedIn(srv, "next");
    await next.step("STAT", `+OK 5 ${ANCHOR_TOTAL - 406 - 295}`);
    await next.step("LIST", "+OK scan listing follows", [1, 3, 4, 6, 7].map((n, i) => `${i + 1} ${ANCHOR_SIZES[n - 1]}`));
    checkDialogs([d, next]);
  });

  test("DELE then a dropped connection removes nothing", async () => {
    const { fx, srv } = await serve();
    const d = await loggedIn(srv);
    for (const n of [1, 2, 3, 7]) await d.step(`DELE ${n}`, "+OK message deleted");
    d.client.close();
    await d.client.closed();
    await untilLogged(srv, /counts: retr=<0> top=<0> dele=<4>/);
    d.same("files after the drop", messageFiles(fx.maildir("alice")).join(" "), ALL_FILES.join(" "));
    const next = await loggedIn(srv, "next");
    await next.step("STAT", STAT_ALL);
    checkDialogs([d, next]);
  });

  test("RSET undoes DELE: QUIT after RSET removes nothing", async () => {
    const { fx, srv } = await serve();
    const d = await loggedIn(srv);
    await d.step("DELE 1", "+OK message deleted");
    await d.step("DELE 3", "+OK message deleted");
    await d.step("STAT", `+OK 5 ${ANCHOR_TOTAL - 504 - 341}`);
    await d.step("RSET", "+OK");
    await d.step("STAT", STAT_ALL);
    await d.step("LIST 3", "+OK 3 341");
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.same("files after QUIT", messageFiles(fx.maildir("alice")).join(" "), ALL_FILES.join(" "));
    d.check();
  });

  test("deleted messages are skipped by STAT/LIST/UIDL but message numbers stay put", async () => {
    const { srv } = await serve();
    const d = await loggedIn(srv);
    const [uidl4 = ""] = await d.step("UIDL 4", /^\+OK 4 \d+\.4$/);
    await d.step("DELE 3", "+OK message deleted");
    await d.step("STAT", `+OK 6 ${ANCHOR_TOTAL - 341}`);
    await d.step("LIST", "+OK scan listing follows", [1, 2, 4, 5, 6, 7].map((n) => `${n} ${ANCHOR_SIZES[n - 1]}`));
    await d.step("UIDL", "+OK unique-id listing follows", [1, 2, 4, 5, 6, 7].map((n) => new RegExp(`^${n} \\d+\\.${n}$`)));
    await d.step("LIST 4", "+OK 4 420");
    await d.step("UIDL 4", uidl4);
    await d.message("RETR 4", anchor(4));
    await d.step("LIST 3", NO_SUCH);
    await d.step("DELE 3", NO_SUCH);
    d.check();
  });
});

describe("the login snapshot and files changing under a session", () => {
  test("a message delivered during a session is invisible until the next session", async () => {
    const { fx, srv } = await serve();
    const d = await loggedIn(srv);
    const [uidl7 = ""] = await d.step("UIDL 7", /^\+OK 7 \d+\.7$/);
    const validity = /\+OK 7 (\d+)\./.exec(uidl7)?.[1] ?? "?";
    const fresh = "From: late@example.org\nSubject: late\n\nlate body\n";
    writeFileSync(join(fx.maildir("alice"), "new", "1800000000.M9P9.pop.test"), fresh);
    await d.step("STAT", STAT_ALL);
    await d.step("LIST 8", NO_SUCH);
    await d.step("LIST", "+OK scan listing follows", ANCHOR_SIZES.map((s, i) => `${i + 1} ${s}`));
    await d.step("QUIT", "+OK");
    const size = crlfNormalise(Buffer.from(fresh)).length;
    const next = await loggedIn(srv, "next");
    await next.step("STAT", `+OK 8 ${ANCHOR_TOTAL + size}`);
    await next.step("LIST 8", `+OK 8 ${size}`);
    await next.step("UIDL 8", `+OK 8 ${validity}.8`);
    await next.message("RETR 8", crlfNormalise(Buffer.from(fresh)));
    // the bare-LF blank line is the header/body boundary too
    await next.message("TOP 8 0", Buffer.from("From: late@example.org\r\nSubject: late\r\n\r\n"));
    checkDialogs([d, next]);
  });

  test("a message file removed by another process: RETR/TOP fail with [SYS/PERM] and the session goes on", async () => {
    const { fx, srv } = await serve();
    const d = await loggedIn(srv);
    unlinkSync(join(fx.maildir("alice"), "cur", ANCHOR_NAMES[2]!));
    await d.step("RETR 3", COULD_NOT_READ);
    await d.step("TOP 3 0", COULD_NOT_READ);
    await d.step("STAT", STAT_ALL);
    await d.step("LIST 3", "+OK 3 341");
    await d.message("RETR 4", anchor(4));
    await d.step("DELE 3", "+OK message deleted");
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    const next = await loggedIn(srv, "next");
    await next.step("STAT", `+OK 6 ${ANCHOR_TOTAL - 341}`);
    checkDialogs([d, next]);
  });

  test("a message renamed by a flag change (IMAP client) is still readable", async () => {
    const { fx, srv } = await serve();
    const d = await loggedIn(srv);
    const cur = join(fx.maildir("alice"), "cur");
    renameSync(join(cur, ANCHOR_NAMES[1]!), join(cur, `${ANCHOR_NAMES[1]!}S`));
    await d.message("RETR 2", anchor(2));
    d.check();
  });

  test("readonly: yes refuses DELE before parsing its argument; nothing is removed", async () => {
    const { fx, srv } = await serve({ config: { readonly: "yes" } });
    const d = await loggedIn(srv);
    await d.step("DELE 1", READ_ONLY);
    await d.step("DELE x", READ_ONLY);
    await d.step("DELE 99", READ_ONLY);
    await d.step("DELE", MISSING);
    await d.step("STAT", STAT_ALL);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.same("files after QUIT", messageFiles(fx.maildir("alice")).join(" "), ALL_FILES.join(" "));
    d.check();
  });
});

describe("odd message files", () => {
  test("no header/body separator: TOP n 0 sends the whole message; an empty file is an empty block of size 0", async () => {
    const { fx, srv } = await serve();
    const headersOnly = "Subject: headers only\nX-A: 1\n";
    writeFileSync(join(fx.maildir("alice"), "new", "1800000001.M1P1.pop.test"), headersOnly);
    writeFileSync(join(fx.maildir("alice"), "new", "1800000002.M2P1.pop.test"), "");
    const d = await loggedIn(srv);
    const normal = crlfNormalise(Buffer.from(headersOnly));
    await d.step("LIST 8", `+OK 8 ${normal.length}`);
    await d.message("TOP 8 0", normal);
    await d.message("TOP 8 5", normal);
    await d.step("LIST 9", "+OK 9 0");
    await d.message("RETR 9", Buffer.alloc(0));
    await d.message("TOP 9 0", Buffer.alloc(0));
    await d.step("STAT", `+OK 9 ${ANCHOR_TOTAL + normal.length}`);
    d.check();
  });

  test("a long line whose 4097th byte is a dot is not stuffed mid-line; dots at line starts are", async () => {
    const { fx, srv } = await serve();
    const long = "A".repeat(4096) + ".rest";
    const text = `Subject: long\r\n\r\n${long}\r\n.${long}\r\n`;
    writeFileSync(join(fx.maildir("alice"), "new", "1800000001.M1P1.pop.test"), text);
    const d = await loggedIn(srv);
    await d.step("LIST 8", `+OK 8 ${text.length}`);
    await d.message("RETR 8", Buffer.from(text, "latin1"));
    // a line longer than Cyrus's 4 KB read buffer still counts as one line for TOP
    await d.message("TOP 8 1", Buffer.from(`Subject: long\r\n\r\n${long}\r\n`, "latin1"));
    d.check();
  });
});

describe("opening the maildrop fails (pop3d.c:openinbox)", () => {
  test("no Maildir for an authenticated user: [SYS/TEMP] Mailbox does not exist, and the session stays in AUTHORIZATION", async () => {
    const { fx, srv } = await serve({ users: { alice: "alice-pw", dave: "dave-pw" } });
    rmSync(fx.maildir("dave"), { recursive: true, force: true });
    const d = await connect(srv);
    await d.step("USER dave", USER_OK);
    await d.step("PASS dave-pw", "-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist");
    await d.step("STAT", "-ERR Unrecognized command");
    await d.step(`AUTH PLAIN ${Buffer.from("\0dave\0dave-pw").toString("base64")}`, "-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist");
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    await d.step("STAT", STAT_ALL);
    d.check();
  });
});
