/**
 * CAPA, the greeting and the plaintext/TLS policy switches (pop3d.c:service_main, pop3d.c:cmd_capa, pop3d.c:cmd_pass, master/service.c:main `-p`), with the
 * exact lines and order Cyrus 3.12 sends (our SASL list and implementation name).
 */
import { describe, test } from "bun:test";
import { useWireCleanup } from "./wire-fixture.ts";
import {
  CAPA_AFTER_LOGIN,
  CAPA_BEFORE_LOGIN_PLAINTEXT,
  IMPLEMENTATION,
  MECHANISMS_NO_PLAINTEXT,
  b64,
  hmacMd5Hex,
} from "./expected.ts";
import { checkDialogs, type Dialog } from "./dialog.ts";
import { CAPA_OK, MUST_GIVE_USER, READY, USER_OK, connect, serve } from "./steps.ts";

useWireCleanup();

const USER_NEEDS_LAYER = "-ERR [AUTH] USER command only available under a layer";
const AUTH_NEEDS_LAYER = "-ERR [AUTH] AUTH command only available under a layer";
const ENCRYPTION_NEEDED = "-ERR [AUTH] authenticating: encryption needed to use mechanism";
const TAIL = ["TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"];
const NO_CHALLENGE_GREETING = `+OK pop.test ${IMPLEMENTATION} server ready `;
const CHALLENGE = "<\\d{1,20}\\.\\d+@pop\\.test>";
const CAPA_NO_PLAINTEXT = [`SASL ${MECHANISMS_NO_PLAINTEXT.join(" ")}`, "EXPIRE NEVER", "LOGIN-DELAY 0", ...TAIL, `IMPLEMENTATION ${IMPLEMENTATION}`];

/** CAPA with the given lines between "+OK List of capabilities follows" and ".". */
const capa = (d: Dialog, lines: string[]) => d.step("CAPA", CAPA_OK, lines);

async function cramLogin(d: Dialog): Promise<void> {
  const [line = ""] = await d.step("AUTH CRAM-MD5", /^\+ \S+$/);
  const challenge = Buffer.from(line.slice(2), "base64").toString("latin1");
  await d.step(b64(`alice ${hmacMd5Hex("alice-pw", challenge)}`), READY);
}

describe("CAPA and the greeting", () => {
  test("allowplaintext: yes — SASL with PLAIN/LOGIN and USER before login; no SASL and no USER after", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await capa(d, CAPA_BEFORE_LOGIN_PLAINTEXT);
    await d.step("USER alice", USER_OK);
    await capa(d, CAPA_BEFORE_LOGIN_PLAINTEXT);
    await d.step("PASS alice-pw", READY);
    await capa(d, CAPA_AFTER_LOGIN);
    d.check();
  });

  test("default allowplaintext (off), no TLS: no USER line, no PLAIN/LOGIN; USER and PLAIN refused; CRAM-MD5 works", async () => {
    const { srv } = await serve({ config: { allowplaintext: null } });
    const d = await connect(srv);
    await capa(d, CAPA_NO_PLAINTEXT);
    await d.step("AUTH", "+OK List of supported mechanisms follows", MECHANISMS_NO_PLAINTEXT);
    await d.step("USER alice", USER_NEEDS_LAYER);
    await d.step("PASS alice-pw", MUST_GIVE_USER);
    await d.step(`AUTH PLAIN ${b64("\0alice\0alice-pw")}`, ENCRYPTION_NEEDED);
    await d.step("AUTH LOGIN", ENCRYPTION_NEEDED);
    await cramLogin(d);
    await capa(d, CAPA_AFTER_LOGIN);
    d.check();
  });

  test("serverinfo: off — '+OK server ready <challenge>', no IMPLEMENTATION before login but after it", async () => {
    const { srv } = await serve({ config: { serverinfo: "off" } });
    const d = await connect(srv, "", new RegExp(`^\\+OK server ready ${CHALLENGE}$`));
    await capa(d, CAPA_BEFORE_LOGIN_PLAINTEXT.filter((l) => !l.startsWith("IMPLEMENTATION")));
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    await capa(d, CAPA_AFTER_LOGIN);
    d.check();
  });

  test("serverinfo: off with allowapop: no — '+OK server ready ' with its trailing space", async () => {
    const { srv } = await serve({ config: { serverinfo: "off", allowapop: "no" } });
    const d = await connect(srv, "", "+OK server ready ");
    d.check();
  });

  test("serverinfo: min — servername but no implementation in the greeting and before login", async () => {
    const { srv } = await serve({ config: { serverinfo: "min" } });
    const d = await connect(srv, "", new RegExp(`^\\+OK pop\\.test server ready ${CHALLENGE}$`));
    await capa(d, CAPA_BEFORE_LOGIN_PLAINTEXT.filter((l) => !l.startsWith("IMPLEMENTATION")));
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    await capa(d, CAPA_AFTER_LOGIN);
    d.check();
  });

  test("popexpiretime 45m → EXPIRE 0, 3d → EXPIRE 3; popminpoll 2 → LOGIN-DELAY 120 (before and after login)", async () => {
    const dialogs: Dialog[] = [];
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ popexpiretime: "45m" }, "EXPIRE 0", "LOGIN-DELAY 0"],
      [{ popexpiretime: "3d" }, "EXPIRE 3", "LOGIN-DELAY 0"],
      [{ popexpiretime: "3" }, "EXPIRE 3", "LOGIN-DELAY 0"],
      [{ popminpoll: "2" }, "EXPIRE NEVER", "LOGIN-DELAY 120"],
    ];
    for (const [config, expire, delay] of cases) {
      const { srv } = await serve({ config });
      const d = await connect(srv, JSON.stringify(config));
      const swap = (lines: string[]) => lines.map((l) => (l.startsWith("EXPIRE") ? expire : l.startsWith("LOGIN-DELAY") ? delay : l));
      await capa(d, swap(CAPA_BEFORE_LOGIN_PLAINTEXT));
      await d.step("USER alice", USER_OK);
      await d.step("PASS alice-pw", READY);
      await capa(d, swap(CAPA_AFTER_LOGIN));
      dialogs.push(d);
    }
    checkDialogs(dialogs);
  });
});

describe("sasl_mech_list (imapd.conf(5) sasl_pwcheck_method)", () => {
  test("restricts CAPA SASL, bare AUTH and what AUTH accepts", async () => {
    const { srv } = await serve({ config: { sasl_mech_list: "PLAIN LOGIN" } });
    const d = await connect(srv);
    await capa(d, CAPA_BEFORE_LOGIN_PLAINTEXT.map((l) => (l.startsWith("SASL") ? "SASL PLAIN LOGIN" : l)));
    await d.step("AUTH", "+OK List of supported mechanisms follows", ["PLAIN", "LOGIN"]);
    await d.step("AUTH CRAM-MD5", "-ERR [AUTH] authenticating: no mechanism available");
    await d.step(`AUTH PLAIN ${b64("\0alice\0alice-pw")}`, READY);
    d.check();
  });
});

describe("plaintext and TLS policy without TLS", () => {
  test("tls_required: yes — no APOP challenge, no SASL and no USER in CAPA, AUTH and USER need a layer", async () => {
    const { srv } = await serve({ config: { tls_required: "yes" } });
    const d = await connect(srv, "", NO_CHALLENGE_GREETING);
    await capa(d, ["EXPIRE NEVER", "LOGIN-DELAY 0", ...TAIL, `IMPLEMENTATION ${IMPLEMENTATION}`]);
    await d.step("AUTH", AUTH_NEEDS_LAYER);
    await d.step("AUTH ", AUTH_NEEDS_LAYER);
    await d.step(`AUTH PLAIN ${b64("\0alice\0alice-pw")}`, AUTH_NEEDS_LAYER);
    await d.step("AUTH CRAM-MD5", AUTH_NEEDS_LAYER);
    await d.step("USER alice", USER_NEEDS_LAYER);
    await d.step("APOP alice 0123456789abcdef0123456789abcdef", "-ERR Unrecognized command");
    d.check();
  });

  test("-p 2 unlocks USER and PLAIN/LOGIN without allowplaintext", async () => {
    const { srv } = await serve({ config: { allowplaintext: null } }, ["-p", "2"]);
    const d = await connect(srv);
    await capa(d, CAPA_BEFORE_LOGIN_PLAINTEXT);
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    d.check();
  });

  test("-p goes through atoi into an unsigned ssf: '-p -1' and '-p 3x' unlock USER, '-p x' does not (master/service.c:main)", async () => {
    const dialogs: Dialog[] = [];
    for (const [value, unlocked] of [["-1", true], ["3x", true], ["x", false]] as const) {
      const { srv } = await serve({ config: { allowplaintext: null } }, ["-p", value]);
      const d = await connect(srv, `-p ${value}`);
      if (unlocked) {
        await capa(d, CAPA_BEFORE_LOGIN_PLAINTEXT);
        await d.step("USER alice", USER_OK);
      } else {
        await capa(d, CAPA_NO_PLAINTEXT);
        await d.step("USER alice", USER_NEEDS_LAYER);
      }
      dialogs.push(d);
    }
    checkDialogs(dialogs);
  });

  test("-p 1 does not unlock USER", async () => {
    const { srv } = await serve({ config: { allowplaintext: null } }, ["-p", "1"]);
    const d = await connect(srv);
    await capa(d, CAPA_NO_PLAINTEXT);
    await d.step("USER alice", USER_NEEDS_LAYER);
    d.check();
  });

  test("-p 2 does not override tls_required", async () => {
    const { srv } = await serve({ config: { tls_required: "yes" } }, ["-p", "2"]);
    const d = await connect(srv, "", NO_CHALLENGE_GREETING);
    await capa(d, ["EXPIRE NEVER", "LOGIN-DELAY 0", ...TAIL, `IMPLEMENTATION ${IMPLEMENTATION}`]);
    await d.step("USER alice", USER_NEEDS_LAYER);
    await d.step("AUTH", AUTH_NEEDS_LAYER);
    d.check();
  });
});
