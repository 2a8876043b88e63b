/**
 * A Cyrus installation configured the way Debian ships it: the machine's own /etc/imapd.conf with
 * only its paths moved into a temp dir (plus admins, the sasldb path and a certificate), run by
 * the real master(8) in a private mount namespace whose /dev/log is the test's syslog receiver.
 * The pop3 and pop3s services run whichever pop3d the test names: Cyrus's own, or ours.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { childEnv, collect, exitStatus, freePort, ownProcess, run, tempDir, waitForListening } from "../../support/harness.ts";
import { RUN_DIR } from "../../support/processes.ts";
import { SyslogReceiver } from "../master/syslog-receiver.ts";
import { CYRUS_BIN } from "../cyrus/cyrus-instance.ts";

const IMAP_TOOL = join(import.meta.dir, "../cyrus/imap_tool.py");
const DEBIAN_IMAPD_CONF = "/etc/imapd.conf";
const ADMIN = "cyrus";
const ADMIN_PASSWORD = "cyrus-admin-pw";
/** Device nodes master and its children may open in the private /dev. */
const DEVICES = ["null", "zero", "random", "urandom", "full"];

export function debianCyrusUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "must start as root (Cyrus runs as the cyrus user)";
  if (!existsSync(`${CYRUS_BIN}/master`)) return `${CYRUS_BIN}/master missing (apt-get install cyrus-imapd)`;
  if (!existsSync(DEBIAN_IMAPD_CONF)) return `${DEBIAN_IMAPD_CONF} missing (Debian's cyrus-common ships it)`;
  if (!existsSync("/usr/bin/unshare")) return "unshare(1) missing (util-linux)";
  return undefined;
}

function cyrusAccount(): { uid: number; gid: number } {
  const entry = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === "cyrus");
  if (!entry) throw new Error("no cyrus user (apt-get install cyrus-common)");
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

/** Debian's imapd.conf, every path under `dir`; nothing else is changed. */
export function debianImapdConf(dir: string, extra: Record<string, string>): string {
  const moved: Record<string, string> = {
    configdirectory: join(dir, "lib"),
    proc_path: join(dir, "run/proc"),
    mboxname_lockpath: join(dir, "run/lock"),
    "partition-default": join(dir, "spool/mail"),
    "partition-news": join(dir, "spool/news"),
    newsspool: join(dir, "news"),
    sievedir: join(dir, "sieve"),
    lmtpsocket: join(dir, "run/socket/lmtp"),
    idlesocket: join(dir, "run/socket/idle"),
    notifysocket: join(dir, "run/socket/notify"),
  };
  const out: string[] = [];
  for (const line of readFileSync(DEBIAN_IMAPD_CONF, "utf8").split("\n")) {
    const m = /^([A-Za-z0-9_-]+):\s*(.*)$/.exec(line);
    if (m && moved[m[1]!] !== undefined) out.push(`${m[1]}: ${moved[m[1]!]}`);
    else out.push(line);
  }
  for (const [k, v] of Object.entries(extra)) out.push(`${k}: ${v}`);
  return out.join("\n") + "\n";
}

export interface DebianCyrusSetup {
  /** The pop3d master runs for pop3 and pop3s. */
  pop3d: string;
  users: Record<string, string>;
  /** Mailboxes the admin creates, in Cyrus's external form (e.g. "user.alice"). */
  mailboxes: string[];
  tlsCert: string;
  tlsKey: string;
}

export class DebianCyrus {
  private constructor(
    readonly dir: string,
    readonly confPath: string,
    readonly imapPort: number,
    readonly pop3Port: number,
    readonly pop3sPort: number,
    readonly syslog: SyslogReceiver,
    private readonly master: Bun.Subprocess,
    private readonly account: { uid: number; gid: number },
    private readonly output: () => string,
  ) {}

  static async start(setup: DebianCyrusSetup): Promise<DebianCyrus> {
    const account = cyrusAccount();
    const dir = tempDir("debian-cyrus");
    chmodSync(RUN_DIR, 0o711);
    for (const sub of ["lib/db", "lib/log", "lib/proc", "lib/socket", "run/proc", "run/lock", "run/socket", "spool/mail", "spool/news", "news", "sieve", "dev", "bin"]) {
      mkdirSync(join(dir, sub), { recursive: true });
    }
    // a copy the cyrus user can reach, whatever the checkout's permissions
    const pop3d = join(dir, "bin/pop3d");
    copyFileSync(setup.pop3d, pop3d);
    chmodSync(pop3d, 0o755);
    const [imapPort, pop3Port, pop3sPort] = [freePort(), freePort(), freePort()];
    const confPath = join(dir, "imapd.conf");
    writeFileSync(confPath, debianImapdConf(dir, {
      admins: ADMIN,
      sasl_sasldb_path: join(dir, "sasldb2"),
      tls_server_cert: setup.tlsCert,
      tls_server_key: setup.tlsKey,
    }));
    writeFileSync(join(dir, "cyrus.conf"), [
      "START {",
      `  recover cmd="ctl_cyrusdb -C ${confPath} -r"`,
      "}",
      "SERVICES {",
      `  imap cmd="imapd -C ${confPath} -U 30" listen="127.0.0.1:${imapPort}" prefork=0`,
      `  pop3 cmd="${pop3d} -C ${confPath} -U 30" listen="127.0.0.1:${pop3Port}" prefork=0`,
      `  pop3s cmd="${pop3d} -s -C ${confPath} -U 30" listen="127.0.0.1:${pop3sPort}" prefork=0`,
      `  lmtpunix cmd="lmtpd -C ${confPath}" listen="${join(dir, "run/socket/lmtp")}" prefork=0`,
      "}",
      "EVENTS {",
      "}",
      "",
    ].join("\n"));
    // libsasl's realm is the host name: Debian's imapd.conf sets no servername
    const realm = (await run(["hostname"])).stdout.toString().trim();
    for (const [user, password] of Object.entries({ ...setup.users, [ADMIN]: ADMIN_PASSWORD })) {
      const r = await run(["saslpasswd2", "-f", join(dir, "sasldb2"), "-c", "-p", "-u", realm, user], { stdin: password });
      if (r.code !== 0) throw new Error(`saslpasswd2 ${user}: ${r.stderr}`);
    }
    chownTree(dir, account.uid, account.gid);
    const syslog = await SyslogReceiver.start(join(dir, "dev/log"));
    const dev = join(dir, "dev");
    const binds = DEVICES.map((d) => `touch ${dev}/${d} && mount --bind /dev/${d} ${dev}/${d}`).join(" && ");
    const masterArgs = [`${CYRUS_BIN}/master`, "-C", confPath, "-M", join(dir, "cyrus.conf"), "-p", join(dir, "master.pid")];
    const script = `${binds} && mount --rbind ${dev} /dev && exec setpriv --reuid=${account.uid} --regid=${account.gid} --init-groups "$@"`;
    const master = Bun.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", ...masterArgs], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: childEnv(),
    });
    ownProcess(master);
    const out = collect(master.stdout);
    const err = collect(master.stderr);
    const instance = new DebianCyrus(dir, confPath, imapPort, pop3Port, pop3sPort, syslog, master, account, () => out.text() + err.text());
    const alive = () => master.exitCode === null && master.signalCode === null;
    try {
      for (const port of [imapPort, pop3Port, pop3sPort]) await waitForListening(port, "Cyrus master", alive);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${instance.output()}\n${syslog.messages().join("\n")}`);
    }
    for (const mailbox of setup.mailboxes) await instance.imap("admin", ADMIN, ADMIN_PASSWORD, "create", mailbox);
    return instance;
  }

  asCyrus(cmd: string[]): string[] {
    return ["setpriv", `--reuid=${this.account.uid}`, `--regid=${this.account.gid}`, "--init-groups", ...cmd];
  }

  async deliver(recipient: string, message: Uint8Array): Promise<void> {
    const r = await run(this.asCyrus([`${CYRUS_BIN}/deliver`, "-C", this.confPath, recipient]), { stdin: message });
    if (r.code !== 0) throw new Error(`deliver ${recipient} exited ${r.code}: ${r.stderr}`);
  }

  async imap(role: "admin" | "user", user: string, password: string, command: string, ...args: string[]): Promise<any> {
    const r = await run(["python3", IMAP_TOOL, String(this.imapPort), role, user, password, command, ...args]);
    if (r.code !== 0) throw new Error(`imap_tool ${command} as ${user} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout.toString());
  }

  /** The pop3d services' syslog lines (ident cyrus/pop3 and cyrus/pop3s), as pid-free texts. */
  pop3Lines(): Array<{ ident: string; level: number; message: string }> {
    return this.syslog
      .lines()
      .filter((l) => /^cyrus\/pop3s?$/.test(l.ident))
      .map((l) => ({ ident: l.ident, level: l.pri & 7, message: l.message }));
  }

  async stop(): Promise<void> {
    if (this.master.exitCode === null && this.master.signalCode === null) {
      this.master.kill("SIGTERM");
      await exitStatus(this.master);
    }
    await this.syslog.stop();
  }
}
