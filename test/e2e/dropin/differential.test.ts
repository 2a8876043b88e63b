/**
 * The drop-in proof: two identical Debian-style Cyrus installations (the machine's own
 * /etc/imapd.conf, paths moved, nothing else changed) under the real master, one running Cyrus's
 * own pop3d and one ours, go through the same scripted sessions — every command, errors, USER/PASS,
 * APOP, AUTH, STLS, pop3s, DELE/QUIT then an IMAP check. Wire bytes must be equal once session
 * ids, APOP challenges and TLS details are masked; syslog lines (pid and time dropped) must be
 * equal except for the differences docs/compatibility.md lists as deliberate, which are named
 * below one by one.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BINARY, PopClient, cleanupAll, makeFixture, waitFor } from "../../support/harness.ts";
import { cyrusPop3d } from "../cyrus/cyrus-instance.ts";
import { makePki, type Pki } from "../tls/pki.ts";
import { popTls, type ScriptResult } from "../tls/tls-support.ts";
import { DebianCyrus, debianCyrusUnavailable } from "./debian-cyrus.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(180_000);

const USERS = { alice: "alice-pw", bob: "bob-pw", carol: "carol-pw", dave: "dave-pw", erin: "erin-pw", frank: "frank-pw", grace: "grace-pw" };

let skipReason = debianCyrusUnavailable();
let theirPop3d = "";
if (!skipReason) {
  try {
    theirPop3d = cyrusPop3d();
  } catch (e) {
    skipReason = (e as Error).message;
  }
}
if (skipReason) console.log(`differential.test.ts: skipped: ${skipReason}`);

/**
 * Syslog lines only one side writes, each a deliberate difference listed in docs/compatibility.md
 * ("Log lines"). `side` says who writes it.
 */
const DELIBERATE_LINES: Array<{ side: "ours" | "theirs"; pattern: RegExp; why: string }> = [
  { side: "ours", pattern: /^behaving as Cyrus \d+\.\d+\.\d+ \(.*\); mail store /, why: "start-up line: which Cyrus we imitate and which store" },
  { side: "theirs", pattern: /^inittls: Loading hard-coded DH parameters$/, why: "OpenSSL DH set-up; our TLS has no finite-field DH" },
  { side: "theirs", pattern: /^TLS server engine: No client CA certs specified\. Client side certs may not work$/, why: "Cyrus's tls_client_ca_dir handling; we load the directory" },
  { side: "theirs", pattern: /^IDLE: error sending message NOTIFY to idled for mailbox /, why: "we do not notify idled of mailbox changes" },
];

let pki: Pki;
let theirs: DebianCyrus;
let ours: DebianCyrus;
let anchors: string[];

beforeAll(async () => {
  if (skipReason) return;
  pki = makePki("cyrus");
  anchors = makeFixture({ users: {}, anchorMessagesFor: [] }).anchorFiles.slice(0, 4);
  const setup = (pop3d: string) => ({
    pop3d,
    users: USERS,
    mailboxes: Object.keys(USERS).map((u) => `user.${u}`),
    tlsCert: pki.serverCert,
    tlsKey: pki.serverKey,
  });
  [theirs, ours] = await Promise.all([DebianCyrus.start(setup(theirPop3d)), DebianCyrus.start(setup(BINARY))]);
  for (const instance of [theirs, ours]) {
    // IMAP APPEND stores the bytes as given (LMTP would add headers with times and session ids)
    for (const [user, pw] of Object.entries(USERS)) for (const file of anchors) await instance.imap("user", user, pw, "append", "INBOX", file);
  }
});

afterAll(async () => {
  await ours?.stop();
  await theirs?.stop();
  cleanupAll();
});

/**
 * Session ids, APOP challenges and per-run numbers masked; everything else byte for byte. Our
 * greeting and CAPA IMPLEMENTATION name us, not Cyrus (docs/compatibility.md).
 */
function mask(line: string): string {
  return line
    .replace(/Cyrus POP3 \S+|pop3d \d+\.\d+\.\d+\S*/g, "<implementation>")
    // NTLM: libsasl's plugin; we do not implement it (docs/compatibility.md)
    .replace(/ NTLM( |$)/, "$1")
    .replace(/SESSIONID=<[^>]*>/g, "SESSIONID=<…>")
    .replace(/<\d+\.\d+@[^>]+>/g, "<challenge>")
    .replace(/^(\s*\d+ )\d+\.(\d+)$/, "$1<uidvalidity>.$2")
    .replace(/^(\+OK \d+ )\d+\.(\d+)$/, "$1<uidvalidity>.$2");
}

type Scenario = (port: number, pop3sPort: number) => Promise<string[]>;

let sessions = 0;

async function countsLines(instance: DebianCyrus): Promise<number> {
  return instance.pop3Lines().filter((l) => l.message.startsWith("counts: ")).length;
}

/** Runs `scenario` on both installations; waits until each has logged the end of every session. */
async function both(scenario: Scenario, sessionsInScenario = 1): Promise<[string[], string[]]> {
  sessions += sessionsInScenario;
  const out: string[][] = [];
  for (const instance of [theirs, ours]) {
    out.push((await scenario(instance.pop3Port, instance.pop3sPort)).map(mask));
    await waitFor(async () => (await countsLines(instance)) >= sessions, "the sessions' counts: lines");
  }
  return [out[0]!, out[1]!];
}

const same = (name: string, scenario: Scenario, sessionsInScenario = 1) =>
  test(name, async () => {
    const [t, o] = await both(scenario, sessionsInScenario);
    expect(o).toEqual(t);
  });

async function dialog(port: number, lines: Array<string | { multi: string }>): Promise<string[]> {
  const c = await PopClient.connect(port);
  const out = [c.greeting];
  for (const step of lines) {
    if (typeof step === "string") out.push(await c.cmd(step));
    else {
      const status = await c.cmd(step.multi);
      out.push(status);
      if (status.startsWith("+OK")) out.push(...(await c.readMultiline()).lines.map((l) => `  ${l}`));
    }
  }
  await c.closed().catch(() => {});
  return out;
}

const md5hex = (s: string) => createHash("md5").update(s).digest("hex");
const b64 = (s: string) => Buffer.from(s).toString("base64");

function tlsEvents(r: ScriptResult): string[] {
  const out = [String(r.greeting), `error=${r.error}`];
  for (const e of r.events) {
    if (e.tls) out.push(`tls ${e.tls.version}`);
    if (e.cmd !== undefined) out.push(`${e.cmd} -> ${e.status}`);
    for (const l of e.lines ?? []) out.push(`  ${l}`);
  }
  return out;
}

describe.skipIf(skipReason !== undefined)("Cyrus's pop3d and ours on the same Debian imapd.conf", () => {
  same("greeting, CAPA, unknown and misplaced commands, QUIT", (port) =>
    dialog(port, [{ multi: "CAPA" }, "NOOP", "STAT", "XYZZY", "STAT ", "PASS x", "LIST 1", "QUIT"]),
  );

  same("USER/PASS: wrong password, unknown user, USER twice", (port) =>
    dialog(port, ["USER bob", "PASS wrong", "USER nobody", "PASS x", "USER bob", "USER carol", "QUIT"]),
  );

  same("a full TRANSACTION session: STAT LIST UIDL RETR TOP DELE RSET LAST NOOP, errors, QUIT", (port) =>
    dialog(port, [
      "USER bob",
      `PASS ${USERS.bob}`,
      "STAT",
      { multi: "LIST" },
      "LIST 2",
      "LIST 99",
      { multi: "UIDL" },
      "UIDL 1",
      { multi: "RETR 1" },
      { multi: "TOP 2 0" },
      "TOP 2",
      "RETR x",
      "DELE 1",
      "DELE 1",
      "RETR 1",
      "STAT",
      "LAST",
      "RSET",
      "STAT",
      "NOOP",
      { multi: "CAPA" },
      "USER bob",
      "QUIT",
    ]),
  );

  same("APOP, right and wrong", async (port) => {
    const c = await PopClient.connect(port);
    const challenge = /<[^>]+>/.exec(c.greeting)?.[0] ?? "";
    const out = [c.greeting];
    out.push(await c.cmd(`APOP carol ${md5hex(challenge + "wrong")}`));
    out.push(await c.cmd(`APOP carol ${md5hex(challenge + USERS.carol)}`));
    out.push(await c.cmd("STAT"), await c.cmd("QUIT"));
    return out.map(mask);
  });

  same("AUTH PLAIN: wrong, then right", (port) =>
    dialog(port, [`AUTH PLAIN ${b64("\0dave\0wrong")}`, `AUTH PLAIN ${b64(`\0dave\0${USERS.dave}`)}`, "STAT", "QUIT"]),
  );

  same("STLS, CAPA under TLS, USER/PASS, QUIT", async (port) =>
    tlsEvents(await popTls({
      port,
      tls: { ca: pki.caCert, servername: "pop.test" },
      steps: [{ cmd: "CAPA", multi: true }, { cmd: "STLS" }, { starttls: true }, { cmd: "CAPA", multi: true }, { cmd: "USER erin" }, { cmd: `PASS ${USERS.erin}` }, { cmd: "STAT" }, { cmd: "QUIT" }],
    })),
  );

  same("pop3s: CAPA, USER/PASS, QUIT", async (_port, pop3sPort) =>
    tlsEvents(await popTls({
      port: pop3sPort,
      implicit: true,
      tls: { ca: pki.caCert, servername: "pop.test" },
      steps: [{ cmd: "CAPA", multi: true }, { cmd: "USER frank" }, { cmd: `PASS ${USERS.frank}` }, { cmd: "STAT" }, { cmd: "QUIT" }],
    })),
  );

  test("DELE and QUIT, then IMAP sees the same mailbox on both", async () => {
    const [t, o] = await both((port) => dialog(port, ["USER alice", `PASS ${USERS.alice}`, "DELE 1", "DELE 3", "QUIT"]));
    expect(o).toEqual(t);
    const view = async (i: DebianCyrus) => {
      const s = await i.imap("user", "alice", USERS.alice, "state");
      return s.messages.map((m: { uid: number; flags: string[]; size: number; sha256: string }) => ({ ...m, flags: [...m.flags].sort() }));
    };
    const [tv, ov] = [await view(theirs), await view(ours)];
    expect(tv.map((m: { uid: number }) => m.uid)).toEqual([2, 4]);
    expect(ov).toEqual(tv);
  });

  test("a shutdown file created mid-session takes effect at the same command", async () => {
    const [t, o] = await both(async (port) => {
      const instance = port === theirs.pop3Port ? theirs : ours;
      const c = await PopClient.connect(port);
      // a user with no earlier login: Debian's popminpoll (1 minute) must not decide the outcome
      const out = [c.greeting, await c.cmd("USER grace"), await c.cmd(`PASS ${USERS.grace}`), await c.cmd("STAT")];
      const file = join(instance.dir, "lib/msg/shutdown");
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, "Going down for maintenance\n");
      try {
        out.push(await c.cmd("NOOP"));
        out.push(await c.readLine().catch(() => "<closed>"));
        await c.closed().catch(() => {});
      } finally {
        rmSync(file);
      }
      return out;
    });
    expect(o).toEqual(t);
  });

  test("syslog: the same lines at the same levels, but for the deliberate differences", () => {
    const normalise = (i: DebianCyrus, side: "ours" | "theirs") =>
      i
        .pop3Lines()
        .filter((l) => !DELIBERATE_LINES.some((d) => d.side === side && d.pattern.test(l.message)))
        .map((l) => `${l.ident} <${l.level}> ${mask(l.message).replace(/USAGE (\S+) user: [\d.]+ sys: [\d.]+/, "USAGE $1 user: <t> sys: <t>")}`);
    const t = normalise(theirs, "theirs");
    const o = normalise(ours, "ours");
    expect(o).toEqual(t);
  });
});
