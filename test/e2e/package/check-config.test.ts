/**
 * `pop3d --check-config`: the compiled binary reads a config the way a start would, reports every
 * bad line with file, line and key (not just the first), warns about keys it does not read, opens
 * the files the config names as the user it would serve as, and exits 0 or 78 (EX_CONFIG) — the
 * status a real start gives the same config.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, chmodSync, chownSync, copyFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, cleanupAll, makeFixture, run, tempDir } from "../../support/harness.ts";

setDefaultTimeout(60_000);
afterAll(cleanupAll);

const AS_ROOT = process.getuid?.() === 0;
/** The fixture's service account when the tests run as root (harness.ts), else whoever we are. */
const ACCOUNT = AS_ROOT ? "nobody" : undefined;

async function check(confPath: string, ...extra: string[]): Promise<{ code: number; lines: string[] }> {
  const r = await run([BINARY, "--check-config", "-C", confPath, ...extra]);
  expect(r.stderr).toBe("");
  return { code: r.code, lines: r.stdout.toString().trimEnd().split("\n") };
}

describe("pop3d --check-config", () => {
  test("a working config: no errors, exit 0, and the account the files were opened as", async () => {
    const fx = makeFixture({ config: { pop3_syslog_socket: "/dev/null" } });
    const { code, lines } = await check(fx.confPath, "--user", "alice");
    expect(lines.filter((l) => l.startsWith("error:"))).toEqual([]);
    expect(lines.at(-1)).toMatch(/^0 error\(s\), \d+ warning\(s\)$/);
    expect(code).toBe(0);
    if (ACCOUNT) expect(lines).toContain(`checking files as user ${ACCOUNT}`);
    // the store a start would choose, and why, as its first log line says
    expect(lines.some((l) => l.startsWith("info: ") && l.includes(`mail store maildir (pop3_mailstore at ${fx.confPath}:`))).toBe(true);
  });

  test("every bad line is reported with file, line and key; unknown and Cyrus-only keys are warnings; exit 78", async () => {
    const fx = makeFixture();
    const first = (await Bun.file(fx.confPath).text()).split("\n").length;
    appendFileSync(
      fx.confPath,
      ["popminpoll: banana", "poptimeout: 5", "poptimeout: 6", "pop3_maildr_path: /x/%u", "lmtpsocket: /run/lmtp", "allowapop: maybe", "pop3s_popminpoll: 1", "auditlog: 1", ""].join("\n"),
    );
    const { code, lines } = await check(fx.confPath);
    const at = (offset: number, key: string) => `${fx.confPath}:${first + offset}: ${key}: `;
    const errors = lines.filter((l) => l.startsWith("error:"));
    expect(errors).toHaveLength(3);
    expect(errors[0]).toStartWith(`error: ${at(0, "popminpoll")}`);
    expect(errors[1]).toStartWith(`error: ${at(2, "poptimeout")}option specified twice`);
    expect(errors[2]).toStartWith(`error: ${at(5, "allowapop")}`);
    expect(lines).toContain(`warning: ${at(3, "pop3_maildr_path")}unknown option: neither pop3d nor Cyrus reads it (a typo?)`);
    expect(lines).toContain(`warning: ${at(4, "lmtpsocket")}a Cyrus option pop3d does not read (ignored)`);
    // an option the table marks as accepted and ignored says why
    expect(lines.some((l) => l.startsWith(`warning: ${at(7, "auditlog")}accepted but ignored by pop3d: `))).toBe(true);
    // another service's override is that service's business
    expect(lines.some((l) => l.includes("pop3s_popminpoll"))).toBe(false);
    expect(lines.at(-1)).toStartWith("3 error(s), ");
    expect(code).toBe(78);

    // and a real start refuses the same file with the same status
    const start = await run([BINARY, "-C", fx.confPath, "--listen", "127.0.0.1:0"]);
    expect(start.code).toBe(78);
  });

  test("--service picks the <service>_ overrides a real start under that service would use", async () => {
    const fx = makeFixture({ config: { pop3s_popminpoll: "soon" } });
    expect((await check(fx.confPath)).code).toBe(0);
    const { code, lines } = await check(fx.confPath, "--service", "pop3s");
    expect(lines.some((l) => l.startsWith(`error: ${fx.confPath}:`) && l.includes(": pop3s_popminpoll: "))).toBe(true);
    expect(code).toBe(78);
  });

  test("a missing config file is one error naming it", async () => {
    const { code, lines } = await check("/nonexistent/imapd.conf");
    expect(lines).toContain("error: cannot open configuration file /nonexistent/imapd.conf: ENOENT");
    expect(code).toBe(78);
  });

  test("files the config names are opened as the service account: unreadable, missing, mismatched", async () => {
    const fx = makeFixture();
    const dir = tempDir("check-tls");
    const pem = (name: string) => join(dir, name);
    for (const name of ["a", "b"]) {
      const r = await run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-days", "2",
        "-keyout", pem(`${name}.key`), "-out", pem(`${name}.crt`)]);
      expect(r.code).toBe(0);
    }
    chmodSync(dir, 0o755);
    for (const f of ["a.crt", "b.crt", "b.key"]) chmodSync(pem(f), 0o644);
    chmodSync(pem("a.key"), 0o600);
    const base = await Bun.file(fx.confPath).text();

    // the key of another certificate
    writeFileSync(fx.confPath, `${base}tls_server_cert: ${pem("a.crt")}\ntls_server_key: ${pem("b.key")}\n`);
    let { code, lines } = await check(fx.confPath);
    expect(lines.filter((l) => l.startsWith("error:")).join("\n")).toMatch(/tls_server_(cert|key): .*(key values mismatch|does not match|KEY_VALUES_MISMATCH)/i);
    expect(code).toBe(78);

    // a key only root can read
    if (AS_ROOT) {
      writeFileSync(fx.confPath, `${base}tls_server_cert: ${pem("a.crt")}\ntls_server_key: ${pem("a.key")}\n`);
      ({ code, lines } = await check(fx.confPath));
      expect(lines).toContain(`error: ${fx.confPath}:${base.split("\n").length + 1}: tls_server_key: cannot read ${pem("a.key")}: EACCES (as user ${ACCOUNT})`);
      expect(code).toBe(78);
    }

    // cyr_deny's list readable by root only: nobody would be denied
    if (AS_ROOT) {
      const denyDb = join(fx.dir, "conf", "user_deny.db");
      writeFileSync(denyDb, "");
      chownSync(denyDb, 0, 0);
      chmodSync(denyDb, 0o600);
      writeFileSync(fx.confPath, base);
      ({ code, lines } = await check(fx.confPath));
      expect(lines).toContain(`error: ${fx.confPath}: userdeny_db_path: ${denyDb}: EACCES (as user ${ACCOUNT})`);
      expect(code).toBe(78);
      rmSync(denyDb);
    }

    // a missing passwd file, and a user without a Maildir
    writeFileSync(fx.confPath, base.replace(fx.passwdPath, join(dir, "no-passwd")));
    ({ code, lines } = await check(fx.confPath, "--user", "zoe"));
    expect(lines.some((l) => l.startsWith("error: ") && l.includes(`pop3_passwd_file: ${join(dir, "no-passwd")}: ENOENT`))).toBe(true);
    expect(lines.some((l) => l.startsWith("error: ") && l.includes(`pop3_maildir_path: Maildir of zoe: ${join(fx.dir, "mail", "zoe", "Maildir")}: ENOENT`))).toBe(true);
    expect(code).toBe(78);

    // good files: all clear again
    copyFileSync(pem("a.key"), pem("a2.key"));
    chmodSync(pem("a2.key"), 0o644);
    writeFileSync(fx.confPath, `${base}tls_server_cert: ${pem("a.crt")}\ntls_server_key: ${pem("a2.key")}\npop3_syslog_socket: /dev/null\n`);
    ({ code, lines } = await check(fx.confPath, "--user", "alice"));
    expect(lines.filter((l) => l.startsWith("error:"))).toEqual([]);
    expect(code).toBe(0);
  });
});
