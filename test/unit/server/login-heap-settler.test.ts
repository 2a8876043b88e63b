import { describe, expect, test } from "bun:test";
import { LoginHeapSettler } from "../../../src/server/login-heap-settler.ts";

/** A macrotask after every timer already due: the settler's own timer (delay 0) has run by then. */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("LoginHeapSettler", () => {
  test("logins in the same turn share one collection, after that turn", async () => {
    let collections = 0;
    const settler = new LoginHeapSettler({ intervalMs: 0, collect: () => collections++ });
    settler.loggedIn();
    settler.loggedIn();
    settler.loggedIn();
    expect(collections).toBe(0);
    await nextTurn();
    expect(collections).toBe(1);
    settler.loggedIn();
    await nextTurn();
    expect(collections).toBe(2);
  });

  test("a collection that throws takes nothing down, and the next login schedules again", async () => {
    let calls = 0;
    const settler = new LoginHeapSettler({
      intervalMs: 0,
      collect: () => {
        calls++;
        throw new Error("no");
      },
    });
    settler.loggedIn();
    await nextTurn();
    settler.loggedIn();
    await nextTurn();
    expect(calls).toBe(2);
  });

  test("within the interval a login waits for it rather than collecting again at once", async () => {
    let collections = 0;
    let clock = 1_000;
    const settler = new LoginHeapSettler({ intervalMs: 60_000, collect: () => collections++, now: () => clock });
    settler.loggedIn();
    await nextTurn();
    expect(collections).toBe(1);
    // the next one is due a minute later: not within this turn
    clock += 1;
    settler.loggedIn();
    await nextTurn();
    expect(collections).toBe(1);
  });
});
