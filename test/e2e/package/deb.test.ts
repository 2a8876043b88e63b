/**
 * `make deb` installed with dpkg on this machine, next to Debian's cyrus-common: our binary becomes
 * /usr/lib/cyrus/bin/pop3d and serves a session under the real Cyrus master(8), which finds it by
 * the bare `cmd="pop3d"` of a stock cyrus.conf line; Cyrus's own pop3d is diverted to pop3d.cyrus
 * with dpkg-divert and is back, byte for byte, once our package is removed or purged. Covered:
 * no Cyrus pop3d at all, one copied there by hand, the cyrus-pop3d package installed before ours,
 * and cyrus-pop3d installed while ours is. Every case leaves the machine as it found it: other
 * tests use /usr/lib/cyrus/bin and /opt/cyrus-pop3d.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BINARY,
  PopClient,
  ROOT,
  childEnv,
  cleanupAll,
  collect,
  exitStatus,
  freePort,
  makeFixture,
  ownProcess,
  run,
  waitForListening,
  type Fixture,
} from "../../support/harness.ts";
import { SyslogReceiver, login, quit, serviceAccount, serviceDir, setConfig } from "../master/support.ts";

// A hang guard only; no assertion measures time (dpkg unpacks a 100 MB binary).
setDefaultTimeout(120_000);

const TARGET = "/usr/lib/cyrus/bin/pop3d";
const DIVERTED = "/usr/lib/cyrus/bin/pop3d.cyrus";
const MASTER = "/usr/lib/cyrus/bin/master";
/** Cyrus's pop3d as the cyrus-pop3d package ships it: unpacked, and the .deb itself (.ci/run). */
const CYRUS_POP3D = "/opt/cyrus-pop3d/usr/lib/cyrus/bin/pop3d";
const CYRUS_DEB_DIR = "/opt/cyrus-pop3d-deb";
const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const OUR_DEB = join(ROOT, `dist/pop3d_${packageJson.version}_amd64.deb`);

const AS_ROOT = process.getuid?.() === 0;
if (!AS_ROOT) console.warn("deb.test.ts: SKIPPED — installing a .deb needs root (CI runs as root)");

let fx: Fixture;
let syslog: SyslogReceiver;
let cyrusDeb: string;
let cyrusBytes: Buffer;

async function sh(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout.toString()}`);
  return r.stdout.toString() + r.stderr;
}

/** dpkg's two-letter state ("ii", "rc"…), or "not known" for a package absent or purged ("un"). */
async function packageStatus(name: string): Promise<string> {
  const r = await run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", name]);
  const status = r.code === 0 ? r.stdout.toString().trim() : "";
  return status === "" || status.startsWith("un") ? "not known" : status;
}

/** The package holding the diversion of TARGET, or "" when there is none. */
async function diversionOwner(): Promise<string> {
  return (await sh(["dpkg-divert", "--listpackage", TARGET])).trim();
}

const bytesOf = (path: string): Buffer => readFileSync(path);
const same = (a: Buffer, b: Buffer): boolean => Buffer.compare(a, b) === 0;

/** One session through the real master, whose cyrus.conf names the binary only as `pop3d`. */
async function sessionUnderMaster(): Promise<{ implementation: string | undefined; stat: string }> {
  const port = freePort();
  const cyrusConf = join(fx.dir, "cyrus.conf");
  writeFileSync(
    cyrusConf,
    ["START {", "}", "SERVICES {", `  pop3 cmd="pop3d -C ${fx.confPath}" listen="127.0.0.1:${port}" prefork=0`, "}", "EVENTS {", "}", ""].join("\n"),
  );
  const account = serviceAccount(fx)!;
  const master = Bun.spawn(
    ["setpriv", `--reuid=${account.uid}`, `--regid=${account.gid}`, "--init-groups", MASTER, "-C", fx.confPath, "-M", cyrusConf, "-p", join(fx.dir, "master.pid")],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv() },
  );
  ownProcess(master);
  const out = collect(master.stdout);
  const err = collect(master.stderr);
  try {
    await waitForListening(port, "Cyrus master", () => master.exitCode === null && master.signalCode === null);
    const c = await PopClient.connect(port);
    await login(c);
    expect(await c.cmd("CAPA")).toStartWith("+OK");
    const capa = await c.readMultiline();
    const stat = await c.cmd("STAT");
    await quit(c);
    return { implementation: capa.lines.find((l) => l.startsWith("IMPLEMENTATION ")), stat };
  } catch (error) {
    throw new Error(`${(error as Error).message}\nmaster: ${out.text()}${err.text()}`);
  } finally {
    master.kill("SIGTERM");
    await exitStatus(master);
  }
}

async function installOurs(): Promise<void> {
  await sh(["dpkg", "-i", OUR_DEB]);
  expect(await packageStatus("pop3d")).toBe("ii");
  expect(await diversionOwner()).toBe("pop3d");
  expect(same(bytesOf(TARGET), bytesOf(BINARY))).toBe(true);
}

async function expectOursServes(): Promise<void> {
  const session = await sessionUnderMaster();
  expect(session.implementation).toBe(`IMPLEMENTATION pop3d ${packageJson.version}`);
  expect(session.stat).toStartWith("+OK 7 ");
}

/** What was there before the first case: each case must leave exactly this behind. */
interface MachineState {
  cyrusPackage: boolean;
  target: Buffer | undefined;
}
let found: MachineState;

async function installed(name: string): Promise<boolean> {
  return (await packageStatus(name))[1] === "i";
}

async function currentState(): Promise<MachineState> {
  return { cyrusPackage: await installed("cyrus-pop3d"), target: existsSync(TARGET) ? bytesOf(TARGET) : undefined };
}

/** TARGET holds `expected` (undefined: nothing there). */
function expectTarget(expected: Buffer | undefined): void {
  if (expected === undefined) expect(existsSync(TARGET)).toBe(false);
  else expect(same(bytesOf(TARGET), expected)).toBe(true);
}

async function expectMachineAsFound(): Promise<void> {
  expect(await packageStatus("pop3d")).toBe("not known");
  expect(await installed("cyrus-pop3d")).toBe(found.cyrusPackage);
  expect(await diversionOwner()).toBe("");
  expectTarget(found.target);
  expect(existsSync(DIVERTED)).toBe(false);
}

/** Back to what was found, whatever a failed case left behind. */
async function restoreMachine(): Promise<void> {
  if ((await packageStatus("pop3d")) !== "not known") await run(["dpkg", "--purge", "pop3d"]);
  if (!found.cyrusPackage && (await packageStatus("cyrus-pop3d")) !== "not known") await run(["dpkg", "--purge", "cyrus-pop3d"]);
  if (found.target === undefined) rmSync(TARGET, { force: true });
  else if (!existsSync(TARGET) || !same(bytesOf(TARGET), found.target)) writeFileSync(TARGET, found.target, { mode: 0o755 });
}

beforeAll(async () => {
  if (!AS_ROOT) return;
  const preconditions = [
    [existsSync(MASTER), `${MASTER} missing: apt-get install cyrus-common (.ci/run does)`],
    [existsSync(CYRUS_POP3D), `${CYRUS_POP3D} missing: .ci/run unpacks cyrus-pop3d there`],
    [existsSync(CYRUS_DEB_DIR), `${CYRUS_DEB_DIR} missing: .ci/run keeps the cyrus-pop3d .deb there`],
    [(await packageStatus("pop3d")) === "not known", "package pop3d is installed: dpkg --purge pop3d first"],
    [(await diversionOwner()) === "", `${TARGET} is diverted already (dpkg-divert --list)`],
  ] as const;
  const failed = preconditions.filter(([ok]) => !ok).map(([, why]) => why);
  if (failed.length > 0) throw new Error(`deb.test.ts cannot run: ${failed.join("; ")}`);
  found = await currentState();
  cyrusDeb = join(CYRUS_DEB_DIR, readdirSync(CYRUS_DEB_DIR).find((f) => /^cyrus-pop3d_.*\.deb$/.test(f))!);
  cyrusBytes = bytesOf(CYRUS_POP3D);

  const made = await run(["make", "--no-print-directory", "-s", "deb"], { cwd: ROOT });
  if (made.code !== 0) throw new Error(`make deb failed: ${made.stderr}`);

  fx = makeFixture({ config: { pop3_run_as: "cyrus" } });
  for (const sub of ["socket", "proc", "lock", "log", "db"]) serviceDir(fx, join(fx.dir, "conf", sub));
  const socketPath = join(fx.dir, "syslog.sock");
  setConfig(fx, { pop3_syslog_socket: socketPath });
  syslog = await SyslogReceiver.start(socketPath);
});

afterAll(async () => {
  if (AS_ROOT && found) await restoreMachine();
  await syslog?.stop();
  cleanupAll();
});

/** Cases that need cyrus-pop3d absent at the start say so when it is not (e.g. cyrus-murder depends on it). */
function needsNoCyrusPackage(what: string): boolean {
  if (!found.cyrusPackage) return true;
  console.warn(`deb.test.ts: "${what}" not run — cyrus-pop3d is installed on this machine and other packages may depend on it`);
  return false;
}

describe.skipIf(!AS_ROOT)("the .deb next to Debian's cyrus-common", () => {
  test("control: package, version, architecture, Depends on cyrus-common, no pop3-server", async () => {
    const control = await sh(["dpkg-deb", "-f", OUR_DEB, "Package", "Version", "Architecture", "Depends", "Provides"]);
    expect(control).toContain("Package: pop3d\n");
    expect(control).toContain(`Version: ${packageJson.version}\n`);
    expect(control).toContain("Architecture: amd64\n");
    expect(control).toMatch(/^Depends: .*cyrus-common/m);
    // cyrus-pop3d says Conflicts: pop3-server; providing it would refuse the side-by-side install
    expect(control).not.toContain("Provides:");
  });

  test("over whatever this machine has: ours serves under master; remove and purge put it back byte for byte", async () => {
    await installOurs();
    if (found.target === undefined) expect(existsSync(DIVERTED)).toBe(false);
    else expect(same(bytesOf(DIVERTED), found.target)).toBe(true);
    await expectOursServes();
    await sh(["dpkg", "-r", "pop3d"]);
    expectTarget(found.target);
    expect(existsSync(DIVERTED)).toBe(false);
    expect(await diversionOwner()).toBe("");
    await sh(["dpkg", "--purge", "pop3d"]);
    await expectMachineAsFound();
  });

  test("a Cyrus pop3d copied there by hand (no package): diverted on install, back byte for byte on purge", async () => {
    if (found.target !== undefined) {
      console.warn(`deb.test.ts: hand-copied case not run — ${TARGET} exists on this machine (the case above covered it)`);
      return;
    }
    copyFileSync(CYRUS_POP3D, TARGET);
    await installOurs();
    expect(same(bytesOf(DIVERTED), cyrusBytes)).toBe(true);
    await expectOursServes();
    await sh(["dpkg", "--purge", "pop3d"]);
    expectTarget(cyrusBytes);
    expect(existsSync(DIVERTED)).toBe(false);
    expect(await diversionOwner()).toBe("");
    rmSync(TARGET);
    await expectMachineAsFound();
  });

  test("cyrus-pop3d installed first: ours goes over it, removing ours puts Cyrus's file back", async () => {
    if (!found.cyrusPackage) await sh(["dpkg", "-i", cyrusDeb]);
    const cyrusFile = found.cyrusPackage ? found.target : cyrusBytes;
    // dpkg knows where cyrus-pop3d's file went: its checksums verify throughout (when it has its file)
    const verify = async () => {
      if (cyrusFile !== undefined) await sh(["dpkg", "--verify", "cyrus-pop3d"]);
    };
    expectTarget(cyrusFile);
    await installOurs();
    if (cyrusFile !== undefined) expect(same(bytesOf(DIVERTED), cyrusFile)).toBe(true);
    await verify();
    await expectOursServes();
    await sh(["dpkg", "-r", "pop3d"]);
    expectTarget(cyrusFile);
    expect(existsSync(DIVERTED)).toBe(false);
    expect(await diversionOwner()).toBe("");
    await verify();
    await sh(["dpkg", "--purge", "pop3d"]);
    expectTarget(cyrusFile);
    if (!found.cyrusPackage) await sh(["dpkg", "--purge", "cyrus-pop3d"]);
    await expectMachineAsFound();
  });

  test("cyrus-pop3d installed while ours is: it lands beside ours, and comes into place when ours is purged", async () => {
    if (!needsNoCyrusPackage("cyrus-pop3d installed while ours is")) return;
    await installOurs();
    await sh(["dpkg", "-i", cyrusDeb]);
    expectTarget(bytesOf(BINARY));
    expect(same(bytesOf(DIVERTED), cyrusBytes)).toBe(true);
    await expectOursServes();
    await sh(["dpkg", "--purge", "pop3d"]);
    expectTarget(cyrusBytes);
    await sh(["dpkg", "--verify", "cyrus-pop3d"]);
    await sh(["dpkg", "--purge", "cyrus-pop3d"]);
    await expectMachineAsFound();
  });
});
