/**
 * Standalone `pop3_workers`: a supervisor binds the listeners and runs worker processes that share
 * them. Every worker serves (one is stopped with SIGSTOP, so the kernel must hand connections to
 * another), maxlogins_per_user is counted across workers, a killed worker is logged and restarted,
 * SIGHUP reaches every worker, SIGTERM ends them all, and no worker outlives a supervisor killed
 * with SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { PopClient, cleanupAll, makeFixture, startServer, waitFor, type Fixture, type RunningServer } from "../support/harness.ts";
import { makePki, tlsConfig } from "./tls/pki.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

let fx: Fixture;
beforeAll(() => {
  fx = makeFixture({ config: { ...tlsConfig(makePki()), allowplaintext: "yes", pop3_workers: "2", maxlogins_per_user: "1", pop3_cyrus_compat: "3.12.1" } });
});
afterAll(cleanupAll);

function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const gone = (pid: number) => !existsSync(`/proc/${pid}`);

async function loginPid(c: PopClient, user = "alice"): Promise<number> {
  expect(await c.cmd(`USER ${user}`)).toBe("+OK Name is a valid mailbox");
  const reply = await c.cmd(`PASS ${user}-pw`);
  const id = /SESSIONID=<([^>]+)>/.exec(reply)?.[1];
  expect(id, reply).toBeDefined();
  const parts = id!.split("-");
  return Number(parts[parts.length - 3]);
}

async function quit(c: PopClient): Promise<void> {
  expect(await c.cmd("QUIT")).toBe("+OK");
  await c.closed();
}

/** The two workers, once both have started. */
async function workers(server: RunningServer): Promise<number[]> {
  await waitFor(() => childrenOf(server.proc.pid).length === 2, "two workers");
  // a worker is ready once it handles SIGTERM itself
  await waitFor(
    () =>
      childrenOf(server.proc.pid).every((pid) => {
        try {
          const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1];
          return caught !== undefined && (BigInt(`0x${caught}`) & (1n << 14n)) !== 0n;
        } catch {
          return false;
        }
      }),
    "workers to be up",
  );
  return childrenOf(server.proc.pid).sort();
}

describe("pop3_workers: 2", () => {
  test("each worker serves; logins are counted across workers; SIGTERM ends them all", async () => {
    const server = await startServer(fx);
    const [w1, w2] = (await workers(server)) as [number, number];
    process.kill(w1, "SIGSTOP");
    const a = await PopClient.connect(server.port);
    expect(await loginPid(a)).toBe(w2);
    process.kill(w1, "SIGCONT");
    process.kill(w2, "SIGSTOP");
    const b = await PopClient.connect(server.port);
    // alice is logged in on the other worker: maxlogins_per_user 1 sees it through the proc files
    expect(await b.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await b.cmd("PASS alice-pw")).toBe("-ERR Too many open connections (1 of 1 for alice)");
    expect(await loginPid(b, "bob")).toBe(w1);
    process.kill(w2, "SIGCONT");
    await quit(a);
    await quit(b);

    server.proc.kill("SIGHUP");
    await waitFor(() => server.stderr().split("\n").filter((l) => l.includes("reloaded TLS certificates")).length === 2, "both workers to reload");

    expect(await server.stop()).toBe(0);
    expect(gone(w1) && gone(w2)).toBe(true);
  });

  test("a killed worker is logged and replaced; a supervisor killed with SIGKILL takes its workers along", async () => {
    const server = await startServer(fx);
    const [w1, w2] = (await workers(server)) as [number, number];
    process.kill(w1, "SIGKILL");
    await waitFor(() => server.stderr().includes(`worker ${w1} exited (SIGKILL); restarting it`), "the supervisor to log the dead worker");
    const now = await workers(server);
    expect(now).toContain(w2);
    expect(now).not.toContain(w1);
    const c = await PopClient.connect(server.port);
    expect(now).toContain(await loginPid(c));
    await quit(c);

    server.proc.kill("SIGKILL");
    await server.proc.exited;
    for (const pid of now) await waitFor(() => gone(pid) || readFileSync(`/proc/${pid}/stat`, "latin1").includes(") Z "), `worker ${pid} to die with the supervisor`);
  });
});
