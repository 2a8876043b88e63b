/**
 * The Cyrus 3.x reference session (recorded from Cyrus's own pop3d, expected.ts) replayed against the compiled
 * binary, line by line. Adapted only where we differ by design: our greeting/IMPLEMENTATION name,
 * LIST of message 5 (295 = what RETR sends; Cyrus says 293) and so STAT totals, our SASL list, and
 * our UIDVALIDITY (learned from the first UIDL of each fixture).
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ANCHOR_NAMES, makeFixture, startServer, useWireCleanup } from "./wire-fixture.ts";
import { checkDialogs, connectDialog, type Dialog } from "./dialog.ts";
import { untilLogged } from "./steps.ts";
import {
  ANCHOR_SIZES,
  ANCHOR_TOTAL,
  CAPA_AFTER_LOGIN,
  CAPA_BEFORE_LOGIN_PLAINTEXT,
  GREETING_WITH_CHALLENGE as GREETING,
  MAILBOX_READY as READY,
  MECHANISMS,
  anchor,
  rawAnchor,
  sha256,
  topOf,
} from "./expected.ts";

useWireCleanup();

const FULL_LISTING = ANCHOR_SIZES.map((size, i) => `${i + 1} ${size}`);
const CAPA = "+OK List of capabilities follows";
const EXTRA = "-ERR Unexpected extra argument";
const UNRECOGNIZED = "-ERR Unrecognized command";
const NO_SUCH = "-ERR No such message";
const COULD_NOT_READ = "-ERR [SYS/PERM] Could not read message file";

async function login(d: Dialog): Promise<void> {
  await d.step("USER alice", "+OK Name is a valid mailbox");
  await d.step("PASS alice-pw", READY);
}

/** UIDL listing: learn UIDVALIDITY from line 1 and require `<n> <uidvalidity>.<uid>` for every line. */
async function uidlListing(d: Dialog, numbers: number[]): Promise<string> {
  const lines = await d.step("UIDL", "+OK unique-id listing follows", numbers.map((n) => new RegExp(`^${n} \\d+\\.\\d+$`)));
  const validity = /^\d+ (\d+)\./.exec(lines[1] ?? "")?.[1] ?? "?";
  d.same("UIDL listing", lines.slice(1).join(", "), numbers.map((n) => `${n} ${validity}.${n}`).join(", "));
  return validity;
}

describe("Cyrus transcript replay", () => {
  test("fixture: the anchors are the transcript's messages; LIST sizes are the CRLF-normalised sizes", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => anchor(n).length)).toEqual(ANCHOR_SIZES);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => rawAnchor(n).length)).toEqual([504, 406, 336, 420, 293, 1048576, 10485760]);
    // sha256 prefixes of the RETR 6 / RETR 7 blocks in the transcript
    expect(sha256(anchor(6)).slice(0, 16)).toBe("b92e21b3089edbe1");
    expect(sha256(anchor(7)).slice(0, 16)).toBe("5d1d7e3fc4496e12");
    expect(sha256(anchor(1)).slice(0, 16)).toBe("fbc26d9e494494c2");
    expect(sha256(anchor(2)).slice(0, 16)).toBe("e7b3f6e986ea66da");
    expect(sha256(anchor(3)).slice(0, 16)).toBe("11d620db2b31fa1e");
    expect(sha256(anchor(5)).slice(0, 16)).toBe("e413ab41b35caff9");
  });

  test("session 1: CAPA, failed then good USER/PASS, STAT/LIST/UIDL/TOP/RETR/DELE/RSET, extra arguments", async () => {
    const srv = await startServer(makeFixture());
    const d = await connectDialog(srv.port, "", GREETING);
    await d.step("CAPA", CAPA, CAPA_BEFORE_LOGIN_PLAINTEXT);
    await d.step("USER alice", "+OK Name is a valid mailbox");
    await d.step("PASS wrong-alice-pw", "-ERR [AUTH] Invalid login");
    await login(d);
    await d.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.step("LIST", "+OK scan listing follows", FULL_LISTING);
    await d.step("LIST 1", "+OK 1 504");
    await d.step("LIST 999", NO_SUCH);
    const v = await uidlListing(d, [1, 2, 3, 4, 5, 6, 7]);
    await d.step("UIDL 1", `+OK 1 ${v}.1`);
    await d.message("TOP 1 0", topOf(anchor(1), 0));
    await d.message("TOP 1 5", topOf(anchor(1), 5));
    await d.message("RETR 1", anchor(1));
    await d.step("DELE 1", "+OK message deleted");
    await d.step("LIST 1", NO_SUCH);
    await d.step("RSET", "+OK");
    await d.step("NOOP", "+OK");
    await d.step("XYZZY", UNRECOGNIZED);
    for (const cmd of ["NOOP extra-arg", "STAT extra-arg", "LIST 1 2", "UIDL 1 2", "RETR 1 2", "DELE 1 2", "TOP 1 2 3"]) {
      await d.step(cmd, EXTRA);
    }
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("session 2: AUTHORIZATION-state errors", async () => {
    const srv = await startServer(makeFixture());
    const d = await connectDialog(srv.port, "", GREETING);
    await d.step("STAT", UNRECOGNIZED);
    await d.step("LIST", UNRECOGNIZED);
    await d.step("PASS alice-pw", "-ERR [AUTH] Must give USER command");
    await d.step("USER", "-ERR Missing argument");
    await d.step("USER a b", "+OK Name is a valid mailbox");
    await d.step("", UNRECOGNIZED);
    await d.step("XYZZY", UNRECOGNIZED);
    await d.step("user alice", "-ERR [AUTH] Must give PASS command");
    await d.step("USER nosuchuser", "-ERR [AUTH] Must give PASS command");
    await d.step("PASS whatever", "-ERR [AUTH] Invalid login");
    await d.step("APOP", "-ERR Missing argument");
    await d.step("APOP alice", "-ERR [AUTH] authenticating: bad protocol / cancel");
    await d.step("NOOP", UNRECOGNIZED);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("session 3: TRANSACTION edge cases, special messages, big messages, DELE/RSET, pipelining", async () => {
    const srv = await startServer(makeFixture());
    const d = await connectDialog(srv.port, "", GREETING);
    await login(d);
    await d.step("RETR 0", NO_SUCH);
    await d.step("RETR -1", "-ERR Not a number");
    await d.step("RETR abc", "-ERR Not a number");
    await d.step("RETR", "-ERR Missing argument");
    await d.step("LIST 0", NO_SUCH);
    await d.step("LIST abc", "-ERR Not a number");
    await d.step("LIST 01", "+OK 1 504");
    await d.step("UIDL 0", NO_SUCH);
    await d.step("UIDL 999", NO_SUCH);
    await d.step("TOP 1", "-ERR Missing argument");
    await d.step("TOP 1 -1", "-ERR Invalid number of lines");
    await d.step("TOP 1 x", "-ERR Invalid number of lines");
    await d.step("TOP 999 0", NO_SUCH);
    await d.step("TOP", "-ERR Missing argument");
    await d.step("DELE 999", NO_SUCH);
    await d.step("DELE", "-ERR Missing argument");
    await d.step("stat", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.step("list 1", "+OK 1 504");
    await d.step("Stat", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.step("LAST", UNRECOGNIZED);
    await d.step("CAPA", CAPA, CAPA_AFTER_LOGIN);
    await d.step("USER alice", UNRECOGNIZED);
    await d.step("PASS alice-pw", UNRECOGNIZED);
    await d.step("APOP x y", UNRECOGNIZED);
    await d.step("AUTH PLAIN", UNRECOGNIZED);
    await d.step("STLS", UNRECOGNIZED);
    for (const n of [2, 3, 4, 5]) await d.message(`RETR ${n}`, anchor(n));
    await d.message("TOP 2 100", topOf(anchor(2), 100));
    await d.message("TOP 5 0", topOf(anchor(5), 0));
    await d.step("LIST 6", "+OK 6 1048576");
    await d.step("LIST 7", "+OK 7 10485760");
    await d.bigMessage("RETR 6", anchor(6));
    await d.bigMessage("RETR 7", anchor(7));
    await d.step("DELE 2", "+OK message deleted");
    await d.step("DELE 2", NO_SUCH);
    await d.step("RETR 2", NO_SUCH);
    await d.step("TOP 2 0", NO_SUCH);
    await d.step("LIST 2", NO_SUCH);
    await d.step("UIDL 2", NO_SUCH);
    await d.step("STAT", `+OK 6 ${ANCHOR_TOTAL - 406}`);
    await d.step("LIST", "+OK scan listing follows", FULL_LISTING.filter((l) => !l.startsWith("2 ")));
    await uidlListing(d, [1, 3, 4, 5, 6, 7]);
    await d.step("RSET", "+OK");
    await d.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.raw("STAT\r\nLIST 1\r\nNOOP\r\n", [`+OK 7 ${ANCHOR_TOTAL}`, "+OK 1 504", "+OK"]);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("session 5: AUTH PLAIN with initial response, wrong password then right", async () => {
    const srv = await startServer(makeFixture());
    const d = await connectDialog(srv.port, "", GREETING);
    await d.step("AUTH PLAIN AGFsaWNlAHdyb25nLWFsaWNlLXB3", "-ERR [AUTH] authenticating: authentication failure");
    await d.step("AUTH PLAIN AGFsaWNlAGFsaWNlLXB3", READY);
    await d.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.step("AUTH PLAIN AGFsaWNlAGFsaWNlLXB3", UNRECOGNIZED);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("session 6: AUTH PLAIN without initial response, '*' cancel, then a continuation", async () => {
    const srv = await startServer(makeFixture());
    const d = await connectDialog(srv.port, "", GREETING);
    await d.step("AUTH PLAIN", "+ ");
    await d.step("*", "-ERR [AUTH] Client canceled authentication");
    await d.step("AUTH PLAIN", "+ ");
    await d.step("AGFsaWNlAGFsaWNlLXB3", READY);
    await d.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("session 7: bare AUTH, unknown mechanism, AUTH PLAIN =, AUTH LOGIN", async () => {
    const srv = await startServer(makeFixture());
    const d = await connectDialog(srv.port, "", GREETING);
    await d.step("AUTH", "+OK List of supported mechanisms follows", MECHANISMS);
    await d.step("AUTH NOSUCHMECH", "-ERR [AUTH] authenticating: no mechanism available");
    await d.step("AUTH PLAIN =", "-ERR [AUTH] authenticating: bad protocol / cancel");
    await d.step("AUTH LOGIN", "+ VXNlcm5hbWU6");
    await d.step("YWxpY2U=", "+ UGFzc3dvcmQ6");
    await d.step("YWxpY2UtcHc=", READY);
    await d.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("session 11: two concurrent sessions on one maildrop, then a third", async () => {
    const srv = await startServer(makeFixture());
    const a = await connectDialog(srv.port, "A", GREETING);
    await login(a);
    await a.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    const b = await connectDialog(srv.port, "B", GREETING);
    await login(b);
    await b.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await b.step("NOOP", "+OK");
    await a.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await a.step("NOOP", "+OK");
    await b.step("QUIT", "+OK");
    await b.expectClosed();
    await a.step("QUIT", "+OK");
    await a.expectClosed();
    const b2 = await connectDialog(srv.port, "B2", GREETING);
    await login(b2);
    await b2.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await b2.step("QUIT", "+OK");
    await b2.expectClosed();
    checkDialogs([a, b, b2]);
  });

  test("session 12: 10 KB lines are split at 8191 bytes and run as two commands", async () => {
    const srv = await startServer(makeFixture());
    const d = await connectDialog(srv.port, "", GREETING);
    await d.raw(`USER ${"x".repeat(10240)}\r\n`, ["-ERR [AUTH] Invalid user", UNRECOGNIZED]);
    await d.step("NOOP", UNRECOGNIZED);
    await login(d);
    await d.raw(`NOOP ${"x".repeat(10240)}\r\n`, [EXTRA, UNRECOGNIZED]);
    await d.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.raw(`LIST ${"1".repeat(10240)}\r\n`, ["-ERR Not a number", UNRECOGNIZED]);
    await d.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("session 13: line-length boundaries 1029/1030 before login, 2046/2047/8189/8190 after", async () => {
    const srv = await startServer(makeFixture());
    const noop = (octets: number) => `NOOP ${"x".repeat(octets - 5)}`;
    const pre = await connectDialog(srv.port, "pre", GREETING);
    for (const n of [1029, 1030]) {
      await pre.step(noop(n), UNRECOGNIZED);
      await pre.step("NOOP", UNRECOGNIZED);
    }
    await pre.step("QUIT", "+OK");
    await pre.expectClosed();
    const post = await connectDialog(srv.port, "post", GREETING);
    await login(post);
    for (const n of [2046, 2047, 8189]) {
      await post.step(noop(n), EXTRA);
      await post.step("NOOP", "+OK");
    }
    // 8190 octets + CRLF: the first read ends after the CR; the lone LF is an empty command line.
    await post.raw(`${noop(8190)}\r\n`, [EXTRA, UNRECOGNIZED]);
    await post.step("NOOP", "+OK");
    await post.step("QUIT", "+OK");
    await post.expectClosed();
    checkDialogs([pre, post]);
  });

  test("sessions 14-16: DELE then drop keeps the message; concurrent expunge; final state", async () => {
    const fx = makeFixture();
    const srv = await startServer(fx);
    const cur = join(fx.maildir("alice"), "cur");

    const s14 = await connectDialog(srv.port, "14", GREETING);
    await login(s14);
    await s14.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    const [uidl1] = await s14.step("UIDL 1", /^\+OK 1 \d+\.1$/);
    await s14.step("DELE 1", "+OK message deleted");
    await s14.step("STAT", `+OK 6 ${ANCHOR_TOTAL - 504}`);
    s14.client.close();
    await s14.client.closed();
    await untilLogged(srv, /counts: retr=<0> top=<0> dele=<1>/);
    s14.same("message 1 file after the drop", String(existsSync(join(cur, ANCHOR_NAMES[0]!))), "true");

    const again = await connectDialog(srv.port, "14'", GREETING);
    await login(again);
    await again.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await again.step("LIST 1", "+OK 1 504");
    await again.step("UIDL 1", uidl1 ?? "?");
    await again.step("QUIT", "+OK");
    await again.expectClosed();
    const v = /\+OK 1 (\d+)\.1/.exec(uidl1 ?? "")?.[1] ?? "?";

    // Session 15. Cyrus keeps expunged files for a while, so B could still read message 5 there; our
    // Maildir unlinks at A's QUIT, and a message gone from disk reads as "Could not read message file" (pop3d.c:openinbox).
    const a = await connectDialog(srv.port, "15A", GREETING);
    await login(a);
    const b = await connectDialog(srv.port, "15B", GREETING);
    await login(b);
    await a.step("UIDL 5", `+OK 5 ${v}.5`);
    await a.step("DELE 5", "+OK message deleted");
    await a.step("QUIT", "+OK");
    await a.expectClosed();
    b.same("message 5 file after A's QUIT", String(existsSync(join(cur, ANCHOR_NAMES[4]!))), "false");
    await b.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    await b.step("LIST 5", "+OK 5 295");
    await b.step("UIDL 5", `+OK 5 ${v}.5`);
    await b.step("TOP 5 0", COULD_NOT_READ);
    await b.step("RETR 5", COULD_NOT_READ);
    await b.step("LIST", "+OK scan listing follows", FULL_LISTING);
    await b.step("DELE 5", "+OK message deleted");
    await b.step("QUIT", "+OK");
    await b.expectClosed();

    const s16 = await connectDialog(srv.port, "16", GREETING);
    await login(s16);
    await s16.step("STAT", `+OK 6 ${ANCHOR_TOTAL - 295}`);
    await s16.step("LIST", "+OK scan listing follows", ["1 504", "2 406", "3 341", "4 420", "5 1048576", "6 10485760"]);
    await s16.step("UIDL", "+OK unique-id listing follows", [1, 2, 3, 4, 6, 7].map((uid, i) => `${i + 1} ${v}.${uid}`));
    await s16.step("QUIT", "+OK");
    await s16.expectClosed();
    checkDialogs([s14, again, a, b, s16]);
  });
});
