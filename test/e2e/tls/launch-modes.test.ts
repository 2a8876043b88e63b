/**
 * TLS in the one-connection launch modes: stdio (inetd, here socat exec'ing the binary on the
 * accepted socket) and Cyrus master (fd 4 listener, fd 3 status pipe). -s does the handshake on
 * the adopted fd before the greeting; STLS upgrades it; a failed handshake exits 76 (pop3d.c:shut_down, imap/tls.c:tls_init_serverengine).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { PopClient, cleanupAll, expectedRetr, makeFixture, run, sha256, type Fixture } from "../../support/harness.ts";
import { makePki, tlsConfig, type Pki } from "./pki.ts";
import {
  GREETING,
  POPLIB_TLS,
  capaNames,
  popTls,
  stdioBehindSocat,
  syslogCapture,
  underFakeMaster,
  type OneShot,
  type SyslogCapture,
} from "./tls-support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const EX_PROTOCOL = 76;

let pki: Pki;
let fx: Fixture;
let syslog: SyslogCapture;
let expected: Buffer[];

beforeAll(async () => {
  pki = makePki();
  syslog = await syslogCapture();
  fx = makeFixture({
    config: tlsConfig(pki, { allowplaintext: "no", allowstarttls: "yes", pop3_syslog_socket: syslog.path }),
  });
  expected = fx.anchorFiles.map(expectedRetr);
});
afterAll(cleanupAll);

type Launcher = (args: string[]) => Promise<OneShot>;
const modes: [string, Launcher, string[]][] = [
  ["stdio (socat nofork)", (args) => stdioBehindSocat(fx, args), []],
  ["master (fd 4 listener, -U 1)", (args) => underFakeMaster(fx, args), ["-U", "1"]],
];

for (const [mode, launch, base] of modes) {
  describe(mode, () => {
    test("-s: python poplib.POP3_SSL downloads all 7 messages intact, then exit 0", async () => {
      const server = await launch([...base, "-s"]);
      const r = await run(["python3", POPLIB_TLS, "pop3s", String(server.port), pki.caCert, "alice", "alice-pw"]);
      expect(r.stderr).toBe("");
      const out = JSON.parse(r.stdout.toString());
      expect(out.greeting).toMatch(GREETING);
      expect(out.tls_version).toBe("TLSv1.3");
      expect(out.capa).toContain("USER");
      expect(out.messages.map((m: { sha256: string }) => m.sha256)).toEqual(expected.map(sha256));
      expect(out.quit).toBe("+OK");
      expect(await server.exited).toBe(0);
      expect(server.stderr()).toBe("");
    });

    test("-s with ALPN pop3: the starttls: line goes to syslog", async () => {
      const mark = syslog.mark();
      const server = await launch([...base, "-s"]);
      const r = await popTls({ port: server.port, implicit: true, tls: { ca: pki.caCert, alpn: ["pop3"] }, steps: [{ cmd: "QUIT" }] });
      expect(r.error).toBeNull();
      expect(r.tls!.alpn).toBe("pop3");
      expect(await server.exited).toBe(0);
      await syslog.line(/pop3\[\d+\]: starttls: TLSv1\.3 with cipher \S+ \(\d+\/\d+ bits new\) no authentication; application protocol = pop3$/, mark);
    });

    test("-s: a client that is not speaking TLS: no greeting, closed, exit 76, 'TLS negiation failed' logged", async () => {
      const mark = syslog.mark();
      const server = await launch([...base, "-s"]);
      const r = await popTls({ port: server.port, greeting: false, steps: [{ raw: "CAPA\r\n" }, { rest: true }] });
      expect(r.events[1]?.rest ?? "").not.toContain("+OK");
      expect(await server.exited).toBe(EX_PROTOCOL);
      await syslog.line(/TLS negiation failed: \[127\.0\.0\.1\]$/, mark);
    });

    test("-s with ALPN imap: handshake refused, exit 76", async () => {
      const server = await launch([...base, "-s"]);
      const r = await popTls({ port: server.port, implicit: true, tls: { ca: pki.caCert, alpn: ["imap"] } });
      expect(r.error).toMatch(/NO_APPLICATION_PROTOCOL|no application protocol/i);
      expect(await server.exited).toBe(EX_PROTOCOL);
    });

    test("STLS: CAPA before/after, login over TLS, exit 0", async () => {
      const server = await launch(base);
      const r = await popTls({
        port: server.port,
        tls: { ca: pki.caCert },
        steps: [
          { cmd: "CAPA", multi: true },
          { cmd: "STLS" },
          { starttls: true },
          { cmd: "CAPA", multi: true },
          { cmd: "USER alice" },
          { cmd: "PASS alice-pw" },
          { cmd: "RETR 1", multi: true },
          { cmd: "QUIT" },
          { rest: true },
        ],
      });
      expect(r.error).toBeNull();
      const [before, stls, , after, user, pass, retr, quit] = r.events;
      expect(capaNames(before!.lines)).toContain("STLS");
      expect(capaNames(before!.lines)).not.toContain("USER");
      expect(stls!.status).toBe("+OK Begin TLS negotiation now");
      expect(capaNames(after!.lines)).not.toContain("STLS");
      expect(capaNames(after!.lines)).toContain("USER");
      expect(user!.status).toBe("+OK Name is a valid mailbox");
      expect(pass!.status).toMatch(/^\+OK Mailbox locked and ready/);
      expect(retr!.lines!.join("\r\n") + "\r\n").toBe(expected[0]!.toString("latin1"));
      expect(quit!.status).toBe("+OK");
      expect(await server.exited).toBe(0);
    });

    test("STLS injection: CAPA in the same segment as STLS is not answered over TLS", async () => {
      const server = await launch(base);
      const r = await popTls({
        port: server.port,
        tls: { ca: pki.caCert },
        steps: [{ raw: "STLS\r\nCAPA\r\n" }, { line: true }, { starttls: true }, { cmd: "QUIT" }, { rest: true }],
      });
      expect(r.error).toBeNull();
      expect(r.events[1]!.line).toBe("+OK Begin TLS negotiation now");
      expect(r.events[2]!.tls!.plaintext_leftover).toBe("");
      expect(r.events[3]!.status).toBe("+OK");
      expect(r.events[4]!.rest).toBe("");
      expect(await server.exited).toBe(0);
    });

    test("STLS followed by garbage instead of a handshake: closed, exit 76", async () => {
      const server = await launch(base);
      const c = await PopClient.connect(server.port);
      expect(await c.cmd("STLS")).toBe("+OK Begin TLS negotiation now");
      c.send("garbage, not a ClientHello\r\n");
      await c.closed();
      expect(c.unread().toString("latin1")).not.toMatch(/^[+-](OK|ERR)/m);
      expect(await server.exited).toBe(EX_PROTOCOL);
    });
  });
}

test("master mode reports the connection to master on fd 3", async () => {
  const server = await underFakeMaster(fx, ["-U", "1", "-s"]);
  const r = await popTls({ port: server.port, implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "QUIT" }] });
  expect(r.error).toBeNull();
  expect(await server.exited).toBe(0);
  // UNAVAILABLE (2) then CONNECTION (3) when the connection is accepted (master/service.c:notify_master)
  expect((await (server as Awaited<ReturnType<typeof underFakeMaster>>).status).slice(0, 2)).toEqual([2, 3]);
});
