/**
 * At its descriptor limit (RLIMIT_NOFILE) a many-sessions process stops accepting instead of
 * spinning on a listener that stays readable while accept(2) fails with EMFILE: it says so once
 * in its log, the clients beyond the limit wait in the backlog, and they are greeted as soon as
 * earlier connections end.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { BINARY, PopClient, childEnv, cleanupAll, collect, exitStatus, makeFixture, ownProcess, waitFor, type Fixture } from "../support/harness.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

/** The limit the server runs under; 64 descriptors stay in reserve, so 36 connections fit. */
const NOFILE = 100;
const FIT = NOFILE - 64;

let fx: Fixture;
beforeAll(() => {
  fx = makeFixture();
});
afterAll(cleanupAll);

describe("standalone at its descriptor limit", () => {
  test("connections beyond the limit wait and are greeted once others end; one log line", async () => {
    const proc = Bun.spawn(["bash", "-c", `ulimit -n ${NOFILE} && exec "$0" "$@"`, BINARY, "-C", fx.confPath, "--listen", "127.0.0.1:0"], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: childEnv(),
    });
    ownProcess(proc);
    const stderr = collect(proc.stderr);
    const reader = proc.stdout.getReader();
    let text = "";
    while (!/listening on \S+:(\d+)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited: ${stderr.text()}`);
      text += Buffer.from(value).toString();
    }
    const port = Number(/listening on \S+:(\d+)/.exec(text)![1]);

    const greeted: PopClient[] = [];
    for (let i = 0; i < FIT; i++) greeted.push(await PopClient.connect(port));
    // beyond the limit: the connection is made by the kernel (backlog) but nobody greets it yet
    const waiting = PopClient.connect(port);
    let late: PopClient | undefined;
    void waiting.then((c) => (late = c));
    await waitFor(() => stderr.text().includes("at the descriptor limit, no new connection until one ends"), "the limit's log line");
    expect(late).toBeUndefined();

    expect(await greeted[0]!.cmd("QUIT")).toBe("+OK");
    const c = await waiting;
    expect(c.greeting).toMatch(/^\+OK /);
    expect(await c.cmd("QUIT")).toBe("+OK");
    for (const g of greeted.slice(1)) g.close();
    proc.kill("SIGTERM");
    expect(await exitStatus(proc)).toBe(0);
  });
});
