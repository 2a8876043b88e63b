/**
 * `pop3_sessions_per_process` under the real Cyrus master(8): one process serves several sessions
 * at once (MASTER_SERVICE_CONNECTION_MULTI), says UNAVAILABLE when full so master forks another,
 * keeps one proc entry per session (listed by Cyrus's own `cyr_info proc`, counted exactly for
 * maxlogins_*), and master neither complains nor miscounts: with CYRUS_VERBOSE it logs one
 * "serving one more multi-threaded connection" line per connection a ready process took.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PopClient, cleanupAll, freePort, makeFixture, waitFor, type Fixture } from "../../support/harness.ts";
import { CYR_DENY, CYR_INFO, MASTER_COMPLAINTS, REAL_MASTER_UNAVAILABLE, childrenOf, childrenReady, gone, startRealMaster, type RealMaster } from "./real-master.ts";
import { SyslogReceiver, login, pidOfSessionId, quit, setConfig } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

if (REAL_MASTER_UNAVAILABLE) console.warn(`multi-session.test.ts: SKIPPED — ${REAL_MASTER_UNAVAILABLE}`);

const USERS = { alice: "alice-pw", bob: "bob-pw", carol: "carol-pw", dave: "dave-pw", erin: "erin-pw" };
const PER_PROCESS = 3;

let fx: Fixture;
let master: RealMaster;
let syslog: SyslogReceiver;
let procDir: string;

beforeAll(async () => {
  if (REAL_MASTER_UNAVAILABLE) return;
  fx = makeFixture({ users: USERS, config: { pop3_run_as: "cyrus" } });
  const socketPath = join(fx.dir, "syslog.sock");
  // service-prefixed, like every key
  // debug: master passes LOG_DEBUG lines (its per-connection accounting) to syslog only with it
  setConfig(fx, { pop3_syslog_socket: socketPath, pop3_pop3_sessions_per_process: String(PER_PROCESS), maxlogins_per_user: "2", debug: "yes", pop3_cyrus_compat: "3.12.1" });
  syslog = await SyslogReceiver.start(socketPath);
  procDir = join(fx.dir, "conf", "proc");
  master = await startRealMaster(fx, freePort(), { args: "-U 100", prefork: 1 });
});

afterAll(async () => {
  await master?.stop();
  await syslog?.stop();
  cleanupAll();
});

/** Connections made so far; master must have counted each one. */
let connections = 0;
async function connect(): Promise<PopClient> {
  connections++;
  return PopClient.connect(master.port);
}

async function session(user: keyof typeof USERS): Promise<{ c: PopClient; pid: number }> {
  const c = await connect();
  const pid = pidOfSessionId(await login(c, user));
  return { c, pid };
}

function cyrInfoProc(): string[] {
  const r = Bun.spawnSync([CYR_INFO!, "-C", fx.confPath, "proc"], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  return r.stdout.toString().split("\n").filter(Boolean);
}

const multiLines = () => master.lines().filter((l) => l.includes("serving one more multi-threaded connection"));

describe.skipIf(REAL_MASTER_UNAVAILABLE !== undefined)("pop3_sessions_per_process under the real Cyrus master(8)", () => {
  test("three sessions share one process, the fourth gets a process master forked; cyr_info proc lists all four", async () => {
    const first = await Promise.all((["alice", "bob", "carol"] as const).map(session));
    const pid = first[0]!.pid;
    expect(first.map((s) => s.pid)).toEqual([pid, pid, pid]);
    const fourth = await session("dave");
    expect(fourth.pid).not.toBe(pid);

    // one proc entry per session, named so that Cyrus reads each one back
    expect(readdirSync(procDir).filter((n) => /^\d+$/.test(n))).toHaveLength(4);
    const listed = cyrInfoProc();
    for (const user of ["alice", "bob", "carol", "dave"]) expect(listed.filter((l) => l.includes(` ${user} `) || l.includes(`\t${user}\t`) || l.split(/\s+/).includes(user)), listed.join("\n")).toHaveLength(1);

    for (const s of [...first, fourth]) await quit(s.c);
    await waitFor(() => readdirSync(procDir).filter((n) => /^\d+$/.test(n)).length === 0, "proc entries to go");
  });

  test("maxlogins_per_user counts sessions, not processes, across processes", async () => {
    const a1 = await session("alice");
    const a2 = await session("alice");
    const c = await connect();
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS alice-pw")).toBe("-ERR Too many open connections (2 of 2 for alice)");
    await quit(c);
    await quit(a1.c);
    const a3 = await session("alice");
    await quit(a3.c);
    await quit(a2.c);
  });

  test("cyr_deny of one user ends that user's session only, not the other sessions of its process", async () => {
    // sessions until one process serves two: alice's and another user's
    const running: { c: PopClient; pid: number; user: string }[] = [];
    let pair: [{ c: PopClient; pid: number; user: string }, { c: PopClient; pid: number; user: string }] | undefined;
    for (const user of ["alice", "bob", "carol", "dave", "erin"] as const) {
      const s = { ...(await session(user)), user };
      const mate = running.find((r) => r.pid === s.pid);
      running.push(s);
      if (mate) {
        pair = [mate, s];
        break;
      }
    }
    expect(pair).toBeDefined();
    const [kept, denied] = pair!;
    const account = /^cyrus:[^:]*:(\d+):(\d+):/m.exec(readFileSync("/etc/passwd", "utf8"))!;
    const deny = Bun.spawnSync(["setpriv", `--reuid=${account[1]}`, `--regid=${account[2]}`, "--init-groups", CYR_DENY!, "-C", fx.confPath, denied.user]);
    expect(deny.exitCode, deny.stderr.toString()).toBe(0);
    // the denied user's next command meets the deny check; everyone else in the process goes on
    expect(await denied.c.cmd("NOOP")).toMatch(/^-ERR|^\+OK/);
    await denied.c.closed();
    expect(await kept.c.cmd("NOOP")).toBe("+OK");
    expect(gone(kept.pid)).toBe(false);
    for (const s of running) if (s !== denied) await quit(s.c);
    const allow = Bun.spawnSync(["setpriv", `--reuid=${account[1]}`, `--regid=${account[2]}`, "--init-groups", CYR_DENY!, "-C", fx.confPath, "-a", denied.user]);
    expect(allow.exitCode).toBe(0);
  });

  test("SIGHUP to master: busy shared processes take no new connection, finish their sessions, then exit", async () => {
    // two sessions never fill a process, so each process serving one is READY for master
    const running = [await session("alice"), await session("bob")];
    const pids = [...new Set(running.map((s) => s.pid))];
    await waitFor(() => childrenReady(master.proc.pid), "master's children to be up");
    master.proc.kill("SIGHUP");
    // each busy process tells master UNAVAILABLE, so the next connection goes to a process master forks
    for (const pid of pids) {
      await master.log.waitFor((l) => l.pid === master.proc.pid && l.message.includes(`pid ${pid} in READY state: now unavailable`), `pid ${pid} unavailable`);
    }
    const next = await session("carol");
    expect(pids).not.toContain(next.pid);
    for (const s of running) expect(await s.c.cmd("NOOP")).toBe("+OK");
    for (const s of running) await quit(s.c);
    for (const pid of pids) await waitFor(() => gone(pid), `pid ${pid} to exit after its sessions`);
    await quit(next.c);
  });

  test("SIGTERM to master ends every session of a shared process at once", async () => {
    // sessions until one process serves two; none fills up, so master forks nothing meanwhile
    const running: { c: PopClient; pid: number }[] = [];
    let pid = 0;
    for (const user of ["alice", "bob", "carol", "dave", "erin"] as const) {
      const s = await session(user);
      if (running.some((r) => r.pid === s.pid)) pid = s.pid;
      running.push(s);
      if (pid) break;
    }
    expect(pid).toBeGreaterThan(0);
    await waitFor(() => childrenReady(master.proc.pid), "master's children to be up");
    master.proc.kill("SIGTERM");
    for (const s of running) await s.c.closed();
    await syslog.waitForMessage("graceful shutdown", pid);
    await master.proc.exited;
    await waitFor(() => gone(pid), `pid ${pid} to exit`);
    expect(childrenOf(master.proc.pid)).toEqual([]);
  });

  test("master logged no complaint, and a multi-threaded connection line for connections to ready processes", () => {
    const lines = master.lines();
    expect(lines.some((l) => l.includes("attempting clean shutdown")), `master lines:\n${lines.join("\n")}\n${master.output()}`).toBe(true);
    expect(lines.filter((l) => MASTER_COMPLAINTS.test(l) || /multi-threaded connection, forced/.test(l))).toEqual([]);
    // every connection was taken by a process master counted as ready (a full one says UNAVAILABLE first)
    expect(multiLines().length).toBe(connections);
  });
});
