/**
 * Server-side refusals that are not answers to a bad command: the shutdown file checked before
 * every command (pop3d.c:cmdloop) and popminpoll's LOGIN-DELAY (pop3d.c:openinbox).
 */
import { describe, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { messageFiles, useWireCleanup } from "./wire-fixture.ts";
import { ANCHOR_TOTAL } from "./expected.ts";
import { checkDialogs } from "./dialog.ts";
import { READY, USER_OK, connect, login, loggedIn, serve } from "./steps.ts";

useWireCleanup();

describe("shutdown file (pop3d.c:cmdloop)", () => {
  test("present at connect: the greeting, then '-ERR [SYS/TEMP] <first line without leading [>' and close", async () => {
    const { fx, srv } = await serve();
    mkdirSync(join(fx.dir, "conf", "msg"), { recursive: true });
    writeFileSync(join(fx.dir, "conf", "msg", "shutdown"), "[[Down for maintenance [really]\nsecond line\n");
    const d = await connect(srv);
    await d.expectLine("-ERR [SYS/TEMP] Down for maintenance [really]");
    await d.expectClosed();
    d.check();
  });

  test("the per-service file shutdown.pop3 counts too; an empty file gives an empty text", async () => {
    const { fx, srv } = await serve();
    mkdirSync(join(fx.dir, "conf", "msg"), { recursive: true });
    writeFileSync(join(fx.dir, "conf", "msg", "shutdown.pop3"), "");
    const d = await connect(srv);
    await d.expectLine("-ERR [SYS/TEMP] ");
    await d.expectClosed();
    d.check();
  });

  test("appearing mid-session: the command already awaited runs, then the notice; pending DELEs are not committed", async () => {
    const { fx, srv } = await serve();
    mkdirSync(join(fx.dir, "conf", "msg"), { recursive: true });
    const afterUser = await connect(srv, "after USER");
    await afterUser.step("USER alice", USER_OK);
    writeFileSync(join(fx.dir, "conf", "msg", "shutdown"), "going away\n");
    // The check ran before the server started waiting for this line, as in Cyrus's command loop.
    await afterUser.raw("PASS alice-pw\r\n", [READY, "-ERR [SYS/TEMP] going away"]);
    await afterUser.expectClosed();
    rmSync(join(fx.dir, "conf", "msg", "shutdown"));

    const inTransaction = await loggedIn(srv, "in TRANSACTION");
    await inTransaction.step("DELE 1", "+OK message deleted");
    writeFileSync(join(fx.dir, "conf", "msg", "shutdown"), "going away\n");
    await inTransaction.raw("NOOP\r\nSTAT\r\n", ["+OK", "-ERR [SYS/TEMP] going away"]);
    await inTransaction.expectClosed();
    inTransaction.same("files after the notice", messageFiles(fx.maildir("alice")).length + " files", "7 files");
    checkDialogs([afterUser, inTransaction]);
  });
});

describe("popminpoll (pop3d.c:openinbox)", () => {
  test("a second login right after a QUIT is refused with LOGIN-DELAY; a session without QUIT does not count", async () => {
    const { srv } = await serve({ config: { popminpoll: "2" } });
    const dropped = await loggedIn(srv, "dropped");
    await dropped.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
    dropped.client.close();
    await dropped.client.closed();
    const quit = await loggedIn(srv, "quit");
    await quit.step("QUIT", "+OK");
    const refused = await connect(srv, "refused");
    await refused.step("USER alice", USER_OK);
    await refused.step("PASS alice-pw", "-ERR [LOGIN-DELAY] Logins must be at least 2 minutes apart");
    // the login was undone: the session is back in AUTHORIZATION
    await refused.step("STAT", "-ERR Unrecognized command");
    const other = await connect(srv, "bob");
    await login(other, "bob");
    checkDialogs([dropped, quit, refused, other]);
  });
});
