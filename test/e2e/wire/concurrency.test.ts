/**
 * Sessions are independent (pop3d.c:cmd_pass): the failedloginpause sleep stalls only the session
 * that failed. Checked by the order in which replies arrive, never by measuring time.
 */
import { expect, test } from "bun:test";
import { useWireCleanup } from "./wire-fixture.ts";
import { ANCHOR_TOTAL } from "./expected.ts";
import { INVALID_LOGIN, USER_OK, connect, loggedIn, serve } from "./steps.ts";

useWireCleanup();

test("a pending failedloginpause on one connection does not hold up another session", async () => {
  const { srv } = await serve({ config: { failedloginpause: "5" } });
  const arrivals: string[] = [];
  const a = await connect(srv, "A");
  await a.step("USER alice", USER_OK);
  a.client.send("PASS wrong\r\n");
  const aReply = a.client.readLine().then((line) => {
    arrivals.push(`A: ${line}`);
    return line;
  });

  const b = await loggedIn(srv, "B");
  const [stat] = await b.step("STAT", `+OK 7 ${ANCHOR_TOTAL}`);
  arrivals.push(`B: ${stat}`);
  await b.step("QUIT", "+OK");

  await aReply;
  expect(arrivals).toEqual([`B: +OK 7 ${ANCHOR_TOTAL}`, `A: ${INVALID_LOGIN}`]);
  // and the pause did not end A's session
  await a.step("NOOP", "-ERR Unrecognized command");
  a.check();
  b.check();
}, 60_000);
