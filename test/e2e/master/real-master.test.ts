/**
 * Our binary as the pop3 service of the real Cyrus master(8) (Debian's cyrus-common), with nothing
 * but `cmd=` changed: sessions through master, -U 3 making master fork fresh processes, SIGHUP to
 * master recycling idle processes, master shutdown ending a busy one with 75 ("graceful shutdown"),
 * and master's own syslog free of complaints about our status messages. Cyrus refuses to run as
 * root, so master (and therefore our binary) runs as the cyrus user.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  PopClient,
  cleanupAll,
  exitStatus,
  expectedRetr,
  freePort,
  makeFixture,
  waitFor,
  type Fixture,
} from "../../support/harness.ts";
import { REAL_MASTER_UNAVAILABLE, startRealMaster, type RealMaster } from "./real-master.ts";
import { SyslogReceiver, login, pidOfSessionId, quit, serviceDir, setConfig } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

const MASTER_CANDIDATES = ["/usr/lib/cyrus/bin/master", "/usr/sbin/cyrmaster"];
const MASTER = MASTER_CANDIDATES.find((p) => existsSync(p));
const HAVE_CYRUS = MASTER !== undefined && readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("cyrus:"));
const AS_ROOT = process.getuid?.() === 0;
if (!HAVE_CYRUS) console.warn("real-master.test.ts: SKIPPED — Cyrus master(8) not installed (apt-get install cyrus-common)");
else if (!AS_ROOT) console.warn("real-master.test.ts: SKIPPED — must start as root to run Cyrus master as the cyrus user");
else if (REAL_MASTER_UNAVAILABLE) console.warn(`real-master.test.ts: SKIPPED — ${REAL_MASTER_UNAVAILABLE}`);
const RUN = HAVE_CYRUS && AS_ROOT && REAL_MASTER_UNAVAILABLE === undefined;

/** master.c's complaints about what a service tells it, or about how it ended (outside shutdown, a non-zero exit is logged). */
const MASTER_COMPLAINTS =
  /incorrectly sized|already ready|already busy|ILLEGAL|UNKNOWN state|forced to (BUSY|READY) state|multi-threaded|terminated abnormally|unknown service pid|not yet been recycled|signaled to death|exited, status/;

let fx: Fixture;
let syslog: SyslogReceiver;
let realMaster: RealMaster | undefined;
let master: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
let masterOutput: { text(): string } | undefined;
let port: number;
let statReply: string;

/** Pids whose parent is `parent`, from /proc. */
function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const gone = (pid: number) => !existsSync(`/proc/${pid}`);

/**
 * Whether every child of master catches SIGHUP and SIGTERM yet (SigCgt in /proc/<pid>/status). A
 * child master forked a moment ago may still be starting up; a signal then kills it outright
 * (master logs "signaled to death"), which is not what these tests are about.
 */
function childrenReady(): boolean {
  const children = childrenOf(master!.pid);
  const wanted = (1n << 0n) | (1n << 14n); // SIGHUP = 1, SIGTERM = 15
  return (
    children.length > 0 &&
    children.every((pid) => {
      try {
        const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1];
        return caught !== undefined && (BigInt(`0x${caught}`) & wanted) === wanted;
      } catch {
        return false;
      }
    })
  );
}

function masterLines(): string[] {
  return realMaster?.lines() ?? [];
}

async function statSession(): Promise<number> {
  const c = await PopClient.connect(port);
  const pid = pidOfSessionId(await login(c));
  expect(await c.cmd("STAT")).toBe(statReply);
  await quit(c);
  return pid;
}

beforeAll(async () => {
  if (!RUN) return;
  fx = makeFixture({ config: { pop3_run_as: "cyrus" } });
  for (const sub of ["socket", "proc", "lock", "log", "db"]) serviceDir(fx, join(fx.dir, "conf", sub));
  const socketPath = join(fx.dir, "syslog.sock");
  setConfig(fx, { pop3_syslog_socket: socketPath });
  syslog = await SyslogReceiver.start(socketPath);
  statReply = `+OK 7 ${fx.anchorFiles.map(expectedRetr).reduce((n, b) => n + b.length, 0)}`;

  // master logs only through syslog(3): it runs in a private mount namespace whose /dev/log is
  // the test's own receiver, whoever owns the machine's /dev/log
  port = freePort();
  realMaster = await startRealMaster(fx, port, { args: "-U 3", prefork: 1 });
  master = realMaster.proc;
  masterOutput = { text: realMaster.output };
});

afterAll(async () => {
  if (master && master.exitCode === null && master.signalCode === null) {
    master.kill("SIGTERM");
    await exitStatus(master);
  }
  await syslog?.stop();
  await realMaster?.log.stop();
  cleanupAll();
});

describe.skipIf(!RUN)("under the real Cyrus master(8)", () => {
  test("sessions work; -U 3: no process serves more than 3, processes are reused, master forks fresh ones", async () => {
    const pids: number[] = [];
    for (let i = 0; i < 7; i++) pids.push(await statSession());
    const perPid = new Map<number, number>();
    for (const pid of pids) perPid.set(pid, (perPid.get(pid) ?? 0) + 1);
    for (const [pid, n] of perPid) expect(n, `sessions served by ${pid}: ${pids.join(",")}`).toBeLessThanOrEqual(3);
    expect(Math.max(...perPid.values()), `session pids: ${pids.join(",")}`).toBeGreaterThanOrEqual(2);
    // 7 sessions at ≤3 each need at least 3 processes: master replaced the used-up ones
    expect(perPid.size).toBeGreaterThanOrEqual(3);
    // a process that served 3 sessions has exited (and master reaped it)
    for (const [pid, n] of perPid) if (n === 3) await waitFor(() => gone(pid), `pid ${pid} (3 sessions) to exit`);
  });

  test("SIGHUP to master recycles idle processes: the old ones exit, a new pid serves the next session", async () => {
    await waitFor(childrenReady, "master's children to be up");
    const before = childrenOf(master!.pid);
    master!.kill("SIGHUP");
    for (const pid of before) await waitFor(() => gone(pid), `idle pid ${pid} to exit after SIGHUP`);
    const pid = await statSession();
    expect(before).not.toContain(pid);
    for (const old of before) expect(syslog.messages(old)).not.toContain("graceful shutdown");
  });

  test("master shutdown: a process in a session ends it without commit and exits 75 (\"graceful shutdown\")", async () => {
    const c = await PopClient.connect(port);
    const pid = pidOfSessionId(await login(c));
    expect(await c.cmd("DELE 1")).toBe("+OK message deleted");
    await waitFor(childrenReady, "master's children to be up");
    master!.kill("SIGTERM");
    await c.closed();
    expect(c.unread().toString("latin1")).toBe("");
    await syslog.waitForMessage("graceful shutdown", pid);
    await exitStatus(master!);
    await waitFor(() => gone(pid), `pid ${pid} to exit`);
    expect(readdirSync(join(fx.maildir("alice"), "cur"))).toHaveLength(7);
  });

  test("master logged no complaint about our status messages or exits", () => {
    const lines = masterLines();
    // proof that the capture works: master logs its shutdown
    expect(lines.some((l) => l.includes("attempting clean shutdown")), `master lines:\n${lines.join("\n")}\n${masterOutput?.text()}`).toBe(true);
    expect(lines.filter((l) => MASTER_COMPLAINTS.test(l))).toEqual([]);
  });
});
