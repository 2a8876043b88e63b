/**
 * Our binary in a real Cyrus Murder (murder.ts): a mupdate master, two backends and a frontend
 * built from Debian's packages on loopback. The frontend's `pop3` service is our binary; Cyrus's
 * own pop3d runs next to it as `pop3cyrus`, so every answer can be compared with Cyrus's.
 *
 * Backend 1 runs Cyrus's pop3d and takes PLAIN in the clear. Backend 2 runs our binary and offers
 * PLAIN only under TLS, so a frontend must STLS first (backend.c:backend_authenticate's retry).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PopClient, ROOT, cleanupAll, makeFixture, run, sha256, tempDir, waitFor } from "../../support/harness.ts";
import { loginPop, popListing, retrieve } from "../cyrus/pop-helpers.ts";
import { makePki } from "../tls/pki.ts";
import { startStandalone } from "../tls/tls-support.ts";
import { Murder } from "./murder.ts";

// Hang guard only; nothing here measures time.
setDefaultTimeout(120_000);

const USERS = { alice: "alice-pw", bob: "bob-pw", carol: "carol-pw", dave: "dave-pw" };
const MDA = join(ROOT, "test/e2e/fixtures/mda_to_dir.sh");

/** A message with its own Message-ID: lmtpd drops duplicates of one it has delivered before. */
function freshMessage(subject: string): Buffer {
  return Buffer.from(`From: sender@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${Bun.randomUUIDv7()}@murder.test>\r\n\r\n.leading dot\r\n${subject}\r\n`);
}

let murder: Murder;
let anchors: Buffer[];

beforeAll(async () => {
  anchors = makeFixture({ users: {}, anchorMessagesFor: [] }).anchorFiles.map((f) => readFileSync(f));
  const pki = makePki("cyrus");
  murder = await Murder.start({
    users: USERS,
    backendPop3: ["cyrus", "ours"],
    backendConfig: [{}, { pop3_allowplaintext: "no", pop3_sasl_mech_list: "PLAIN", tls_server_cert: pki.serverCert, tls_server_key: pki.serverKey, allowstarttls: "yes" }],
  });
  await murder.createUser(0, "alice");
  for (const message of anchors) await murder.deliver(0, "alice", message);
  await murder.createUser(1, "bob");
  for (const message of anchors.slice(0, 3)) await murder.deliver(1, "bob", message);
  await murder.createUser(0, "dave");
  for (const message of anchors.slice(0, 2)) await murder.deliver(0, "dave", message);
});

afterAll(async () => {
  await murder?.stop();
  cleanupAll();
});

/** USER/PASS at `port`; returns the client after the PASS reply, which it checks against `passReply`. */
async function login(port: number, user: keyof typeof USERS, passReply: RegExp): Promise<PopClient> {
  const c = await PopClient.connect(port);
  expect(await c.cmd(`USER ${user}`)).toBe("+OK Name is a valid mailbox");
  expect(await c.cmd(`PASS ${USERS[user]}`)).toMatch(passReply);
  return c;
}

/** Every message of the session equals what IMAP on the backend holds, and the listing matches. */
async function expectSameAsBackend(c: PopClient, backend: 0 | 1, user: string): Promise<void> {
  const imap = await murder.state(backend, user);
  const listing = await popListing(c);
  expect(listing.list).toEqual(imap.messages.map((m, i) => `${i + 1} ${m.size}`));
  for (let i = 0; i < imap.messages.length; i++) expect(sha256(await retrieve(c, i + 1))).toBe(imap.messages[i]!.sha256);
}

const lockedOn = (backend: 1 | 2) => new RegExp(`^\\+OK Mailbox locked and ready SESSIONID=<murder-backend${backend}-`);

describe("the test Murder itself", () => {
  test("Cyrus's own pop3d on the frontend serves alice's INBOX from backend 1", async () => {
    expect(await murder.frontendLocation("user/alice")).toBe(murder.backends[0].servername);
    const c = await loginPop(murder.cyrusFrontendPort, "alice", USERS.alice);
    await expectSameAsBackend(c, 0, "alice");
    expect(await c.cmd("QUIT")).toStartWith("+OK");
  });
});

describe("our binary as the frontend", () => {
  test("USER/PASS is proxied to backend 1 (Cyrus): the backend's +OK line, its listing and its bytes", async () => {
    const c = await PopClient.connect(murder.frontendPort);
    expect(c.greeting).toStartWith("+OK frontend.test pop3d ");
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    // Cyrus's statusline: the backend's own "+OK ..." (its session id) reaches the client
    expect(await c.cmd(`PASS ${USERS.alice}`)).toMatch(lockedOn(1));
    await expectSameAsBackend(c, 0, "alice");
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    await c.closed();
    await murder.frontendSyslog.waitForMessage(`proxying alice to backend server ${murder.backends[0].servername}`);
  });

  test("AUTH PLAIN and pipelined commands behind PASS reach the backend too", async () => {
    const c = await PopClient.connect(murder.frontendPort);
    const plain = Buffer.from(`\0bob\0${USERS.bob}`).toString("base64");
    // the STAT rides in the same segment as AUTH: it must be relayed, after the login
    c.send(`AUTH PLAIN ${plain}\r\nSTAT\r\n`);
    expect(await c.readLine()).toMatch(lockedOn(2));
    expect(await c.readLine()).toMatch(/^\+OK 3 \d+$/);
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    await c.closed();
  });

  test("to backend 2 (our binary, PLAIN only under TLS) the proxy login goes through STLS", async () => {
    const c = await login(murder.frontendPort, "bob", lockedOn(2));
    await expectSameAsBackend(c, 1, "bob");
    expect(await c.cmd("QUIT")).toStartWith("+OK");
  });

  test("curl fetches through the frontend byte for byte", async () => {
    const c = await login(murder.frontendPort, "dave", lockedOn(1));
    const first = await retrieve(c, 1);
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    const r = await run(["curl", "-sS", `pop3://dave:${USERS.dave}@127.0.0.1:${murder.frontendPort}/1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString("latin1")).toBe(first.toString("latin1"));
  });

  test("fetchmail --keep fetches every message through the frontend", async () => {
    const c = await login(murder.frontendPort, "dave", lockedOn(1));
    const want = [await retrieve(c, 1), await retrieve(c, 2)].map((b) => b.toString("latin1").replace(/\r\n/g, "\n"));
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    const home = tempDir("fetchmail");
    const outDir = tempDir("fetchmail-out");
    const rc = join(home, "fetchmailrc");
    writeFileSync(
      rc,
      [
        "set no bouncemail",
        `poll 127.0.0.1 port ${murder.frontendPort} protocol pop3 auth password`,
        `  user "dave" there with password "${USERS.dave}" is "dave" here`,
        "  sslproto ''",
        "  no rewrite",
        `  mda "${MDA} ${outDir}"`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const r = await run(["fetchmail", "-f", rc, "--nosyslog", "--pidfile", join(home, "pid"), "--fetchall", "--keep"], { env: { HOME: home, FETCHMAILHOME: home } });
    expect(r.code, `fetchmail failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
    // fetchmail puts its own Received header first
    const got = readdirSync(outDir)
      .map((f) => readFileSync(join(outDir, f), "latin1").replace(/^Received: from 127\.0\.0\.1 [^\n]*\n(?:[ \t][^\n]*\n)*/m, ""))
      .sort();
    expect(got).toEqual([...want].sort());
  });

  test("DELE through the frontend expunges on the backend at QUIT (IMAP on backend 1 sees it)", async () => {
    await murder.deliver(0, "dave", freshMessage("to be deleted"));
    const before = await murder.state(0, "dave");
    expect(before.messages).toHaveLength(3);
    const c = await login(murder.frontendPort, "dave", lockedOn(1));
    expect(await c.cmd("DELE 3")).toBe("+OK message deleted");
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    await c.closed();
    const after = await murder.state(0, "dave");
    expect(after.messages.map((m) => m.uid)).toEqual(before.messages.slice(0, 2).map((m) => m.uid));
  });

  test("several proxied sessions in one process (pop3_sessions_per_process) each get their own backend", async () => {
    const [a, b] = await Promise.all([login(murder.frontendMultiPort, "alice", lockedOn(1)), login(murder.frontendMultiPort, "bob", lockedOn(2))]);
    await Promise.all([expectSameAsBackend(a, 0, "alice"), expectSameAsBackend(b, 1, "bob")]);
    expect(await a.cmd("QUIT")).toStartWith("+OK");
    expect(await b.cmd("QUIT")).toStartWith("+OK");
  });

  test("standalone and stdio launch modes proxy too; a wrong proxy password gets Cyrus's answer", async () => {
    const conf = readFileSync(murder.frontend.confPath, "utf8");
    const good = join(murder.frontend.dir, "standalone.conf");
    const bad = join(murder.frontend.dir, "badproxy.conf");
    writeFileSync(good, conf);
    writeFileSync(bad, conf.replace(/^proxy_password: .*$/m, "proxy_password: wrong"));
    const stdio = await run(murder.frontend.asCyrus([BINARY, "-C", good, "-X"]), { stdin: `USER dave\r\nPASS ${USERS.dave}\r\nSTAT\r\nQUIT\r\n` });
    const lines = stdio.stdout.toString("latin1").split("\r\n");
    expect(lines[2]).toMatch(lockedOn(1));
    expect(lines[3]).toMatch(/^\+OK 2 \d+$/);

    // standalone (started as root, it becomes pop3_run_as: cyrus like the master's processes)
    const standalone = await startStandalone({ ...murder.frontend.fixture, confPath: good }, ["--listen", "127.0.0.1:0"]);
    try {
      const c = await login(standalone.port({}), "dave", lockedOn(1));
      expect(await c.cmd("STAT")).toMatch(/^\+OK 2 \d+$/);
      expect(await c.cmd("QUIT")).toStartWith("+OK");
      await c.closed();
    } finally {
      await standalone.stop();
    }

    const refused = await run(murder.frontend.asCyrus([BINARY, "-C", bad, "-X"]), { stdin: `USER dave\r\nPASS ${USERS.dave}\r\nUSER dave\r\nQUIT\r\n` });
    const answers = refused.stdout.toString("latin1").split("\r\n");
    expect(answers[2]).toBe("-ERR Authentication to backend server failed");
    // still in AUTHORIZATION: the client may try again
    expect(answers[3]).toBe("+OK Name is a valid mailbox");
  });
});

describe("our binary as a backend", () => {
  test("behind Cyrus's own pop3d as frontend: the proxy login (STLS, PLAIN as mailproxy for bob) is accepted", async () => {
    const c = await PopClient.connect(murder.cyrusFrontendPort);
    expect(c.greeting).toContain("Cyrus POP3");
    expect(await c.cmd("USER bob")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd(`PASS ${USERS.bob}`)).toMatch(lockedOn(2));
    await expectSameAsBackend(c, 1, "bob");
    expect(await c.cmd("QUIT")).toStartWith("+OK");
  });
});

describe("a Murder that changes under the frontend", () => {
  test("a mailbox moved to the other backend is found there on the next login", async () => {
    await murder.createUser(0, "carol");
    await murder.deliver(0, "carol", freshMessage("on backend 1"));
    let c = await login(murder.frontendPort, "carol", lockedOn(1));
    expect(await c.cmd("STAT")).toMatch(/^\+OK 1 /);
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    await c.closed();

    // re-created on backend 2: mupdate tells the frontend's slave, no frontend restart
    await murder.deleteUser(0, "carol");
    await murder.createUser(1, "carol");
    await murder.deliver(1, "carol", freshMessage("on backend 2"));
    await murder.deliver(1, "carol", freshMessage("also on backend 2"));
    c = await login(murder.frontendPort, "carol", lockedOn(2));
    await expectSameAsBackend(c, 1, "carol");
    expect(await c.cmd("QUIT")).toStartWith("+OK");
  });

  test("a backend that dies mid-session ends that session; the next login works", async () => {
    const c = await login(murder.frontendPort, "alice", lockedOn(1));
    expect(await c.cmd("STAT")).toMatch(/^\+OK 7 /);
    for (const pid of murder.backendPop3Pids(0)) process.kill(pid, "SIGKILL");
    await c.closed();
    await waitFor(() => murder.backendPop3Pids(0).length === 0, "backend 1's pop3d processes to be gone");
    const again = await login(murder.frontendPort, "alice", lockedOn(1));
    expect(await again.cmd("STAT")).toMatch(/^\+OK 7 /);
    expect(await again.cmd("QUIT")).toStartWith("+OK");
  });

  test("a backend that is down: a temporary -ERR and a log line naming it (Cyrus's frontend says authentication failed)", async () => {
    await murder.backends[0].stop();
    const c = await login(murder.frontendPort, "alice", /^-ERR \[SYS\/TEMP\] Backend server unavailable, try again later$/);
    // the session stays usable in AUTHORIZATION
    expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("QUIT")).toStartWith("+OK");
    await murder.frontendSyslog.waitForMessage(`couldn't connect to backend server ${murder.backends[0].servername}: connect(${murder.backends[0].servername}) failed: ECONNREFUSED`);
    const theirs = await login(murder.cyrusFrontendPort, "alice", /^-ERR Authentication to backend server failed$/);
    expect(await theirs.cmd("QUIT")).toStartWith("+OK");
  });
});
