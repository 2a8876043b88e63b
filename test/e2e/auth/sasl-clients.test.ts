/**
 * Real clients authenticating to the compiled binary by every mechanism they share with it:
 * curl (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5), python poplib (APOP, USER/PASS), fetchmail (CRAM-MD5,
 * APOP) and mpop, whose GNU SASL does SCRAM-SHA-1/256, PLAIN, CRAM-MD5 and DIGEST-MD5.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupAll, makeFixture, run, startServer, tempDir, type Fixture, type RunningServer } from "../../support/harness.ts";
import { deriveScramCredentials, formatStoredScramKeys, SCRAM_HASHES } from "../../../src/auth/passdb/scram-keys.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const HERE = import.meta.dir;
const USERS = { alice: "alice-pw", stored: "stored-pw" };
const ANCHORS = 7;

const missing = ["curl", "python3", "fetchmail", "mpop"].filter((tool) => Bun.which(tool) === null);
if (missing.length > 0) console.log(`sasl-clients.test.ts: ${missing.join(", ")} not installed: their tests are skipped`);
const when = (tool: string) => (missing.includes(tool) ? test.skip : test);

let fx: Fixture;
let server: RunningServer;

beforeAll(async () => {
  fx = makeFixture({ users: USERS, anchorMessagesFor: Object.keys(USERS) });
  // "stored" has only SCRAM-SHA-256 keys, as `doveadm pw -s SCRAM-SHA-256` writes them.
  const keys = await deriveScramCredentials(SCRAM_HASHES["SHA-256"], USERS.stored, crypto.getRandomValues(new Uint8Array(16)), 4096);
  const passwd = readFileSync(fx.passwdPath, "utf8").replace(/^stored:.*$/m, `stored:{SCRAM-SHA-256}${formatStoredScramKeys(keys)}`);
  writeFileSync(fx.passwdPath, passwd);
  server = await startServer(fx);
});
afterAll(cleanupAll);

describe("curl --login-options AUTH=<mechanism>", () => {
  for (const mech of ["PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5"]) {
    when("curl")(`${mech} logs in and lists the maildrop`, async () => {
      const r = await run(["curl", "-sS", "-v", "--login-options", `AUTH=${mech}`, `pop3://alice:${USERS.alice}@127.0.0.1:${server.port}/`]);
      const trace = r.stderr;
      expect(r.code, trace).toBe(0);
      expect(trace).toContain(`> AUTH ${mech}`);
      expect(trace).toMatch(/< \+OK Mailbox locked and ready/);
      expect(r.stdout.toString().trim().split(/\r?\n/)).toHaveLength(ANCHORS);
    });
  }

  when("curl")("DIGEST-MD5: rspauth comes as a last challenge that curl answers with an empty line", async () => {
    const r = await run(["curl", "-sS", "-v", "--login-options", "AUTH=DIGEST-MD5", `pop3://alice:${USERS.alice}@127.0.0.1:${server.port}/`]);
    const lines = r.stderr.split(/\r?\n/);
    const rspauth = lines.findIndex((l) => l.startsWith("< + ") && Buffer.from(l.slice(4), "base64").toString().startsWith("rspauth="));
    expect(rspauth).toBeGreaterThan(0);
    expect(lines[rspauth + 1]).toBe("> ");
  });

  when("curl")("a wrong password fails the way Cyrus answers", async () => {
    const r = await run(["curl", "-sS", "-v", "--login-options", "AUTH=CRAM-MD5", `pop3://alice:wrong@127.0.0.1:${server.port}/`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("< -ERR [AUTH] authenticating: authentication failure");
  });
});

describe("python3 poplib", () => {
  const script = join(HERE, "poplib_auth.py");
  for (const mode of ["apop", "user"]) {
    when("python3")(`${mode}() logs in`, async () => {
      const r = await run(["python3", script, mode, "127.0.0.1", String(server.port), "alice", USERS.alice]);
      expect(r.stderr).toBe("");
      const out = JSON.parse(r.stdout.toString());
      expect(out.reply).toMatch(/^\+OK Mailbox locked and ready SESSIONID=<[^>]+>$/);
      expect(out.stat[0]).toBe(ANCHORS);
    });
  }
  when("python3")("apop() with a wrong password", async () => {
    const r = await run(["python3", script, "apop", "127.0.0.1", String(server.port), "alice", "wrong"]);
    expect(JSON.parse(r.stdout.toString()).error).toBe("-ERR [AUTH] authenticating: authentication failure");
  });
});

describe("fetchmail --auth", () => {
  /** fetchmail treats APOP as a protocol of its own ("protocol apop"), CRAM-MD5 as an auth type. */
  async function check(method: "cram-md5" | "apop", password: string) {
    const how = method === "apop" ? "protocol apop" : "protocol pop3 auth cram-md5";
    const home = tempDir("fetchmail-auth");
    const rc = join(home, "fetchmailrc");
    writeFileSync(
      rc,
      [
        `poll 127.0.0.1 port ${server.port} ${how}`,
        `  user "alice" there with password "${password}"`,
        "  sslproto ''",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    return run(["fetchmail", "-f", rc, "--nosyslog", "--pidfile", join(home, "pid"), "--check"], { env: { HOME: home, FETCHMAILHOME: home } });
  }
  for (const method of ["cram-md5", "apop"] as const) {
    when("fetchmail")(`${method}: --check counts the messages`, async () => {
      const r = await check(method, USERS.alice);
      const out = r.stdout.toString() + r.stderr;
      expect(r.code, out).toBe(0);
      expect(out).toContain(`${ANCHORS} messages for alice at 127.0.0.1`);
    });
  }
  when("fetchmail")("cram-md5 with a wrong password is an authentication error (exit 3)", async () => {
    const r = await check("cram-md5", "wrong");
    expect(r.code, r.stdout.toString() + r.stderr).toBe(3);
  });
});

describe("mpop --auth (GNU SASL)", () => {
  const status = (auth: string, user: string, password: string) =>
    run([
      "mpop",
      `--host=127.0.0.1`,
      `--port=${server.port}`,
      "--tls=off",
      `--auth=${auth}`,
      `--user=${user}`,
      `--passwordeval=printf %s '${password}'`,
      // --status-only retrieves nothing, but mpop insists on knowing where mail would go.
      "--delivery=mbox,/dev/null",
      "--status-only",
    ], { env: { HOME: tempDir("mpop-auth") } });

  for (const auth of ["scram-sha-256", "scram-sha-1", "plain", "cram-md5", "digest-md5", "login"]) {
    when("mpop")(`${auth}: --status-only sees the maildrop`, async () => {
      const r = await status(auth, "alice", USERS.alice);
      const out = r.stdout.toString() + r.stderr;
      expect(r.code, out).toBe(0);
      expect(out).toContain(`${ANCHORS} messages`);
    });
  }

  when("mpop")("scram-sha-256 works from stored keys alone (a {SCRAM-SHA-256} passwd-file entry)", async () => {
    const r = await status("scram-sha-256", "stored", USERS.stored);
    const out = r.stdout.toString() + r.stderr;
    expect(r.code, out).toBe(0);
    expect(out).toContain(`${ANCHORS} messages`);
  });

  when("mpop")("scram-sha-256 with a wrong password is refused", async () => {
    const r = await status("scram-sha-256", "alice", "wrong");
    expect(r.code).not.toBe(0);
    expect(r.stdout.toString() + r.stderr).toContain("authentication failed (method SCRAM-SHA-256)");
  });
});
