/**
 * The compiled binary against Cyrus SASL's own password stores, made by the real tools of Debian's
 * sasl2-bin: a sasldb2 written by saslpasswd2 (sasl_pwcheck_method auxprop, sasl_auxprop_plugin
 * sasldb), and a running saslauthd -a shadow checking a system user created for the test
 * (sasl_pwcheck_method saslauthd). The passwd-file of the fixture holds other passwords, so a
 * login that works here went through the backend under test.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { PopClient, cleanupAll, makeFixture, ownProcess, run, startServer, tempDir, waitFor, type RunningServer } from "../../support/harness.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const ANCHORS = 7;
const sbin = (tool: string) => Bun.which(tool) ?? (existsSync(`/usr/sbin/${tool}`) ? `/usr/sbin/${tool}` : null);
const SASLPASSWD2 = sbin("saslpasswd2");
const SASLAUTHD = sbin("saslauthd");
const USERADD = sbin("useradd");
const USERDEL = sbin("userdel");
const CHPASSWD = sbin("chpasswd");
const SETSID = sbin("setsid");
const isRoot = process.getuid?.() === 0;

if (!SASLPASSWD2) console.log("backends.test.ts: saslpasswd2 not installed (apt-get install sasl2-bin): sasldb tests skipped");
if (!SASLAUTHD || !USERADD || !USERDEL || !CHPASSWD || !SETSID || !isRoot) {
  console.log("backends.test.ts: saslauthd tests need root, sasl2-bin's saslauthd, useradd/userdel/chpasswd and setsid: skipped");
}
const hasCurl = Bun.which("curl") !== null;
const hasMpop = Bun.which("mpop") !== null;

afterAll(cleanupAll);

/**
 * Started as root the server runs as the fixture's pop3_run_as user (the owner the harness gave the
 * fixture tree), so files made here as root are handed to that user the same way: like a Debian
 * /etc/sasldb2 readable by the cyrus user, and /var/run/saslauthd reachable by it.
 */
function shareWithServer(fixtureDir: string, dir: string, files: string[]): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(fixtureDir);
  chmodSync(dir, 0o711);
  for (const f of files) chownSync(f, uid, gid);
}

async function login(port: number, user: string, password: string): Promise<string> {
  const c = await PopClient.connect(port);
  expect(await c.cmd(`USER ${user}`)).toBe("+OK Name is a valid mailbox");
  const reply = await c.cmd(`PASS ${password}`);
  if (reply.startsWith("+OK")) expect(await c.cmd("STAT")).toStartWith(`+OK ${ANCHORS} `);
  await c.cmd("QUIT");
  c.close();
  return reply;
}

async function curlList(port: number, mech: string, user: string, password: string) {
  const r = await run(["curl", "-sS", "-v", "--login-options", `AUTH=${mech}`, `pop3://${user}:${password}@127.0.0.1:${port}/`]);
  return { ok: r.code === 0 && r.stdout.toString().trim().split(/\r?\n/).length === ANCHORS, trace: r.stderr };
}

describe.skipIf(!SASLPASSWD2)("sasldb written by saslpasswd2", () => {
  const SASLDB_PW = { alice: "sasldb-alice-pw", carol: "sasldb-carol-pw" };
  let server: RunningServer;

  beforeAll(async () => {
    const sasldbDir = tempDir("sasldb");
    const sasldb = join(sasldbDir, "sasldb2");
    const add = async (user: string, pw: string, realm?: string) => {
      const r = await run([SASLPASSWD2!, "-f", sasldb, "-c", "-p", ...(realm ? ["-u", realm] : []), user], { stdin: pw });
      expect(r.code, r.stderr).toBe(0);
    };
    // alice in the server's realm (servername pop.test); carol without -u, so in the host name's realm.
    await add("alice", SASLDB_PW.alice, "pop.test");
    await add("carol", SASLDB_PW.carol);
    const fx = makeFixture({
      users: { alice: "passwd-file-pw", carol: "passwd-file-pw" },
      anchorMessagesFor: ["alice", "carol"],
      config: { sasl_pwcheck_method: "auxprop", sasl_auxprop_plugin: "sasldb", sasl_sasldb_path: sasldb },
    });
    shareWithServer(fx.dir, sasldbDir, [sasldb]);
    server = await startServer(fx);
  });

  test("USER/PASS checks the sasldb password, not the passwd-file's", async () => {
    expect(await login(server.port, "alice", SASLDB_PW.alice)).toStartWith("+OK Mailbox locked and ready");
    expect(await login(server.port, "alice", "passwd-file-pw")).toBe("-ERR [AUTH] Invalid login");
  });

  test("a user filed under another realm than servername is not found (libsasl's realm rule)", async () => {
    expect(hostname()).not.toBe("pop.test");
    expect(await login(server.port, "carol", SASLDB_PW.carol)).toBe("-ERR [AUTH] Invalid login");
  });

  test("APOP uses the sasldb secret", async () => {
    const r = await run(["python3", join(import.meta.dir, "poplib_auth.py"), "apop", "127.0.0.1", String(server.port), "alice", SASLDB_PW.alice]);
    expect(JSON.parse(r.stdout.toString()).reply).toStartWith("+OK Mailbox locked and ready");
  });

  for (const mech of ["PLAIN", "CRAM-MD5", "DIGEST-MD5"]) {
    test.skipIf(!hasCurl)(`curl AUTH=${mech}`, async () => {
      const r = await curlList(server.port, mech, "alice", SASLDB_PW.alice);
      expect(r.ok, r.trace).toBe(true);
    });
  }

  test.skipIf(!hasMpop)("mpop SCRAM-SHA-256 from the sasldb secret", async () => {
    const r = await run([
      "mpop", "--host=127.0.0.1", `--port=${server.port}`, "--tls=off", "--auth=scram-sha-256", "--user=alice",
      `--passwordeval=printf %s '${SASLDB_PW.alice}'`, "--delivery=mbox,/dev/null", "--status-only",
    ], { env: { HOME: tempDir("mpop-sasldb") } });
    const out = r.stdout.toString() + r.stderr;
    expect(r.code, out).toBe(0);
    expect(out).toContain(`${ANCHORS} messages`);
  });
});

const canRunSaslauthd = Boolean(SASLAUTHD && USERADD && USERDEL && CHPASSWD && SETSID && isRoot);

describe.skipIf(!canRunSaslauthd)("saslauthd -a shadow", () => {
  // A system user only this test run uses; removed again in afterAll.
  const user = `popdt${process.pid}`;
  const password = "shadow-Pw-1";
  let created = false;
  let saslauthd: Bun.Subprocess | undefined;
  let server: RunningServer;

  /** saslauthd's SIGTERM handler signals its whole process group, so it runs in a session of its own
   *  (setsid execs it in place: same pid) and is stopped as that group, workers included. */
  async function stopSaslauthd(): Promise<void> {
    if (!saslauthd || saslauthd.exitCode !== null || saslauthd.signalCode !== null) return;
    try {
      process.kill(-saslauthd.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await saslauthd.exited;
  }

  beforeAll(async () => {
    const add = await run([USERADD!, "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin", user]);
    expect(add.code, add.stderr).toBe(0);
    created = true;
    const pw = await run([CHPASSWD!], { stdin: `${user}:${password}\n` });
    expect(pw.code, pw.stderr).toBe(0);

    const rundir = tempDir("saslauthd");
    // -d: stay in the foreground; -n 1: one worker is plenty.
    saslauthd = Bun.spawn([SETSID!, SASLAUTHD!, "-a", "shadow", "-m", rundir, "-n", "1", "-d"], { stdout: "ignore", stderr: "ignore" });
    ownProcess(saslauthd);
    const mux = join(rundir, "mux");
    await waitFor(() => existsSync(mux), `saslauthd socket ${mux}`);

    const fx = makeFixture({
      users: { [user]: "passwd-file-pw" },
      anchorMessagesFor: [user],
      config: { sasl_pwcheck_method: "saslauthd", sasl_saslauthd_path: mux },
    });
    shareWithServer(fx.dir, rundir, []);
    server = await startServer(fx);
  });

  afterAll(async () => {
    await stopSaslauthd();
    if (created) await run([USERDEL!, user]);
  });

  test("USER/PASS with the system password; a wrong one is an Invalid login", async () => {
    expect(await login(server.port, user, password)).toStartWith("+OK Mailbox locked and ready");
    expect(await login(server.port, user, "passwd-file-pw")).toBe("-ERR [AUTH] Invalid login");
  });

  test.skipIf(!hasCurl)("curl AUTH=PLAIN and AUTH=LOGIN go through saslauthd", async () => {
    for (const mech of ["PLAIN", "LOGIN"]) {
      const r = await curlList(server.port, mech, user, password);
      expect(r.ok, r.trace).toBe(true);
    }
  });

  test("a dead saslauthd: [SYS/TEMP], no hang", async () => {
    await stopSaslauthd();
    expect(await login(server.port, user, password)).toBe("-ERR [SYS/TEMP] Authentication service unavailable");
  });
});
