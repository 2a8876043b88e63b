/**
 * One temp dir that every mode is measured in: a Cyrus configdirectory and partition shared by
 * master, Cyrus's pop3d and our binary; Maildirs and a {PLAIN} passwd file for our binary; the same
 * messages as Cyrus mailboxes (hard links of the Maildir files, indexed by `reconstruct -f`) and a
 * sasldb for Cyrus's pop3d; copies of the binaries under test where the cyrus user can run them.
 */
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asUser, freePort, RunningMaster, type Account } from "./cyrus-master.ts";
import type { Credentials } from "./loadgen.ts";
import { smallSize, textMessage, writeLargeMessage } from "./messages.ts";
import { sizesFor } from "./session-shape.ts";

const CYRUS_BIN = "/usr/lib/cyrus/bin";
export const CYRUS_POP3D = "/opt/cyrus-pop3d/usr/lib/cyrus/bin/pop3d";
const ADMIN_PASSWORD = "bench-admin";
const SERVERNAME = "bench.test";
/** Mailbox names per reconstruct/mbpath invocation (argv stays small, few process starts). */
const TOOL_BATCH = 100;

export function cyrusAccount(): Account {
  const entry = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === "cyrus");
  if (!entry) throw new Error("no cyrus user: apt-get install cyrus-imapd cyrus-common sasl2-bin");
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

export interface EnvPlan {
  /** Users with their own 20-message mailbox for the session load. */
  loadUsers: number;
  /** Users whose mailbox holds hard links of one 20-message mailbox (logged-in idle sessions). */
  idleUsers: number;
  /** How many of those also get a Cyrus mailbox (Cyrus's pop3d runs one process each, so fewer). */
  cyrusIdleUsers: number;
  /** Messages in the Maildir each probe run logs into for the first time (copied afresh per run). */
  hugeMessages: number;
  /** Fresh copies of it the runs may use. */
  hugeCopies: number;
  /** Size of the message the slow reader RETRs. */
  bigMessageBytes: number;
}

export class ModesEnv {
  readonly account = cyrusAccount();
  readonly dir = mkdtempSync(join(tmpdir(), "pop3d-bench-modes-"));
  readonly confPath = join(this.dir, "imapd.conf");
  loadUsers: Credentials[] = [];
  idleUsers: Credentials[] = [];
  cyrusLoadUsers: Credentials[] = [];
  cyrusIdleUsers: Credentials[] = [];
  probeUser: Credentials = { name: "probe", password: "probe-pw" };
  bigUser: Credentials = { name: "big", password: "big-pw" };
  hugeUsers: Credentials[] = [];
  private hugeNext = 0;
  private readonly passwd = new Map<string, string>();
  private serial = 0;

  constructor(private readonly log: (line: string) => void) {}

  maildir(user: string): string {
    return join(this.dir, "mail", user, "Maildir");
  }

  /** An executable copy the cyrus user can reach (the checkout may live under /root). */
  installBinary(path: string, name: string): string {
    const target = join(this.dir, "bin", name);
    mkdirSync(join(this.dir, "bin"), { recursive: true });
    copyFileSync(path, target);
    chmodSync(target, 0o755);
    return target;
  }

  /** imapd.conf plus `extra` keys, for one variant of our binary. */
  variantConf(tag: string, extra: Record<string, string>): string {
    const path = join(this.dir, `imapd-${tag}.conf`);
    const base = readFileSync(this.confPath, "utf8");
    writeFileSync(path, base + Object.entries(extra).map(([k, v]) => `${k}: ${v}\n`).join(""));
    return path;
  }

  async build(plan: EnvPlan): Promise<void> {
    const t0 = performance.now();
    for (const sub of ["conf/socket", "conf/lock", "conf/proc", "conf/db", "conf/log", "spool", "mail", "bin", "huge-template/cur"]) {
      mkdirSync(join(this.dir, sub), { recursive: true });
    }
    const conf: Record<string, string> = {
      configdirectory: join(this.dir, "conf"),
      "partition-default": join(this.dir, "spool"),
      defaultpartition: "default",
      servername: SERVERNAME,
      admins: "cyrus",
      sasl_sasldb_path: join(this.dir, "sasldb2"),
      allowplaintext: "yes",
      lmtpsocket: join(this.dir, "conf/socket/lmtp"),
      idlesocket: join(this.dir, "conf/socket/idle"),
      notifysocket: join(this.dir, "conf/socket/notify"),
      pop3_mailstore: "maildir",
      pop3_maildir_path: join(this.dir, "mail/%u/Maildir"),
      pop3_passwd_file: join(this.dir, "passwd"),
      pop3_run_as: "cyrus",
    };
    writeFileSync(this.confPath, Object.entries(conf).map(([k, v]) => `${k}: ${v}\n`).join(""));

    // Maildirs: load users with their own bytes, idle users sharing one mailbox's files by hard link
    const loadFiles = new Map<string, string[]>();
    for (let u = 1; u <= plan.loadUsers; u++) {
      const user = this.addUser(`load${String(u).padStart(2, "0")}`);
      loadFiles.set(user.name, sizesFor(u).map((size, m) => this.deliver(user.name, textMessage(u * 1000 + m, size))));
      this.loadUsers.push(user);
    }
    const templateFiles = sizesFor(0).map((size, m) => this.deliver(this.addUser("idle0000").name, textMessage(m, size)));
    for (let u = 1; u <= plan.idleUsers; u++) {
      const user = this.addUser(`idle${String(u).padStart(4, "0")}`);
      for (const file of templateFiles) linkSync(file, join(this.maildir(user.name), "cur", this.nextName()));
      this.idleUsers.push(user);
    }
    this.addUser(this.probeUser.name);
    for (let m = 0; m < 3; m++) this.deliver(this.probeUser.name, textMessage(m, smallSize(m)));
    this.addUser(this.bigUser.name);
    writeLargeMessage(join(this.maildir(this.bigUser.name), "cur", this.nextName()), plan.bigMessageBytes);
    for (let m = 0; m < plan.hugeMessages; m++) writeFileSync(join(this.dir, "huge-template/cur", this.nextName()), textMessage(m, smallSize(m)));
    for (let i = 1; i <= plan.hugeCopies; i++) {
      const name = `huge${String(i).padStart(2, "0")}`;
      this.passwd.set(name, `${name}-pw`);
      this.hugeUsers.push({ name, password: `${name}-pw` });
    }
    writeFileSync(join(this.dir, "passwd"), [...this.passwd].map(([u, p]) => `${u}:{PLAIN}${p}\n`).join(""));
    this.log(`   Maildirs written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Cyrus: sasldb entries, then mailboxes created over IMAP and filled with the same files
    this.cyrusLoadUsers = this.loadUsers;
    this.cyrusIdleUsers = this.idleUsers.slice(0, plan.cyrusIdleUsers);
    const cyrusUsers = [...this.cyrusLoadUsers, ...this.cyrusIdleUsers];
    for (const { name, password } of [...cyrusUsers, { name: "cyrus", password: ADMIN_PASSWORD }]) {
      const r = Bun.spawnSync(["saslpasswd2", "-f", join(this.dir, "sasldb2"), "-c", "-p", "-u", SERVERNAME, name], { stdin: Buffer.from(password) });
      if (r.exitCode !== 0) throw new Error(`saslpasswd2 ${name}: ${r.stderr.toString()}`);
    }
    this.chownAll();
    const imapPort = freePort();
    const master = await RunningMaster.start({
      dir: this.dir,
      confPath: this.confPath,
      account: this.account,
      tag: "setup",
      services: [{ name: "imap", cmd: `${CYRUS_BIN}/imapd -C ${this.confPath}`, port: imapPort, prefork: 0 }],
    });
    try {
      await this.createMailboxes(imapPort, cyrusUsers.map((u) => `user/${u.name}`));
    } finally {
      await master.stop();
    }
    const names = cyrusUsers.map((u) => `user/${u.name}`);
    const paths = this.mailboxPaths(names);
    cyrusUsers.forEach((u, i) => {
      const files = loadFiles.get(u.name) ?? templateFiles;
      files.forEach((file, m) => linkSync(file, join(paths[i]!, `${m + 1}.`)));
    });
    for (let i = 0; i < names.length; i += TOOL_BATCH) this.tool("reconstruct", ["-f", "-q", ...names.slice(i, i + TOOL_BATCH)]);
    this.chownAll();
    this.log(`   environment ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${cyrusUsers.length} Cyrus mailboxes)`);
  }

  /** A 100k-message Maildir nobody has logged into yet: hard links of the template, made now. */
  freshHugeUser(): Credentials {
    const user = this.hugeUsers[this.hugeNext++];
    if (!user) throw new Error("no fresh huge Maildir copies left");
    const md = this.maildir(user.name);
    mkdirSync(join(md, "new"), { recursive: true });
    mkdirSync(join(md, "tmp"), { recursive: true });
    const cp = Bun.spawnSync(["cp", "-al", join(this.dir, "huge-template/cur"), join(md, "cur")]);
    if (cp.exitCode !== 0) throw new Error(`cp -al: ${cp.stderr.toString()}`);
    Bun.spawnSync(["chown", "-R", `${this.account.uid}:${this.account.gid}`, join(this.dir, "mail", user.name)]);
    return user;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private addUser(name: string): Credentials {
    const password = `${name}-pw`;
    this.passwd.set(name, password);
    for (const sub of ["new", "cur", "tmp"]) mkdirSync(join(this.maildir(name), sub), { recursive: true });
    return { name, password };
  }

  private nextName(): string {
    const n = ++this.serial;
    return `${1_700_000_000 + n}.M${n}P4242.pop.bench:2,`;
  }

  private deliver(user: string, content: Buffer): string {
    const path = join(this.maildir(user), "cur", this.nextName());
    writeFileSync(path, content);
    return path;
  }

  private chownAll(): void {
    const r = Bun.spawnSync(["chown", "-R", `${this.account.uid}:${this.account.gid}`, this.dir], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`chown -R cyrus ${this.dir}: ${r.stderr.toString()}`);
  }

  private tool(name: string, args: string[]): string {
    const r = Bun.spawnSync(asUser(this.account, [`${CYRUS_BIN}/${name}`, "-C", this.confPath, ...args]));
    if (r.exitCode !== 0) throw new Error(`${name} ${args.slice(0, 3).join(" ")}…: ${r.stderr.toString()}`);
    return r.stdout.toString();
  }

  private mailboxPaths(names: string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < names.length; i += TOOL_BATCH) {
      out.push(...this.tool("mbpath", names.slice(i, i + TOOL_BATCH)).trim().split("\n"));
    }
    if (out.length !== names.length) throw new Error(`mbpath gave ${out.length} paths for ${names.length} mailboxes`);
    return out;
  }

  /** CREATEs pipelined on one admin IMAP connection. */
  private async createMailboxes(port: number, names: string[]): Promise<void> {
    const script = `a LOGIN cyrus ${ADMIN_PASSWORD}\r\n` + names.map((n, i) => `c${i} CREATE ${n}\r\n`).join("") + "z LOGOUT\r\n";
    let reply = "";
    // Bun's write takes what the socket buffer holds; the rest goes on drain
    let rest = Buffer.from(script);
    await new Promise<void>((resolve, reject) => {
      void Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open: (s) => void (rest = rest.subarray(s.write(rest))),
          drain: (s) => void (rest = rest.subarray(s.write(rest))),
          data: (_s, chunk) => void (reply += chunk.toString()),
          close: () => resolve(),
          error: (_s, e) => reject(e),
        },
      }).catch(reject);
    });
    const ok = reply.split("\r\n").filter((l) => /^c\d+ OK/.test(l)).length;
    if (ok !== names.length) throw new Error(`CREATE: ${ok} of ${names.length} OK; ${reply.split("\r\n").find((l) => /^c\d+ NO|BAD/.test(l))}`);
  }
}

