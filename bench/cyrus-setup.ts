/**
 * A throwaway Cyrus 3.x (Debian cyrus-imapd) for the Cyrus benchmarks: master with imapd, lmtpd and
 * Cyrus's own pop3d in a temp dir, run as the cyrus user, with one imapd.conf that our binary
 * (pop3_mailstore: cyrus) shares. A large mailbox is built the way Cyrus itself adopts files:
 * message files written into the mailbox directory, then `reconstruct -f` indexes them.
 */
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CYRUS_BIN = "/usr/lib/cyrus/bin";
const POP3D_CANDIDATES = [process.env.CYRUS_POP3D, `${CYRUS_BIN}/pop3d`, "/opt/cyrus-pop3d/usr/lib/cyrus/bin/pop3d"];
const ADMIN_PASSWORD = "bench-admin";
const SERVERNAME = "bench.test";

function account(): { uid: number; gid: number } {
  const entry = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === "cyrus");
  if (!entry) throw new Error("no cyrus user: apt-get install cyrus-imapd cyrus-common sasl2-bin");
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

async function waitPort(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
      await Bun.sleep(50);
    }
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) chownTree(join(path, e.name), uid, gid);
    else chownSync(join(path, e.name), uid, gid);
  }
}

export class BenchCyrus {
  private master: Bun.Subprocess | undefined;
  readonly account = account();

  private constructor(
    readonly dir: string,
    readonly confPath: string,
    readonly imapPort: number,
    readonly cyrusPop3Port: number,
  ) {}

  static async start(users: Record<string, string>): Promise<BenchCyrus> {
    if (process.getuid?.() !== 0) throw new Error("run as root: Cyrus and our binary are started as the cyrus user");
    const pop3d = POP3D_CANDIDATES.find((p): p is string => p !== undefined && existsSync(p));
    if (pop3d === undefined) throw new Error("Cyrus's pop3d not found: apt-get download cyrus-pop3d && dpkg-deb -x cyrus-pop3d_*.deb /opt/cyrus-pop3d");
    const dir = mkdtempSync(join(tmpdir(), "pop3d-bench-cyrus-"));
    for (const sub of ["conf/socket", "conf/lock", "conf/proc", "conf/db", "spool"]) mkdirSync(join(dir, sub), { recursive: true });
    const confPath = join(dir, "imapd.conf");
    const imapPort = freePort();
    const cyrusPop3Port = freePort();
    const conf: Record<string, string> = {
      configdirectory: join(dir, "conf"),
      "partition-default": join(dir, "spool"),
      defaultpartition: "default",
      servername: SERVERNAME,
      admins: "cyrus",
      sasl_pwcheck_method: "auxprop",
      sasl_sasldb_path: join(dir, "sasldb2"),
      allowplaintext: "yes",
      lmtpsocket: join(dir, "conf/socket/lmtp"),
      idlesocket: join(dir, "conf/socket/idle"),
      notifysocket: join(dir, "conf/socket/notify"),
      pop3_mailstore: "cyrus",
      pop3_passwd_file: join(dir, "passwd"),
      pop3_run_as: "cyrus",
      failedloginpause: "0",
    };
    writeFileSync(confPath, Object.entries(conf).map(([k, v]) => `${k}: ${v}\n`).join(""));
    writeFileSync(join(dir, "passwd"), Object.entries(users).map(([u, p]) => `${u}:{PLAIN}${p}\n`).join(""));
    writeFileSync(
      join(dir, "cyrus.conf"),
      `START {\n  recover cmd="ctl_cyrusdb -C ${confPath} -r"\n}\nSERVICES {\n` +
        `  imap cmd="imapd -C ${confPath}" listen="127.0.0.1:${imapPort}" prefork=0\n` +
        `  pop3 cmd="${pop3d} -C ${confPath}" listen="127.0.0.1:${cyrusPop3Port}" prefork=0\n` +
        `  lmtpunix cmd="lmtpd -C ${confPath} -a" listen="${join(dir, "conf/socket/lmtp")}" prefork=0\n}\nEVENTS {\n}\n`,
    );
    for (const [user, password] of Object.entries({ ...users, cyrus: ADMIN_PASSWORD })) {
      const r = Bun.spawnSync(["saslpasswd2", "-f", join(dir, "sasldb2"), "-c", "-p", "-u", SERVERNAME, user], { stdin: Buffer.from(password) });
      if (r.exitCode !== 0) throw new Error(`saslpasswd2 ${user}: ${r.stderr.toString()}`);
    }
    const cyrus = new BenchCyrus(dir, confPath, imapPort, cyrusPop3Port);
    chownTree(dir, cyrus.account.uid, cyrus.account.gid);
    const master = Bun.spawn(cyrus.asCyrus([`${CYRUS_BIN}/master`, "-C", confPath, "-M", join(dir, "cyrus.conf"), "-p", join(dir, "master.pid")]), {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "inherit",
    });
    cyrus.master = master;
    await waitPort(imapPort, "imapd");
    await waitPort(cyrusPop3Port, "Cyrus pop3d");
    return cyrus;
  }

  get masterPid(): number {
    return this.master!.pid;
  }

  asCyrus(cmd: string[]): string[] {
    return ["setpriv", `--reuid=${this.account.uid}`, `--regid=${this.account.gid}`, "--init-groups", ...cmd];
  }

  tool(name: string, args: string[]): { code: number; out: string; err: string } {
    const r = Bun.spawnSync(this.asCyrus([`${CYRUS_BIN}/${name}`, "-C", this.confPath, ...args]));
    return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
  }

  /** CREATE over IMAP as the admin (a few literal commands; no library needed). */
  async createMailbox(name: string): Promise<void> {
    const script = `a LOGIN cyrus ${ADMIN_PASSWORD}\r\nb CREATE ${name}\r\nc LOGOUT\r\n`;
    let reply = "";
    await new Promise<void>((resolve, reject) => {
      void Bun.connect({
        hostname: "127.0.0.1",
        port: this.imapPort,
        socket: {
          open: (s) => void s.write(script),
          data: (_s, chunk) => void (reply += chunk.toString()),
          close: () => resolve(),
          error: (_s, e) => reject(e),
        },
      });
    });
    if (!/^b OK/m.test(reply)) throw new Error(`CREATE ${name} failed: ${reply}`);
  }

  mailboxPath(name: string): string {
    const r = this.tool("mbpath", [name]);
    if (r.code !== 0) throw new Error(`mbpath ${name}: ${r.err}`);
    return r.out.trim();
  }

  /** Writes `count` message files <uid>. into the mailbox and lets Cyrus index them. */
  fillMailbox(name: string, count: number, message: (uid: number) => Buffer): void {
    const dir = this.mailboxPath(name);
    for (let uid = 1; uid <= count; uid++) {
      const fd = openSync(join(dir, `${uid}.`), "w", 0o600);
      writeSync(fd, message(uid));
      closeSync(fd);
      chownSync(join(dir, `${uid}.`), this.account.uid, this.account.gid);
    }
    const r = this.tool("reconstruct", ["-f", "-q", name]);
    if (r.code !== 0) throw new Error(`reconstruct -f ${name}: ${r.err}`);
  }

  async stop(): Promise<void> {
    if (this.master && this.master.exitCode === null) {
      this.master.kill("SIGTERM");
      await this.master.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
