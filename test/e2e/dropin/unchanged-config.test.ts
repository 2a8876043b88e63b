/**
 * An imapd.conf written for Cyrus works unchanged: without pop3_mailstore, a Cyrus installation
 * (partition-*, defaultpartition or mailboxes.db) selects the Cyrus store and anything else
 * Maildir; start-up says which and why; a missing Maildir is logged with the key and the path.
 * Telemetry files follow `umask` (Cyrus's 077 by default).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chownSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PopClient, cleanupAll, makeFixture, run } from "../../support/harness.ts";
import { logged, startStandalone } from "../tls/tls-support.ts";

afterAll(cleanupAll);

describe("the default store", () => {
  test("a Cyrus installation's keys select the Cyrus store, and start-up says why", async () => {
    const fx = makeFixture({ config: { "partition-default": "/var/spool/cyrus/mail", pop3_mailstore: "" } });
    await rewrite(fx.confPath, (l) => !l.startsWith("pop3_mailstore:"));
    const server = await startStandalone(fx, ["--listen", "127.0.0.1:0"]);
    await logged(server, /behaving as Cyrus [\d.]+ \(.*\); mail store cyrus \(default: imapd\.conf describes a Cyrus installation: partition-default\)/);
  });

  test("no Cyrus keys: Maildir, and a missing Maildir is logged with the key and the expanded path", async () => {
    const fx = makeFixture({ users: { alice: "alice-pw", dave: "dave-pw" } });
    await rewrite(fx.confPath, (l) => !l.startsWith("pop3_mailstore:"));
    rmSync(fx.maildir("dave"), { recursive: true });
    const server = await startStandalone(fx, ["--listen", "127.0.0.1:0"]);
    await logged(server, /mail store maildir \(default: imapd\.conf describes no Cyrus installation\)/);
    const c = await PopClient.connect(server.port({}));
    expect(await c.cmd("USER dave")).toBe("+OK Name is a valid mailbox");
    expect(await c.cmd("PASS dave-pw")).toBe("-ERR [SYS/TEMP] Unable to open maildrop: Mailbox does not exist");
    await logged(server, new RegExp(`Unable to open maildrop user\\.dave: Mailbox does not exist \\(cannot open maildir ${fx.maildir("dave")} \\(pop3_maildir_path\\)`));
    expect(await c.cmd("QUIT")).toBe("+OK");
  });
});

describe("start-up errors name what to fix", () => {
  test("a port already in use: the address and the option, exit 71 (EX_OSERR)", async () => {
    const fx = makeFixture();
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await run([BINARY, "-C", fx.confPath, "--listen", `127.0.0.1:${taken.port}`]);
      expect(r.code).toBe(71);
      expect(r.stderr.toString()).toContain(`cannot listen on 127.0.0.1:${taken.port} (--listen or pop3_listen): address already in use`);
    } finally {
      taken.stop(true);
    }
  });
});

describe("umask", () => {
  test("telemetry files are created 0600 under the default umask 077", async () => {
    const fx = makeFixture();
    const logDir = join(fx.dir, "conf", "log", "alice");
    mkdirSync(logDir, { recursive: true });
    // the server runs as the fixture's owner; the log directory must be its
    const owner = statSync(fx.dir);
    chownSync(join(fx.dir, "conf", "log"), owner.uid, owner.gid);
    chownSync(logDir, owner.uid, owner.gid);
    const server = await startStandalone(fx, ["--listen", "127.0.0.1:0"]);
    const c = await PopClient.connect(server.port({}));
    await c.cmd("USER alice");
    expect(await c.cmd("PASS alice-pw")).toStartWith("+OK");
    expect(await c.cmd("QUIT")).toBe("+OK");
    await c.closed();
    const files = readdirSync(logDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(statSync(join(logDir, f)).mode & 0o777).toBe(0o600);
  });
});

async function rewrite(path: string, keep: (line: string) => boolean): Promise<void> {
  const text = await Bun.file(path).text();
  writeFileSync(path, text.split("\n").filter(keep).join("\n"));
}
