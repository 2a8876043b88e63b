/**
 * `pop3_sessions_per_process` with master's -s (pop3s) and -H (a HAProxy PROXY header first): each
 * connection of a shared process starts TLS or reads its header on its own, and master hears
 * CONNECTION_MULTI for each.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cleanupAll, type Fixture } from "../../support/harness.ts";
import { makePki, tlsConfig, type Pki } from "../tls/pki.ts";
import { popTls } from "../tls/tls-support.ts";
import { FakeMaster, masterFixture, setConfig, type SyslogReceiver } from "./support.ts";

// A hang guard only; no assertion measures time.
setDefaultTimeout(60_000);

const CONNECTION_MULTI = 4;

let fx: Fixture;
let syslog: SyslogReceiver;
let pki: Pki;
beforeAll(async () => {
  pki = makePki();
  ({ fx, syslog } = await masterFixture({ config: tlsConfig(pki, { allowplaintext: "yes" }) }));
  setConfig(fx, { pop3_sessions_per_process: "3" });
});
afterEach(() => FakeMaster.stopAll());
afterAll(async () => {
  await syslog?.stop();
  cleanupAll();
});

const steps = [{ cmd: "USER alice" }, { cmd: "PASS alice-pw" }, { cmd: "QUIT" }];

describe("many sessions per process under master", () => {
  test("-s: two pop3s sessions in one process, each with its own handshake", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-s"] });
    for (let i = 0; i < 2; i++) {
      const r = await popTls({ port: m.port, implicit: true, tls: { ca: pki.caCert }, steps });
      expect(r.error).toBeNull();
      expect(r.events[1]!.status).toMatch(new RegExp(`^\\+OK Mailbox locked and ready SESSIONID=<[^>]*-${m.pid}-`));
    }
    // statuses come through the fake master's stdout, replies through the socket: wait for both
    expect(await m.waitForStatuses(2, m.pid)).toEqual([CONNECTION_MULTI, CONNECTION_MULTI]);
  });

  test("-H: each connection's PROXY header names its client", async () => {
    const m = await FakeMaster.start({ args: ["-C", fx.confPath, "-H"] });
    for (const source of ["192.0.2.7", "198.51.100.9"]) {
      const r = await popTls({ port: m.port, proxy: `PROXY TCP4 ${source} 127.0.0.1 40000 110\r\n`, steps });
      expect(r.error).toBeNull();
      await syslog.waitForMessage(new RegExp(`login: .*\\[${source.replaceAll(".", "\\.")}\\] alice`), m.pid);
    }
    // statuses come through the fake master's stdout, replies through the socket: wait for both
    expect(await m.waitForStatuses(2, m.pid)).toEqual([CONNECTION_MULTI, CONNECTION_MULTI]);
  });
});
