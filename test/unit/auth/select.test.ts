import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { passdbFromConfig } from "../../../src/auth/passdb/select.ts";
import { PasswdFileDb } from "../../../src/auth/passdb/passwd-file.ts";
import { SasldbDb } from "../../../src/auth/passdb/sasldb.ts";
import { AuxpropChain, PwcheckChain } from "../../../src/auth/passdb/pwcheck-chain.ts";
import { SaslauthdDb } from "../../../src/auth/passdb/saslauthd.ts";
import { PassDbUnavailable, type PasswordDb } from "../../../src/auth/passdb/passdb.ts";
import { ConfigError } from "../../../src/config/config.ts";
import { logFromSink } from "../../../src/log/log.ts";
import { fakeConfig } from "./config-fake.ts";

const dir = mkdtempSync(join(tmpdir(), "pop3d-select-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const passwd = join(dir, "passwd");
writeFileSync(passwd, "alice:{PLAIN}alice-pw\nhashed:{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=\n");

function build(values: Record<string, string>) {
  const warnings: string[] = [];
  const log = logFromSink((level, m) => {
    if (level === "warning") warnings.push(m);
  });
  return { db: passdbFromConfig(fakeConfig({ servername: "pop.test", ...values }), log), warnings };
}

describe("passdbFromConfig", () => {
  test("the default (auxprop) with pop3_passwd_file set is the passwd-file", () => {
    expect(build({ pop3_passwd_file: passwd }).db).toBeInstanceOf(PasswdFileDb);
  });
  test("the default without pop3_passwd_file is sasldb at sasl_sasldb_path, realm = servername", async () => {
    const { db, warnings } = build({ sasl_sasldb_path: join(dir, "none") });
    expect(db).toBeInstanceOf(SasldbDb);
    expect((db as SasldbDb).path).toBe(join(dir, "none"));
    expect(warnings[0]).toContain(`sasldb ${join(dir, "none")} does not exist`);
    expect(await db.checkPassword("alice", "x")).toBe(false);
  });
  test("auxprop with sasl_auxprop_plugin sasldb ignores the passwd-file", () => {
    expect(build({ pop3_passwd_file: passwd, sasl_auxprop_plugin: "sasldb", sasl_sasldb_path: passwd }).db).toBeInstanceOf(SasldbDb);
  });
  test("several auxprop plugins chain in order", () => {
    const { db } = build({ pop3_passwd_file: passwd, sasl_auxprop_plugin: "passwd-file sasldb" });
    expect(db).toBeInstanceOf(AuxpropChain);
    expect((db as AuxpropChain).sources.map((s) => s.constructor.name)).toEqual(["PasswdFileDb", "SasldbDb"]);
  });
  test("saslauthd: plain passwords from the daemon, secrets still from the auxprop plugins", async () => {
    const { db } = build({ pop3_passwd_file: passwd, sasl_pwcheck_method: "saslauthd", sasl_saslauthd_path: join(dir, "mux") });
    expect(db).toBeInstanceOf(PwcheckChain);
    const chain = db as PwcheckChain;
    expect(chain.checkers[0]).toBeInstanceOf(SaslauthdDb);
    expect((chain.checkers[0] as SaslauthdDb).path).toBe(join(dir, "mux"));
    expect(await db.plaintextSecret("alice")).toBe("alice-pw");
    await expect(db.checkPassword("alice", "alice-pw")).rejects.toBeInstanceOf(PassDbUnavailable);
  });
  test("several methods are tried in order until one accepts", async () => {
    const { db } = build({ pop3_passwd_file: passwd, sasl_pwcheck_method: "saslauthd auxprop", sasl_saslauthd_path: join(dir, "mux") });
    // saslauthd is down, but auxprop (the passwd-file) has the last word
    expect(await db.checkPassword("alice", "alice-pw")).toBe(true);
    expect(await db.checkPassword("alice", "wrong")).toBe(false);
  });
  test("an unavailable last method surfaces; an earlier one does not", async () => {
    const down: PasswordDb = { checkPassword: () => Promise.reject(new PassDbUnavailable("down")), plaintextSecret: async () => undefined };
    const no: PasswordDb = { checkPassword: async () => false, plaintextSecret: async () => undefined };
    await expect(new PwcheckChain([no, down], no).checkPassword("a", "b")).rejects.toThrow("down");
    expect(await new PwcheckChain([down, no], no).checkPassword("a", "b")).toBe(false);
  });
  test("passwd-file as a pwcheck method checks hashed secrets too", async () => {
    const { db } = build({ pop3_passwd_file: passwd, sasl_pwcheck_method: "passwd-file" });
    expect(await db.checkPassword("hashed", "secret")).toBe(true);
  });
  test("unusable settings are ConfigErrors naming the key", () => {
    const cases: [Record<string, string>, string][] = [
      [{ sasl_pwcheck_method: "pwcheck" }, "sasl_pwcheck_method"],
      [{ sasl_pwcheck_method: "  " }, "sasl_pwcheck_method"],
      [{ sasl_auxprop_plugin: "ldapdb" }, "sasl_auxprop_plugin"],
      [{ sasl_pwcheck_method: "passwd-file" }, "sasl_pwcheck_method"],
      [{ sasl_auxprop_plugin: "passwd-file" }, "sasl_auxprop_plugin"],
    ];
    for (const [values, key] of cases) {
      let err: unknown;
      try {
        build(values);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).key).toBe(key);
      expect((err as ConfigError).message).toStartWith(`/test/imapd.conf: ${key}: `);
    }
  });
});

describe("AuxpropChain", () => {
  const source = (users: Record<string, string>): PasswordDb => ({
    checkPassword: async (u, p) => users[u] === p,
    plaintextSecret: async (u) => users[u],
  });
  test("the first plugin that has the user gives the secret; any plugin may accept a password", async () => {
    const chain = new AuxpropChain([source({ alice: "one" }), source({ alice: "two", bob: "three" })]);
    expect(await chain.plaintextSecret("alice")).toBe("one");
    expect(await chain.plaintextSecret("bob")).toBe("three");
    expect(await chain.plaintextSecret("carol")).toBeUndefined();
    expect(await chain.checkPassword("alice", "two")).toBe(true);
    expect(await chain.checkPassword("alice", "four")).toBe(false);
  });
});
