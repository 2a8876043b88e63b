/**
 * Authentication on the wire (pop3d.c:cmdloop, pop3d.c:popd_canon_user): USER/PASS details, APOP with the greeting's
 * challenge, AUTH PLAIN / LOGIN / CRAM-MD5 including cancel, bad base64 and authzid policy.
 */
import { describe, test } from "bun:test";
import { useWireCleanup } from "./wire-fixture.ts";
import { ANCHOR_TOTAL, IMPLEMENTATION, MECHANISMS, b64, challengeOf, hmacMd5Hex, md5Hex } from "./expected.ts";
import { checkDialogs } from "./dialog.ts";
import {
  AUTH_FAILURE,
  BAD_PROTOCOL,
  INVALID_LOGIN,
  INVALID_USER,
  MISSING,
  MUST_GIVE_PASS,
  MUST_GIVE_USER,
  READY,
  UNRECOGNIZED,
  USER_OK,
  connect,
  serve,
} from "./steps.ts";

useWireCleanup();

const STAT_ALL = `+OK 7 ${ANCHOR_TOTAL}`;
const CANCELED = "-ERR [AUTH] Client canceled authentication";
const plain = (authzid: string, authcid: string, password: string) => b64(`${authzid}\0${authcid}\0${password}`);

describe("USER / PASS", () => {
  test("the password keeps its leading whitespace: PASS takes everything after one separator", async () => {
    const { srv } = await serve({ users: { alice: "alice-pw", carol: "  lead pw" } });
    const d = await connect(srv);
    await d.step("USER carol", USER_OK);
    await d.step("PASS  lead pw", INVALID_LOGIN);
    await d.step("USER carol", USER_OK);
    await d.step("PASS   lead pw ", INVALID_LOGIN);
    await d.step("USER carol", USER_OK);
    await d.step("PASS   lead pw", READY);
    await d.step("STAT", "+OK 0 0");
    d.check();
  });

  test("names with forbidden bytes are 'Invalid user' and leave no USER pending", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    const bad = ["ali/ce", "al\x01ice", "al\x1bice", "al\x7fice", "al\xe9ice", "a:b", "a%b", "a&b", "a*b", "a?b", "x".repeat(81)];
    for (const name of bad) {
      await d.step(`USER ${name}`, INVALID_USER);
      await d.step("PASS alice-pw", MUST_GIVE_USER);
    }
    // a tab inside the argument is a control byte too (only leading whitespace is skipped)
    await d.step("USER al\tice", INVALID_USER);
    await d.step(`USER ${"x".repeat(80)}`, USER_OK);
    await d.step("USER alice", MUST_GIVE_PASS);
    await d.step("PASS x", INVALID_LOGIN);
    await d.step("USER john smith", USER_OK);
    await d.step("PASS x", INVALID_LOGIN);
    // username_tolower (default on)
    await d.step("USER ALICE", USER_OK);
    await d.step("PASS alice-pw", READY);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("unknown user and wrong password get the same answer, with PASS, AUTH and APOP", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    const challenge = challengeOf(d.client.greeting);
    await d.step("USER nosuchuser", USER_OK);
    await d.step("PASS alice-pw", INVALID_LOGIN);
    await d.step("USER alice", USER_OK);
    await d.step("PASS wrong", INVALID_LOGIN);
    await d.step(`AUTH PLAIN ${plain("", "nosuchuser", "alice-pw")}`, AUTH_FAILURE);
    await d.step(`AUTH PLAIN ${plain("", "alice", "wrong")}`, AUTH_FAILURE);
    await d.step(`APOP nosuchuser ${md5Hex(challenge + "alice-pw")}`, AUTH_FAILURE);
    await d.step(`APOP alice ${md5Hex(challenge + "wrong")}`, AUTH_FAILURE);
    await d.step("AUTH LOGIN", "+ VXNlcm5hbWU6");
    await d.step(b64("nosuchuser"), "+ UGFzc3dvcmQ6");
    await d.step(b64("alice-pw"), AUTH_FAILURE);
    d.check();
  });
});

describe("APOP", () => {
  test("MD5 of the greeting's challenge and the password logs in", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    const challenge = challengeOf(d.client.greeting);
    await d.step(`APOP alice ${md5Hex(challenge + "alice-pw")}`, READY);
    await d.step("STAT", STAT_ALL);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });

  test("wrong digest, malformed digests, pending USER", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    const challenge = challengeOf(d.client.greeting);
    const right = md5Hex(challenge + "alice-pw");
    await d.step(`APOP alice ${md5Hex(challenge + "alice-pw!")}`, AUTH_FAILURE);
    await d.step("APOP", MISSING);
    await d.step("APOP alice", BAD_PROTOCOL);
    await d.step("APOP alice xyz", BAD_PROTOCOL);
    await d.step(`APOP alice ${right.toUpperCase()}`, BAD_PROTOCOL);
    await d.step(`APOP alice ${right.slice(0, 31)}`, BAD_PROTOCOL);
    await d.step(`APOP alice ${right}0`, BAD_PROTOCOL);
    await d.step(`APOP a b ${right}`, AUTH_FAILURE);
    await d.step("USER alice", USER_OK);
    await d.step(`APOP alice ${right}`, MUST_GIVE_PASS);
    await d.step("PASS wrong", INVALID_LOGIN);
    // non-hex junk after the 32 digits is ignored, as libsasl does (pop3d.c:cmd_apop)
    await d.step(`APOP alice ${right}zz`, READY);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("allowapop: no → no challenge in the greeting (trailing space kept) and APOP is Unrecognized", async () => {
    const { srv } = await serve({ config: { allowapop: "no" } });
    const d = await connect(srv, "", `+OK pop.test ${IMPLEMENTATION} server ready `);
    await d.step("APOP", UNRECOGNIZED);
    await d.step("APOP alice 0123456789abcdef0123456789abcdef", UNRECOGNIZED);
    await d.step("USER alice", USER_OK);
    await d.step("PASS alice-pw", READY);
    d.check();
  });
});

describe("AUTH", () => {
  test("PLAIN: bad base64 in the initial response and in a continuation; '*' cancels; case-insensitive mechanism", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("AUTH PLAIN !!!!", BAD_PROTOCOL);
    await d.step("AUTH PLAIN", "+ ");
    await d.step("!!!!", BAD_PROTOCOL);
    await d.step("AUTH PLAIN", "+ ");
    await d.step("*whatever", CANCELED);
    await d.step("AUTH PLAIN =", BAD_PROTOCOL);
    await d.step(`AUTH PLAIN ${b64("no-nul-at-all")}`, BAD_PROTOCOL);
    await d.step(`auth plain ${plain("", "alice", "alice-pw")}`, READY);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("PLAIN initial response with a truncated final quantum is tolerated", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step(`AUTH PLAIN ${plain("", "alice", "alice-pw").replace(/=+$/, "")}`, READY);
    d.check();
  });

  test("LOGIN: with and without an initial response; cancel at the password prompt", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("AUTH LOGIN", "+ VXNlcm5hbWU6");
    await d.step(b64("alice"), "+ UGFzc3dvcmQ6");
    await d.step("*", CANCELED);
    await d.step(`AUTH LOGIN ${b64("alice")}`, "+ UGFzc3dvcmQ6");
    await d.step(b64("wrong"), AUTH_FAILURE);
    await d.step(`AUTH LOGIN ${b64("alice")}`, "+ UGFzc3dvcmQ6");
    await d.step(b64("alice-pw"), READY);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("CRAM-MD5: HMAC of the server's challenge; wrong digest; initial response refused", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    const cram = async (password: string, want: string | RegExp) => {
      const [line = ""] = await d.step("AUTH CRAM-MD5", /^\+ [A-Za-z0-9+/]+=*$/);
      const challenge = Buffer.from(line.slice(2), "base64").toString("latin1");
      d.same("CRAM-MD5 challenge shape", /^<\d+\.\d+@pop\.test>$/.test(challenge) ? "<rand.time@pop.test>" : challenge, "<rand.time@pop.test>");
      await d.step(b64(`alice ${hmacMd5Hex(password, challenge)}`), want);
    };
    await cram("wrong", AUTH_FAILURE);
    await d.step(`AUTH CRAM-MD5 ${b64("alice 0123")}`, BAD_PROTOCOL);
    await cram("alice-pw", READY);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("an authzid naming another user is refused unless the authcid is in admins", async () => {
    const plainUsers = { users: { alice: "alice-pw", bob: "bob-pw" } };
    const refused = await serve(plainUsers);
    const d = await connect(refused.srv, "no admins");
    await d.step(`AUTH PLAIN ${plain("alice", "bob", "bob-pw")}`, AUTH_FAILURE);
    await d.step(`AUTH PLAIN ${plain("alice", "bob", "wrong")}`, AUTH_FAILURE);
    await d.step(`AUTH PLAIN ${plain("bob", "bob", "bob-pw")}`, READY);
    await d.step("STAT", "+OK 0 0");

    const admin = await serve({ ...plainUsers, config: { admins: "bob" } });
    const e = await connect(admin.srv, "admins: bob");
    await e.step(`AUTH PLAIN ${plain("alice", "bob", "wrong")}`, AUTH_FAILURE);
    await e.step(`AUTH PLAIN ${plain("bob", "alice", "alice-pw")}`, AUTH_FAILURE);
    await e.step(`AUTH PLAIN ${plain("alice", "bob", "bob-pw")}`, READY);
    await e.step("STAT", STAT_ALL);
    checkDialogs([d, e]);
  });
});

describe("long SASL lines", () => {
  test("a continuation line longer than 8191 bytes is one response line (the SASL limit is 21848)", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    const response = plain("", "alice", "x".repeat(12000));
    await d.step("AUTH PLAIN", "+ ");
    await d.step(response, AUTH_FAILURE);
    await d.step("NOOP", UNRECOGNIZED);
    await d.step("AUTH PLAIN", "+ ");
    await d.step(plain("", "alice", "alice-pw"), READY);
    d.check();
  });

  test("an initial response longer than the 8191-byte command line is cut there, and the rest is a command of its own", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    const response = plain("", "alice", "x".repeat(12000));
    await d.raw(`AUTH PLAIN ${response}\r\n`, [AUTH_FAILURE, UNRECOGNIZED]);
    await d.step("NOOP", UNRECOGNIZED);
    d.check();
  });
});

/**
 * Details of Cyrus's AUTH path (imap/pop3d.c cmd_auth, imap/saslserver.c, libsasl sasl_decode64):
 * cmd_auth has no pending-USER check; the initial response is decoded before the mechanism is
 * looked up; a continuation is read with prot_fgets into a 21848-byte buffer (at most 21847 bytes);
 * a continuation whose last base64 quantum is incomplete makes sasl_decode64 return SASL_CONTINUE,
 * which saslserver reports as the SASL result.
 */
describe("AUTH as Cyrus's saslserver does it", () => {
  test("AUTH is not refused while a USER is pending (only APOP and USER check that)", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("USER alice", USER_OK);
    await d.step("AUTH", "+OK List of supported mechanisms follows", MECHANISMS);
    await d.step(`AUTH PLAIN ${plain("", "alice", "alice-pw")}`, READY);
    await d.step("STAT", STAT_ALL);
    d.check();
  });

  test("the initial response is decoded before the mechanism is looked up", async () => {
    const { srv } = await serve({ config: { allowplaintext: null } });
    const d = await connect(srv);
    await d.step("AUTH NOSUCHMECH !!!!", BAD_PROTOCOL);
    await d.step("AUTH PLAIN !!!!", BAD_PROTOCOL);
    // a truncated final quantum is fine for an initial response: then the mechanism decides
    await d.step("AUTH NOSUCHMECH QUJD", "-ERR [AUTH] authenticating: no mechanism available");
    await d.step("AUTH NOSUCHMECH QUJ", "-ERR [AUTH] authenticating: no mechanism available");
    await d.step("AUTH PLAIN QUJ", "-ERR [AUTH] authenticating: encryption needed to use mechanism");
    d.check();
  });

  test("a continuation with an incomplete last quantum fails with libsasl's SASL_CONTINUE text", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("AUTH PLAIN", "+ ");
    await d.step(plain("alice", "alice", "alice-pw").replace(/=+$/, ""), "-ERR [AUTH] authenticating: another step is needed in authentication");
    await d.step("AUTH PLAIN", "+ ");
    await d.step(plain("alice", "alice", "alice-pw"), READY);
    d.check();
  });

  test("continuation lines are cut after 21847 bytes; the rest is read as a command", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("AUTH PLAIN", "+ ");
    await d.raw(`*${"x".repeat(21844)}\r\n`, [CANCELED]);
    await d.step("AUTH PLAIN", "+ ");
    // 21846 octets + CRLF: the first read ends with the CR; the lone LF is an empty command line.
    // QUIT follows in the same write, so a missing reply shows up as the wrong line, not a wait.
    await d.raw(`*${"x".repeat(21845)}\r\nQUIT\r\n`, [CANCELED, UNRECOGNIZED, "+OK"]);
    await d.expectClosed();
    d.check();
  });
});

describe("end of input during AUTH", () => {
  test("EOF while a continuation is awaited: 'Error reading client response: ' (empty error), then close", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("AUTH PLAIN", "+ ");
    d.client.halfClose();
    await d.expectLine("-ERR [AUTH] Error reading client response: ");
    await d.expectClosed();
    d.check();
  });
});

describe("anonymous", () => {
  test("a refused anonymous PASS keeps the USER (Cyrus's cmd_pass returns before forgetting it)", async () => {
    const { srv } = await serve();
    const d = await connect(srv);
    await d.step("USER Anonymous", USER_OK);
    await d.step("PASS guest@example.org", INVALID_LOGIN);
    await d.step("PASS again", INVALID_LOGIN);
    await d.step("USER alice", MUST_GIVE_PASS);
    await d.step("QUIT", "+OK");
    await d.expectClosed();
    d.check();
  });
});
