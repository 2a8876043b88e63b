/**
 * Command-line parsing on the wire (pop3d.c:cmdloop): empty arguments, message numbers, TOP's own parser,
 * wrong-state commands, QUIT, 8191-byte splitting, bare LF, a last line without LF, NUL bytes.
 */
import { describe, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ANCHOR_NAMES, useWireCleanup } from "./wire-fixture.ts";
import { ANCHOR_TOTAL, MECHANISMS, anchor, dotStuff, sha256, topOf } from "./expected.ts";
import {
  BAD_LINES,
  EXTRA,
  MISSING,
  NAN,
  NO_SUCH,
  READY,
  SYNTAX,
  UNRECOGNIZED,
  USER_OK,
  MUST_GIVE_USER,
  connect,
  loggedIn,
  serve,
} from "./steps.ts";

useWireCleanup();

const STAT_ALL = `+OK 7 ${ANCHOR_TOTAL}`;

describe("pop3d.c:cmdloop empty arguments and keywords", () => {
  test("keyword + whitespace only is 'Syntax error' in both states, for known and unknown commands; AUTH lists mechanisms", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("STAT ", SYNTAX);
    await d.step("XYZ ", SYNTAX);
    await d.step("PASS ", SYNTAX);
    await d.step("USER ", SYNTAX);
    await d.step("QUIT ", SYNTAX);
    await d.step("CAPA ", SYNTAX);
    await d.step("NOOP\t", SYNTAX);
    await d.step("AUTH ", "+OK List of supported mechanisms follows", MECHANISMS);
    await d.step("AUTH   ", "+OK List of supported mechanisms follows", MECHANISMS);
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    for (const cmd of ["STAT ", "QUIT ", "XYZ ", "LIST ", "RETR ", "TOP ", "NOOP  ", "RSET\t"]) await d.step(cmd, SYNTAX);
    await d.step("AUTH ", UNRECOGNIZED);
    // QUIT with only a blank did not end the session
    await d.step("STAT", STAT_ALL);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("an empty line and a line starting with whitespace have an empty keyword: Unrecognized", async () => {
    const { srv } = await serve();
    const d = await loggedIn(srv);
    await d.step("", UNRECOGNIZED);
    await d.step(" STAT", UNRECOGNIZED);
    await d.step("\tNOOP", UNRECOGNIZED);
    await d.step(" ", SYNTAX);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("keywords are case-insensitive; arguments keep their leading-whitespace rule", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("uSeR alice", USER_OK);
    await d.step("pAsS alice-pw", READY);
    await d.step("sTaT", STAT_ALL);
    await d.step("LIST    3", "+OK 3 341");
    await d.step("list\t\t4", "+OK 4 420");
    d.check();
  });
});

describe("pop3d.c:parse_msgno message numbers", () => {
  test("leading zeros, signs, overflow, trailing bytes, range", async () => {
    const { srv } = await serve();
    const d = await loggedIn(srv);
    await d.step("LIST 007", "+OK 7 10485760");
    await d.step("LIST 0000000000000000000001", "+OK 1 504");
    await d.step("UIDL 0005", /^\+OK 5 \d+\.5$/);
    await d.step("LIST 00", NO_SUCH);
    await d.step("LIST 8", NO_SUCH);
    await d.step("LIST 4294967295", NO_SUCH);
    await d.step("LIST 4294967296", NAN);
    await d.step("LIST 99999999999999999999", NAN);
    await d.step("LIST +1", NAN);
    await d.step("LIST -1", NAN);
    await d.step("UIDL +1", NAN);
    await d.step("RETR +1", NAN);
    await d.step("DELE -1", NAN);
    await d.step("LIST 1 ", EXTRA);
    await d.step("UIDL 1 ", EXTRA);
    await d.step("RETR 1 ", EXTRA);
    await d.step("DELE 1 ", EXTRA);
    await d.step("LIST 1x", EXTRA);
    await d.step("LIST 0x1", EXTRA);
    await d.step("LIST 1\t", EXTRA);
    await d.step("LIST x1", NAN);
    // Not a number is checked before the range
    await d.step("DELE 99999999999", NAN);
    await d.step("RETR", MISSING);
    await d.step("DELE", MISSING);
    await d.step("STAT", STAT_ALL);
    d.check();
  });
});

describe("pop3d.c:cmdloop TOP's own parser", () => {
  test("Missing argument / Invalid number of lines / Unexpected extra argument, in Cyrus's order", async () => {
    const { srv } = await serve();
    const d = await loggedIn(srv);
    await d.step("TOP", MISSING);
    await d.step("TOP 1", MISSING);
    await d.step("TOP x 1", MISSING);
    await d.step("TOP -1 1", MISSING);
    await d.step("TOP 1 ", BAD_LINES);
    await d.step("TOP 1 -1", BAD_LINES);
    await d.step("TOP 1 x", BAD_LINES);
    await d.step("TOP 1x 2", BAD_LINES);
    await d.step("TOP 1 4294967296", BAD_LINES);
    await d.step("TOP 1 2 3", EXTRA);
    await d.step("TOP 1 2x", EXTRA);
    await d.step("TOP 1 2 ", EXTRA);
    await d.step("TOP 0 1", NO_SUCH);
    await d.step("TOP 8 1", NO_SUCH);
    // the line count is checked before the message exists
    await d.step("TOP 8 x", BAD_LINES);
    d.check();
  });

  test("counts of 2^31 and above send the whole message; TOP n 0 sends headers and the blank line", async () => {
    const { srv } = await serve();
    const d = await loggedIn(srv);
    await d.message("TOP 1 4294967295", anchor(1));
    await d.message("TOP 1 2147483648", anchor(1));
    await d.message("TOP 1 2147483647", anchor(1));
    await d.message("TOP 001 03", topOf(anchor(1), 3));
    await d.message("TOP 5 0", topOf(anchor(5), 0));
    await d.message("TOP 5 1", topOf(anchor(5), 1));
    await d.message("TOP 5 2", anchor(5));
    await d.message("TOP 3 3", topOf(anchor(3), 3));
    await d.message("TOP 2 2", topOf(anchor(2), 2));
    await d.message("TOP 4 1", topOf(anchor(4), 1));
    d.check();
  });
});

describe("pop3d.c:cmdloop state and dispatch", () => {
  test("TRANSACTION commands before login and AUTHORIZATION commands after it are Unrecognized", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    for (const cmd of ["STAT", "LIST", "LIST 1", "UIDL", "RETR 1", "DELE 1", "TOP 1 0", "NOOP", "RSET", "LAST", "XTND XLIST", "UTF8", "LANG", "STLS"]) {
      await d.step(cmd, UNRECOGNIZED);
    }
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    for (const cmd of ["USER alice", "PASS alice-pw", "APOP alice 0123456789abcdef0123456789abcdef", "AUTH PLAIN", "AUTH", "STLS", "LAST", "UTF8"]) {
      await d.step(cmd, UNRECOGNIZED);
    }
    await d.step("CAPA x", EXTRA);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("QUIT in AUTHORIZATION answers +OK and closes", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("USER alice", USER_OK);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("QUIT with an argument is an error and the session continues (both states)", async () => {
    const { srv, fx } = await serve();
    const d = await connect(srv);
    await d.step("QUIT x", EXTRA);
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    await d.step("DELE 1", "+OK message deleted");
    await d.step("QUIT now", EXTRA);
    await d.step("STAT", `+OK 6 ${ANCHOR_TOTAL - 504}`);
    d.same("message 1 still on disk", String(existsSync(join(fx.maildir("alice"), "cur", ANCHOR_NAMES[0]!))), "true");
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.same("message 1 removed by QUIT", String(existsSync(join(fx.maildir("alice"), "cur", ANCHOR_NAMES[0]!))), "false");
    d.check();
  });
});

describe("pop3d.c:cmdloop line framing", () => {
  test("8191-byte reads: 8189/8190/8191/8192-octet lines before and after login", async () => {
    const { srv } = await serve();
    const noop = (octets: number) => `NOOP ${"x".repeat(octets - 5)}`;
    const d = await connect(srv);
    await d.raw(`${noop(8189)}\r\n`, [UNRECOGNIZED]);
    await d.raw(`${noop(8190)}\r\n`, [UNRECOGNIZED, UNRECOGNIZED]);
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    await d.raw(`${noop(8189)}\r\n`, [EXTRA]);
    await d.step("NOOP", "+OK");
    // CR is the 8191st byte: it is stripped from the first piece; the LF alone is an empty line
    await d.raw(`${noop(8190)}\r\n`, [EXTRA, UNRECOGNIZED]);
    await d.step("NOOP", "+OK");
    // exactly 8191 bytes of text: the CRLF alone makes the next (empty) line
    await d.raw(`${noop(8191)}\r\n`, [EXTRA, UNRECOGNIZED]);
    await d.step("NOOP", "+OK");
    // the 8192nd byte starts the next command: "STAT" then CRLF
    await d.raw(`NOOP${" ".repeat(8187)}STAT\r\n`, [SYNTAX, STAT_ALL]);
    await d.raw(`${"N".repeat(8191)}NOOP\r\n`, [UNRECOGNIZED, "+OK"]);
    await d.step("NOOP", "+OK");
    d.check();
  });

  test("bare LF ends a command line; CR alone does not", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.raw("USER alice\nPASS alice-pw\n", [USER_OK, READY]);
    await d.raw("STAT\n", [STAT_ALL]);
    await d.raw("LIST 2\nNOOP\r\n", ["+OK 2 406", "+OK"]);
    // "NOOP\rSTAT": one line; the keyword ends at the CR (isspace) and the argument is "STAT"
    await d.raw("NOOP\rSTAT\r\n", [EXTRA]);
    // only one CR is stripped: "NOOP\r" is a keyword followed by whitespace and nothing else
    await d.raw("NOOP\r\r\n", [SYNTAX]);
    await d.raw("TOP 1\t0\r\n", ["+OK Message follows"]);
    const top = await d.client.readMultiline();
    d.same("TOP 1<TAB>0", top.wire.toString("latin1"), dotStuff(topOf(anchor(1), 0)).toString("latin1"));
    d.check();
  });

  test("a last command without LF before the client half-closes is still executed", async () => {
    const { srv, fx } = await serve();
    const d = await connect(srv);
    await d.raw("USER alice\r\nPASS alice-pw\r\nDELE 1\r\nSTAT", [USER_OK, READY, "+OK message deleted"]);
    d.client.halfClose();
    await d.expectLine(`+OK 6 ${ANCHOR_TOTAL - 504}`);
    await d.expectClosed();
    // EOF is not QUIT: nothing is committed
    d.same("message 1 after EOF", String(existsSync(join(fx.maildir("alice"), "cur", ANCHOR_NAMES[0]!))), "true");
    d.check();
  });

  test("a final QUIT without LF is executed and commits", async () => {
    const { srv, fx } = await serve();
    const d = await connect(srv);
    await d.raw("USER alice\r\nPASS alice-pw\r\nDELE 1\r\nQUIT", [USER_OK, READY, "+OK message deleted"]);
    d.client.halfClose();
    await d.expectLine("+OK");
    await d.expectClosed();
    d.same("message 1 after QUIT", String(existsSync(join(fx.maildir("alice"), "cur", ANCHOR_NAMES[0]!))), "false");
    d.check();
  });

  test("a NUL byte ends the line for parsing", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.raw("USER alice\0 trailing junk\r\n", [USER_OK]);
    await d.raw("PASS alice-pw\0xyz\r\n", [READY]);
    await d.raw("STAT\0 extra\r\n", [STAT_ALL]);
    await d.raw("LIST 1\0 2\r\n", ["+OK 1 504"]);
    await d.raw("NOOP \0x\r\n", [SYNTAX]);
    await d.raw("\0STAT\r\n", [UNRECOGNIZED]);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("PASS before USER, after a failed PASS, and after an invalid USER", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("PASS alice-pw", MUST_GIVE_USER);
    await d.step("USER alice", USER_OK);
    await d.step("PASS nope", "-ERR [AUTH] Invalid login");
    await d.step("PASS alice-pw", MUST_GIVE_USER);
    await d.step("USER ali/ce", "-ERR [AUTH] Invalid user");
    await d.step("PASS alice-pw", MUST_GIVE_USER);
    await d.step("USER alice", USER_OK);
    await d.step("PASS", MISSING);
    await d.step("PASS alice-pw", READY);
    d.check();
  });
});

describe("pipelining (CAPA PIPELINING)", () => {
  test("big messages and small commands in one write are answered in order", async () => {
    const { srv } = await serve();
    const d = await loggedIn(srv);
    d.client.send("RETR 7\r\nSTAT\r\nRETR 6\r\nLIST 5\r\nTOP 2 1\r\nNOOP\r\n");
    await d.expectLine("+OK Message follows");
    const seven = await d.client.readMultiline();
    d.same("RETR 7 body", sha256(seven.body), sha256(anchor(7)));
    await d.expectLine(STAT_ALL);
    await d.expectLine("+OK Message follows");
    const six = await d.client.readMultiline();
    d.same("RETR 6 body", sha256(six.body), sha256(anchor(6)));
    await d.expectLine("+OK 5 295");
    await d.expectLine("+OK Message follows");
    const top = await d.client.readMultiline();
    d.same("TOP 2 1 wire", top.wire.toString("latin1"), dotStuff(topOf(anchor(2), 1)).toString("latin1"));
    await d.expectLine("+OK");
    d.check();
  });

  test("20,000 pipelined commands sent before reading any reply all get their answer", async () => {
    const { srv } = await serve();
    const d = await loggedIn(srv);
    const n = 20_000;
    d.client.send("NOOP\r\nLIST 1\r\n".repeat(n / 2) + "STAT\r\n");
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      const line = await d.client.readLine();
      if (line !== (i % 2 === 0 ? "+OK" : "+OK 1 504")) wrong++;
    }
    d.same("replies out of place", String(wrong), "0");
    await d.expectLine(STAT_ALL);
    d.check();
  });

  test("commands pipelined behind QUIT are not executed", async () => {
    const { srv, fx } = await serve();
    const d = await loggedIn(srv);
    await d.raw("QUIT\r\nDELE 1\r\nNOOP\r\n", ["+OK"]);
    await d.expectClosed();
    d.same("message 1 after QUIT", String(existsSync(join(fx.maildir("alice"), "cur", ANCHOR_NAMES[0]!))), "true");
    d.check();
  });
});
