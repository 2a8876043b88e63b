/**
 * A real Cyrus Murder on loopback, made of Debian's packages and started by the tests: a mupdate
 * master, two backends and one frontend, each a Cyrus master(8) with its own configdirectory,
 * partition, imapd.conf, cyrus.conf and ports, all running as the cyrus user.
 *
 * Murder finds a backend by its servername, so each backend's servername is `127.0.0.1:<its pop3
 * port>` (the trick Cyrus's own test suite uses: backend_connect takes a port after the host). The
 * frontend runs the mupdate slave that keeps its mailboxes.db in step with the master, our binary
 * as its `pop3` service and Cyrus's own pop3d as `pop3cyrus`. Mail is delivered with Cyrus's
 * deliver (LMTP) straight to a backend. docs/murder.md describes the same layout for operators.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, ROOT, childEnv, collect, exitStatus, freePort, ownProcess, run, tempDir, waitFor, waitForListening, type Fixture, type RunResult } from "../../support/harness.ts";
import { RUN_DIR } from "../../support/processes.ts";
import { CYRUS_BIN, cyrusPop3d, requireCyrus } from "../cyrus/cyrus-instance.ts";
import { SyslogReceiver } from "../master/syslog-receiver.ts";

export const ADMIN = "cyrus";
export const ADMIN_PASSWORD = "murder-admin-pw";
/** The identity frontends log in to backends with (proxy_authname), listed in the backends' proxyservers. */
export const PROXY_USER = "mailproxy";
export const PROXY_PASSWORD = "mailproxy-pw";
/** The identity backends and the frontend's slave use towards the mupdate master. */
const MUPDATE_USER = "mupduser";
const MUPDATE_PASSWORD = "mupdate-pw";
/** Cyrus's mupdate: the cyrus-murder package unpacked (.ci/run), or installed. */
const MUPDATE_CANDIDATES = [process.env.CYRUS_MUPDATE, "/opt/cyrus-murder/usr/lib/cyrus/bin/mupdate", `${CYRUS_BIN}/mupdate`];
const IMAP_ADMIN = join(ROOT, "test/e2e/murder/imap_admin.py");
const IMAP_TOOL = join(ROOT, "test/e2e/cyrus/imap_tool.py");

export function mupdateBinary(): string {
  const found = MUPDATE_CANDIDATES.find((p): p is string => p !== undefined && existsSync(p));
  if (found === undefined) throw new Error("Cyrus's mupdate not found: apt-get download cyrus-murder && dpkg-deb -x cyrus-murder_*.deb /opt/cyrus-murder");
  return found;
}

export type Pop3Server = "cyrus" | "ours";

function cyrusAccount(): { uid: number; gid: number } {
  const entry = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === "cyrus");
  if (!entry) throw new Error("no cyrus user: apt-get install cyrus-common");
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

interface NodeSpec {
  servername: string;
  config: Record<string, string>;
  /** cyrus.conf SERVICES lines; `{conf}` is replaced by the imapd.conf path. */
  services: string[];
  /** sasldb users (login → password). */
  sasl: Record<string, string>;
  /** Ports master must be listening on before the node counts as started. */
  ports: number[];
}

/** One Cyrus master(8) with its own directory, imapd.conf and cyrus.conf. */
export class CyrusNode {
  private master: Bun.Subprocess | undefined;
  readonly dir: string;
  readonly confPath: string;
  private readonly spec: NodeSpec;

  /** `describe` gets the node's directory, for paths in its config and service lines. */
  constructor(readonly label: string, private readonly account: { uid: number; gid: number }, describe: (dir: string) => NodeSpec) {
    this.dir = tempDir(`murder-${label}`);
    this.confPath = join(this.dir, "imapd.conf");
    this.spec = describe(this.dir);
  }

  /** What the harness's server starters need to run our binary on this node's imapd.conf. */
  get fixture(): Fixture {
    return { dir: this.dir, confPath: this.confPath, passwdPath: join(this.dir, "passwd"), maildir: () => "", anchorFiles: [] };
  }

  get servername(): string {
    return this.spec.servername;
  }

  async prepare(): Promise<void> {
    const dir = this.dir;
    for (const sub of ["conf/socket", "conf/lock", "conf/proc", "conf/log", "conf/db", "spool"]) mkdirSync(join(dir, sub), { recursive: true });
    const settings: Record<string, string> = {
      configdirectory: join(dir, "conf"),
      "partition-default": join(dir, "spool"),
      defaultpartition: "default",
      servername: this.spec.servername,
      admins: ADMIN,
      sasl_pwcheck_method: "auxprop",
      sasl_sasldb_path: join(dir, "sasldb2"),
      sasl_mech_list: "PLAIN LOGIN",
      allowplaintext: "yes",
      lmtpsocket: join(dir, "conf/socket/lmtp"),
      idlesocket: join(dir, "conf/socket/idle"),
      notifysocket: join(dir, "conf/socket/notify"),
      unixhierarchysep: "yes",
      syslog_prefix: `murder-${this.label}`,
      failedloginpause: "0",
      pop3_run_as: "cyrus",
      pop3_passwd_file: join(dir, "passwd"),
      ...this.spec.config,
    };
    writeFileSync(this.confPath, Object.entries(settings).map(([k, v]) => `${k}: ${v}\n`).join(""));
    writeFileSync(
      join(dir, "cyrus.conf"),
      [
        "START {",
        `  recover cmd="ctl_cyrusdb -C ${this.confPath} -r"`,
        "}",
        "SERVICES {",
        ...this.spec.services.map((line) => "  " + line.replaceAll("{conf}", this.confPath)),
        "}",
        "EVENTS {",
        "}",
        "",
      ].join("\n"),
    );
    for (const [user, password] of Object.entries(this.spec.sasl)) {
      const r = await run(["saslpasswd2", "-f", join(dir, "sasldb2"), "-c", "-p", "-u", this.spec.servername, user], { stdin: password });
      if (r.code !== 0) throw new Error(`saslpasswd2 ${user}: ${r.stderr}`);
    }
    {
      writeFileSync(settings.pop3_passwd_file!, Object.entries(this.spec.sasl).map(([u, pw]) => `${u}:{PLAIN}${pw}\n`).join(""));
    }
    copyFileSync(BINARY, join(dir, "pop3d"));
    chmodSync(join(dir, "pop3d"), 0o755);
    chownTree(dir, this.account.uid, this.account.gid);
  }

  asCyrus(cmd: string[]): string[] {
    return ["setpriv", `--reuid=${this.account.uid}`, `--regid=${this.account.gid}`, "--init-groups", ...cmd];
  }

  get running(): boolean {
    const p = this.master;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  async start(): Promise<void> {
    // a session of its own: master signals its whole process group when it shuts down, which
    // must not reach the other nodes' masters (or the test runner)
    const cmd = ["setsid", ...this.asCyrus([`${CYRUS_BIN}/master`, "-C", this.confPath, "-M", join(this.dir, "cyrus.conf"), "-p", join(this.dir, "master.pid")])];
    const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: childEnv() });
    ownProcess(proc);
    this.master = proc;
    const stderr = collect(proc.stderr);
    try {
      for (const port of this.spec.ports) await waitForListening(port, `Cyrus master (${this.label})`, () => this.running);
    } catch (error) {
      // master reports what it could not do (a port taken meanwhile, a bad cyrus.conf) on stderr
      throw new Error(`${(error as Error).message}; master said: ${stderr.text().trim() || "(nothing)"}`);
    }
  }

  /** Pids whose parent is this node's master, from /proc. */
  childPids(): number[] {
    const master = this.master?.pid;
    const pids: number[] = [];
    if (master === undefined) return pids;
    // setsid and setpriv exec master, so the spawned pid is master's
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "latin1");
        if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === master) pids.push(Number(name));
      } catch {
        // exited meanwhile
      }
    }
    return pids;
  }

  async stop(): Promise<void> {
    const proc = this.master;
    if (proc === undefined || !this.running) return;
    const children = this.childPids();
    proc.kill("SIGTERM");
    await exitStatus(proc);
    // a child master did not take down with it (mupdate's threads can outlive it) must not linger
    for (const pid of children) {
      try {
        // only while the pid is still one of this node's processes (named by its config path)
        if (readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(this.dir)) process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  tool(name: string, args: string[], stdin?: Uint8Array): Promise<RunResult> {
    return run(this.asCyrus([`${CYRUS_BIN}/${name}`, "-C", this.confPath, ...args]), { stdin });
  }
}

export interface MurderSetup {
  /** Login name → password; every user may log in at the frontend and (for IMAP checks) on the backends. */
  users: Record<string, string>;
  /** Which pop3d each backend runs as its `pop3` service. */
  backendPop3?: [Pop3Server, Pop3Server];
  /** Extra imapd.conf lines for the frontend (shared by our binary and Cyrus's pop3d there). */
  frontendConfig?: Record<string, string>;
  /** Extra imapd.conf lines for each backend. */
  backendConfig?: [Record<string, string>, Record<string, string>];
}

export class Murder {
  private constructor(
    readonly mupdate: CyrusNode,
    readonly backends: [CyrusNode, CyrusNode],
    readonly frontend: CyrusNode,
    /** Our binary, the frontend's `pop3` service. */
    readonly frontendPort: number,
    /** Cyrus's own pop3d on the frontend. */
    readonly cyrusFrontendPort: number,
    /** Our binary again, as `pop3multi` with pop3_sessions_per_process 4. */
    readonly frontendMultiPort: number,
    readonly backendPop3Ports: [number, number],
    readonly backendImapPorts: [number, number],
    readonly users: Record<string, string>,
    /** Syslog lines of our binary on the frontend (pop3_syslog_socket). */
    readonly frontendSyslog: SyslogReceiver,
  ) {}

  static async start(setup: MurderSetup): Promise<Murder> {
    requireCyrus();
    chmodSync(RUN_DIR, 0o711);
    const account = cyrusAccount();
    const cyrusPop = cyrusPop3d();
    const mupdateBin = mupdateBinary();
    const mupdatePort = freePort();
    const slavePort = freePort();
    const frontendPort = freePort();
    const cyrusFrontendPort = freePort();
    const frontendMultiPort = freePort();
    const backendPop3Ports: [number, number] = [freePort(), freePort()];
    const backendImapPorts: [number, number] = [freePort(), freePort()];
    const mupdateClient = {
      mupdate_server: `127.0.0.1:${mupdatePort}`,
      mupdate_username: MUPDATE_USER,
      mupdate_authname: MUPDATE_USER,
      mupdate_password: MUPDATE_PASSWORD,
    };

    const mupdate = new CyrusNode("mupdate", account, () => ({
        servername: "mupdate.test",
        // the master accepts updates only from admins
        config: { admins: `${ADMIN} ${MUPDATE_USER}` },
        services: [`mupdate cmd="${mupdateBin} -C {conf} -m" listen="127.0.0.1:${mupdatePort}" prefork=1`],
        sasl: { [MUPDATE_USER]: MUPDATE_PASSWORD },
        ports: [mupdatePort],
      }));

    const backends = ([0, 1] as const).map((i) => {
      const which = setup.backendPop3?.[i] ?? "cyrus";
      return new CyrusNode(`backend${i + 1}`, account, (dir) => ({
          servername: `127.0.0.1:${backendPop3Ports[i]}`,
          config: { ...mupdateClient, proxyservers: PROXY_USER, lmtp_admins: PROXY_USER, pop3_mailstore: "cyrus", ...(setup.backendConfig?.[i] ?? {}) },
          services: [
            `imap cmd="imapd -C {conf}" listen="127.0.0.1:${backendImapPorts[i]}" prefork=0`,
            `pop3 cmd="${which === "ours" ? `${dir}/pop3d` : cyrusPop} -C {conf}" listen="127.0.0.1:${backendPop3Ports[i]}" prefork=0`,
            `lmtpunix cmd="lmtpd -C {conf} -a" listen="${dir}/conf/socket/lmtp" prefork=0`,
          ],
          sasl: { ...setup.users, [ADMIN]: ADMIN_PASSWORD, [PROXY_USER]: PROXY_PASSWORD },
          ports: [backendImapPorts[i], backendPop3Ports[i]],
        }));
    }) as [CyrusNode, CyrusNode];

    const frontend = new CyrusNode("frontend", account, (dir) => ({
        servername: "frontend.test",
        config: {
          ...mupdateClient,
          proxy_authname: PROXY_USER,
          proxy_password: PROXY_PASSWORD,
          pop3_mailstore: "cyrus",
          pop3_syslog_socket: join(dir, "syslog.sock"),
          pop3multi_pop3_sessions_per_process: "4",
          ...(setup.frontendConfig ?? {}),
        },
        services: [
          // the mupdate slave: keeps this host's mailboxes.db in step with the master
          `mupdate cmd="${mupdateBin} -C {conf}" listen="127.0.0.1:${slavePort}" prefork=1`,
          `pop3 cmd="${dir}/pop3d -C {conf}" listen="127.0.0.1:${frontendPort}" prefork=0`,
          `pop3cyrus cmd="${cyrusPop} -C {conf}" listen="127.0.0.1:${cyrusFrontendPort}" prefork=0`,
          `pop3multi cmd="${dir}/pop3d -C {conf}" listen="127.0.0.1:${frontendMultiPort}" prefork=0`,
        ],
        sasl: { ...setup.users, [ADMIN]: ADMIN_PASSWORD },
        ports: [slavePort, frontendPort, cyrusFrontendPort, frontendMultiPort],
      }));

    const nodes = [mupdate, ...backends, frontend];
    const syslogSocket = join(frontend.dir, "syslog.sock");
    for (const node of nodes) await node.prepare();
    const frontendSyslog = await SyslogReceiver.start(syslogSocket);
    try {
      await mupdate.start();
      for (const node of [...backends, frontend]) await node.start();
    } catch (error) {
      // the harness's cleanup kills masters outright, which would orphan their services
      for (const node of nodes) await node.stop();
      throw error;
    }
    return new Murder(mupdate, backends, frontend, frontendPort, cyrusFrontendPort, frontendMultiPort, backendPop3Ports, backendImapPorts, setup.users, frontendSyslog);
  }

  /** Admin IMAP on backend `i`: create, delete or list mailboxes. */
  async admin(i: 0 | 1, command: "create" | "delete" | "list", ...args: string[]): Promise<any> {
    const r = await run(["python3", IMAP_ADMIN, String(this.backendImapPorts[i]), ADMIN, ADMIN_PASSWORD, command, ...args]);
    if (r.code !== 0) throw new Error(`imap_admin ${command} ${args.join(" ")} on backend${i + 1}: ${r.stderr}`);
    return JSON.parse(r.stdout.toString());
  }

  /** The server the frontend's mailboxes.db names for a mailbox ("user/alice"), or undefined. */
  async frontendLocation(mailbox: string): Promise<string | undefined> {
    const r = await this.frontend.tool("ctl_mboxlist", ["-d"]);
    if (r.code !== 0) throw new Error(`ctl_mboxlist -d on the frontend: ${r.stderr}`);
    // Cyrus 3.6 dumps mailboxes.db as one JSON object keyed by internal name
    const entries = JSON.parse(r.stdout.toString()) as Record<string, { server?: string; mbtype?: string }>;
    const entry = entries[mailbox.replaceAll("/", ".")];
    return entry === undefined ? undefined : (entry.server ?? "");
  }

  /** Creates user `user`'s INBOX on backend `i` and waits until the frontend's slave has it there. */
  async createUser(i: 0 | 1, user: string): Promise<void> {
    await this.admin(i, "create", `user/${user}`);
    await this.waitForLocation(`user/${user}`, this.backends[i].servername);
  }

  async deleteUser(i: 0 | 1, user: string): Promise<void> {
    await this.admin(i, "delete", `user/${user}`);
    await this.waitForLocation(`user/${user}`, undefined);
  }

  async waitForLocation(mailbox: string, server: string | undefined): Promise<void> {
    await waitFor(async () => {
      await this.kickSlave();
      return (await this.frontendLocation(mailbox)) === server;
    }, `the frontend's mailboxes.db to put ${mailbox} on ${server ?? "no server"}`);
  }

  /**
   * What Cyrus's kick_mupdate does: a connection to the slave's socket/mupdate.target makes it send
   * the master a NOOP, which the master answers only after the pending updates; the slave writes
   * "ok" once it has applied them. Without a kick the master streams updates every few seconds.
   */
  async kickSlave(): Promise<void> {
    const path = join(this.frontend.dir, "conf/socket/mupdate.target");
    await new Promise<void>((resolve) => {
      Bun.connect({
        unix: path,
        socket: { data: (s) => void s.end(), close: () => resolve(), error: () => resolve(), connectError: () => resolve() },
      }).catch(() => resolve());
    });
  }

  /** Delivers one message to `user`'s INBOX on backend `i` (Cyrus's deliver, LMTP to lmtpd). */
  async deliver(i: 0 | 1, user: string, message: Uint8Array): Promise<void> {
    const r = await this.backends[i].tool("deliver", [user], message);
    if (r.code !== 0) throw new Error(`deliver ${user} on backend${i + 1} exited ${r.code}: ${r.stderr}`);
  }

  /** IMAP view of a user's INBOX on backend `i` (uids, flags, sizes, sha256 of each message). */
  async state(i: 0 | 1, user: string): Promise<{ messages: Array<{ uid: number; flags: string[]; size: number; sha256: string }> }> {
    const r = await run(["python3", IMAP_TOOL, String(this.backendImapPorts[i]), "user", user, this.users[user]!, "state"]);
    if (r.code !== 0) throw new Error(`imap_tool state ${user} on backend${i + 1}: ${r.stderr}`);
    return JSON.parse(r.stdout.toString());
  }

  /** Pids of the pop3d processes backend `i`'s master runs now (children of that master). */
  backendPop3Pids(i: 0 | 1): number[] {
    return this.backends[i].childPids().filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0]!.endsWith("pop3d");
      } catch {
        return false;
      }
    });
  }

  async stop(): Promise<void> {
    for (const node of [this.frontend, ...this.backends, this.mupdate]) await node.stop();
  }
}
