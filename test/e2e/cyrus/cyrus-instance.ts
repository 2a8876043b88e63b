/**
 * A real Cyrus IMAP 3.x (Debian's cyrus-imapd) in a temp dir: master with lmtpd, imapd and Cyrus's
 * own pop3d on loopback, running as the cyrus user, sharing one imapd.conf with our binary
 * (pop3_mailstore: cyrus, pop3_run_as: cyrus). Cyrus refuses to run as root, and our binary must
 * create lock files Cyrus can open, so everything runs as cyrus.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, childEnv, exitStatus, freePort, ownProcess, run, tempDir, waitForListening, type Fixture, type RunResult } from "../../support/harness.ts";
import { RUN_DIR } from "../../support/processes.ts";

export const CYRUS_BIN = "/usr/lib/cyrus/bin";
/** Cyrus's pop3d: the cyrus-pop3d package, or its files unpacked with dpkg-deb -x (it conflicts with other POP3 servers). */
const CYRUS_POP3D_CANDIDATES = [process.env.CYRUS_POP3D, `${CYRUS_BIN}/pop3d`, "/opt/cyrus-pop3d/usr/lib/cyrus/bin/pop3d"];
const IMAP_TOOL = join(ROOT, "test/e2e/cyrus/imap_tool.py");
const ADMIN = "cyrus";
const ADMIN_PASSWORD = "cyrus-admin-pw";
const SERVERNAME = "pop.test";

export function cyrusPop3d(): string {
  const found = CYRUS_POP3D_CANDIDATES.find((p): p is string => p !== undefined && existsSync(p));
  if (found === undefined) {
    throw new Error(`Cyrus's pop3d not found (tried ${CYRUS_POP3D_CANDIDATES.filter(Boolean).join(", ")}): apt-get download cyrus-pop3d && dpkg-deb -x cyrus-pop3d_*.deb /opt/cyrus-pop3d`);
  }
  return found;
}

function cyrusAccount(): { uid: number; gid: number } {
  const entry = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === "cyrus");
  if (!entry) throw new Error("no cyrus user: install cyrus-common (apt-get install cyrus-imapd cyrus-common cyrus-admin sasl2-bin)");
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

export function requireCyrus(): void {
  if (!existsSync(`${CYRUS_BIN}/master`)) throw new Error(`${CYRUS_BIN}/master missing: apt-get install cyrus-imapd cyrus-common cyrus-admin sasl2-bin`);
  if (process.getuid?.() !== 0) throw new Error("the Cyrus tests must start as root (to run Cyrus and our binary as the cyrus user)");
  cyrusAccount();
}

export interface CyrusSetup {
  /** Extra or overriding imapd.conf lines (shared by Cyrus and our binary); "{dir}" names the instance's directory. */
  config?: Record<string, string>;
  /** Login name → password, for Cyrus (sasldb) and our binary (passwd file) alike. */
  users: Record<string, string>;
  /** Mailboxes the admin creates, e.g. "user/alice", with an optional STORAGE quota in KB. */
  mailboxes: Array<{ name: string; quotaKb?: number }>;
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

export class CyrusInstance {
  private master: Bun.Subprocess | undefined;

  private constructor(
    readonly dir: string,
    readonly confPath: string,
    readonly imapPort: number,
    readonly cyrusPop3Port: number,
    readonly users: Record<string, string>,
    private readonly account: { uid: number; gid: number },
  ) {}

  /** What the harness's startServer needs to run our binary on this instance's imapd.conf. */
  get fixture(): Fixture {
    return { dir: this.dir, confPath: this.confPath, passwdPath: join(this.dir, "passwd"), maildir: () => "", anchorFiles: [] };
  }

  static async start(setup: CyrusSetup): Promise<CyrusInstance> {
    requireCyrus();
    const account = cyrusAccount();
    const dir = tempDir("cyrus");
    chmodSync(RUN_DIR, 0o711);
    for (const sub of ["conf/socket", "conf/lock", "conf/proc", "conf/log", "conf/db", "spool"]) mkdirSync(join(dir, sub), { recursive: true });
    const imapPort = freePort();
    const cyrusPop3Port = freePort();
    const confPath = join(dir, "imapd.conf");
    const settings: Record<string, string> = {
      configdirectory: join(dir, "conf"),
      "partition-default": join(dir, "spool"),
      defaultpartition: "default",
      servername: SERVERNAME,
      admins: ADMIN,
      sasl_pwcheck_method: "auxprop",
      sasl_sasldb_path: join(dir, "sasldb2"),
      allowplaintext: "yes",
      lmtpsocket: join(dir, "conf/socket/lmtp"),
      idlesocket: join(dir, "conf/socket/idle"),
      notifysocket: join(dir, "conf/socket/notify"),
      unixhierarchysep: "yes",
      syslog_prefix: "pop3d-e2e",
      pop3_mailstore: "cyrus",
      pop3_passwd_file: join(dir, "passwd"),
      pop3_run_as: "cyrus",
      failedloginpause: "0",
      ...Object.fromEntries(Object.entries(setup.config ?? {}).map(([k, v]) => [k, v.replaceAll("{dir}", dir)])),
    };
    writeFileSync(confPath, Object.entries(settings).map(([k, v]) => `${k}: ${v}\n`).join(""));
    writeFileSync(join(dir, "passwd"), Object.entries(setup.users).map(([u, pw]) => `${u}:{PLAIN}${pw}\n`).join(""));
    writeFileSync(
      join(dir, "cyrus.conf"),
      [
        "START {",
        `  recover cmd="ctl_cyrusdb -C ${confPath} -r"`,
        "}",
        "SERVICES {",
        `  imap cmd="imapd -C ${confPath}" listen="127.0.0.1:${imapPort}" prefork=0`,
        `  pop3 cmd="${cyrusPop3d()} -C ${confPath}" listen="127.0.0.1:${cyrusPop3Port}" prefork=0`,
        `  lmtpunix cmd="lmtpd -C ${confPath} -a" listen="${join(dir, "conf/socket/lmtp")}" prefork=0`,
        "}",
        "EVENTS {",
        "}",
        "",
      ].join("\n"),
    );
    const instance = new CyrusInstance(dir, confPath, imapPort, cyrusPop3Port, setup.users, account);
    for (const [user, password] of Object.entries({ ...setup.users, [ADMIN]: ADMIN_PASSWORD })) {
      // libsasl looks a user@domain login up as user in realm domain when virtdomains is on.
      const at = user.lastIndexOf("@");
      const entries: Array<[string, string]> = [[user, SERVERNAME]];
      if (at > 0) entries.push([user.slice(0, at), user.slice(at + 1)]);
      for (const [name, realm] of entries) {
        const r = await run(["saslpasswd2", "-f", join(dir, "sasldb2"), "-c", "-p", "-u", realm, name], { stdin: password });
        if (r.code !== 0) throw new Error(`saslpasswd2 ${name}@${realm}: ${r.stderr}`);
      }
    }
    chownTree(dir, account.uid, account.gid);
    await instance.startMaster();
    for (const mb of setup.mailboxes) {
      await instance.imap("admin", ADMIN, ADMIN_PASSWORD, "create", mb.name, ...(mb.quotaKb !== undefined ? [String(mb.quotaKb)] : []));
    }
    return instance;
  }

  asCyrus(cmd: string[]): string[] {
    return ["setpriv", `--reuid=${this.account.uid}`, `--regid=${this.account.gid}`, "--init-groups", ...cmd];
  }

  private async startMaster(): Promise<void> {
    const cmd = this.asCyrus([`${CYRUS_BIN}/master`, "-C", this.confPath, "-M", join(this.dir, "cyrus.conf"), "-p", join(this.dir, "master.pid")]);
    const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: childEnv() });
    ownProcess(proc);
    this.master = proc;
    await waitForListening(this.imapPort, "Cyrus master (imapd)", () => proc.exitCode === null && proc.signalCode === null);
    await waitForListening(this.cyrusPop3Port, "Cyrus master (pop3d)", () => proc.exitCode === null && proc.signalCode === null);
  }

  /** Runs a Cyrus tool (reconstruct, mbexamine, mbpath, quota, ...) as cyrus with this config. */
  tool(name: string, args: string[]): Promise<RunResult> {
    return run(this.asCyrus([`${CYRUS_BIN}/${name}`, "-C", this.confPath, ...args]));
  }

  /** Delivers one message through Cyrus's deliver (LMTP to lmtpd). */
  async deliver(recipient: string, message: Uint8Array): Promise<void> {
    const r = await run(this.asCyrus([`${CYRUS_BIN}/deliver`, "-C", this.confPath, recipient]), { stdin: message });
    if (r.code !== 0) throw new Error(`deliver ${recipient} exited ${r.code}: ${r.stderr}`);
  }

  async imap(role: "admin" | "user", user: string, password: string, command: string, ...args: string[]): Promise<any> {
    const r = await run(["python3", IMAP_TOOL, String(this.imapPort), role, user, password, command, ...args]);
    if (r.code !== 0) throw new Error(`imap_tool ${command} as ${user} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout.toString());
  }

  /** IMAP view of a user's INBOX: uidvalidity, highestmodseq, messages with flags, size, sha256. */
  state(user: string): Promise<{ uidvalidity: number; highestmodseq: number; messages: Array<{ uid: number; flags: string[]; size: number; sha256: string }> }> {
    return this.imap("user", user, this.users[user]!, "state");
  }

  /** The directory of a mailbox (Cyrus's mbpath), e.g. "user/alice". */
  async mailboxPath(mailbox: string): Promise<string> {
    const r = await this.tool("mbpath", [mailbox]);
    if (r.code !== 0) throw new Error(`mbpath ${mailbox}: ${r.stderr}`);
    return r.stdout.toString().trim();
  }

  async stop(): Promise<void> {
    const proc = this.master;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    await exitStatus(proc);
  }
}
