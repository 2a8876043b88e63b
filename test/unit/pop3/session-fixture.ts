/** Settings, a password database and a store for Session unit tests that run without sockets. */
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { SessionSettings } from "../../../src/pop3/settings.ts";
import type { PasswordDb } from "../../../src/auth/passdb/passdb.ts";
import { defaultSaslSettings } from "../../../src/auth/sasl/sasl-config.ts";
import { MemoryStore } from "../../support/memory-store.ts";
import { RUN_DIR } from "../../support/processes.ts";

/** Ten minutes, the real minimum. */
export const TEN_MINUTES_MS = 600_000;

/**
 * Under the run's scratch root, which the test preload removes after the last file (and the next
 * run sweeps if this one died): files that import this fixture without removing it themselves
 * (the fuzz test, flow-control) left one pop3d-unit- dir in /tmp per run.
 */
export const configDirectory = (() => {
  // an e2e file's cleanupAll may have removed the root before this module is first imported
  mkdirSync(RUN_DIR, { recursive: true });
  return mkdtempSync(join(RUN_DIR, "unit-"));
})();

export function testSettings(overrides: Partial<SessionSettings> = {}): SessionSettings {
  return {
    service: "pop3",
    servername: "pop.test",
    sessionIdPrefix: "pop.test",
    serverinfo: "on",
    allowApop: true,
    allowPlaintext: true,
    allowAnonymous: false,
    tlsRequired: false,
    starttlsAvailable: false,
    failedLoginPauseMs: 0,
    plaintextLoginPauseMs: 0,
    idleTimeoutMs: TEN_MINUTES_MS,
    popMinPollSeconds: 0,
    popExpireSeconds: -1,
    uidlFormat: "cyrus",
    canonical: { virtdomains: "off", defaultDomain: "", toLower: true, popSubfolders: false },
    readOnly: false,
    externalSsf: 0,
    mechList: undefined,
    admins: new Set(),
    proxyServers: new Set(),
    chatty: false,
    sasl: defaultSaslSettings(),
    configDirectory,
    shutdownFiles: [],
    telemetryBySessionId: false,
    maxLoginsPerHost: 0,
    maxLoginsPerUser: 0,
    ...overrides,
  };
}

export const testPassdb: PasswordDb = {
  checkPassword: async (user, password) => user === "alice" && password === "alice-pw",
  plaintextSecret: async (user) => (user === "alice" ? "alice-pw" : undefined),
};

export const LOGIN = "USER alice\r\nPASS alice-pw\r\n";

/** alice's mailbox: a few small messages and one of `bigBytes` bytes. */
export function testStore(bigBytes = 256 * 1024): MemoryStore {
  const big = "Subject: big\r\n\r\n" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY\r\n".repeat(Math.ceil(bigBytes / 64));
  return new MemoryStore({ alice: { uidValidity: 1700000000, messages: ["Subject: one\r\n\r\nfirst\r\n", "Subject: two\r\n\r\nsecond\r\n", big] } });
}
