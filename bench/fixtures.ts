/**
 * The benchmark spool in a temp dir: imapd.conf, a {PLAIN} passwd file and one Maildir per user.
 * Mailboxes are never modified by the load (no DELE), so runs can be repeated against them.
 */
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fiftyKbSize, smallSize, textMessage, writeLargeMessage, type LargeMessage } from "./messages.ts";

export interface BenchUser {
  name: string;
  password: string;
}

/**
 * Started as root, pop3d becomes `pop3_run_as` (default "cyrus", like Cyrus itself), so the spool
 * must belong to that user; without such a user the server is told to stay root.
 */
const SERVICE_USER = "cyrus";

function serviceAccount(): { uid: number; gid: number } | undefined {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${SERVICE_USER}:`));
  if (!line) return undefined;
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export class BenchSpool {
  readonly dir: string;
  readonly confPath: string;
  readonly passwdPath: string;
  private readonly users = new Map<string, string>();
  private serial = 0;
  private readonly owner = process.getuid?.() === 0 ? serviceAccount() : undefined;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "pop3d-bench-"));
    this.confPath = join(this.dir, "imapd.conf");
    this.passwdPath = join(this.dir, "passwd");
    mkdirSync(join(this.dir, "conf"), { recursive: true });
    writeFileSync(
      this.confPath,
      [
        `configdirectory: ${this.dir}/conf`,
        `servername: pop.bench`,
        `pop3_mailstore: maildir`,
        `pop3_maildir_path: ${this.dir}/mail/%u/Maildir`,
        `pop3_passwd_file: ${this.passwdPath}`,
        `allowplaintext: yes`,
        `failedloginpause: 0`,
        // one process: these figures read one pid's /proc entries (the default is a worker per CPU)
        `pop3_workers: 1`,
        ...(process.getuid?.() === 0 && !this.owner ? ["pop3_run_as: root"] : []),
        "",
      ].join("\n"),
    );
  }

  maildir(user: string): string {
    return join(this.dir, "mail", user, "Maildir");
  }

  /** Register a user with an empty Maildir; the passwd file is written by finish(). */
  addUser(name: string): BenchUser {
    const password = `${name}-pw`;
    this.users.set(name, password);
    for (const sub of ["new", "cur", "tmp"]) mkdirSync(join(this.maildir(name), sub), { recursive: true });
    return { name, password };
  }

  /** Write the passwd file and hand the spool to the service user; call once the spool is built. */
  finish(): void {
    const lines = [...this.users].map(([name, pw]) => `${name}:{PLAIN}${pw}`);
    writeFileSync(this.passwdPath, lines.join("\n") + "\n");
    if (!this.owner) return;
    const chown = Bun.spawnSync(["chown", "-R", `${this.owner.uid}:${this.owner.gid}`, this.dir], { stderr: "pipe" });
    if (chown.exitCode !== 0) throw new Error(`chown -R ${SERVICE_USER} ${this.dir}: ${chown.stderr.toString()}`);
  }

  /** A unique Maildir file name in cur/ (seen-less, as after a first listing by an MUA). */
  private nextName(): string {
    const n = ++this.serial;
    return `${1_700_000_000 + n}.M${n}P4242.pop.bench:2,`;
  }

  deliver(user: string, content: Buffer | string, subdir: "cur" | "new" = "cur"): string {
    const name = this.nextName();
    const path = join(this.maildir(user), subdir, subdir === "new" ? name.slice(0, name.indexOf(":")) : name);
    writeFileSync(path, content);
    return path;
  }

  /** A hard link of an existing message file into `user`'s Maildir (cheap for many mailboxes). */
  link(user: string, existing: string): void {
    linkSync(existing, join(this.maildir(user), "cur", this.nextName()));
  }

  /** `count` users named `${prefix}NN`, each with `perUser` messages of ~50 KB, all distinct. */
  loadUsers(prefix: string, count: number, perUser: number): BenchUser[] {
    const users: BenchUser[] = [];
    for (let u = 1; u <= count; u++) {
      const user = this.addUser(`${prefix}${String(u).padStart(2, "0")}`);
      for (let m = 0; m < perUser; m++) {
        const seed = u * 1000 + m;
        this.deliver(user.name, textMessage(seed, fiftyKbSize(seed)));
      }
      users.push(user);
    }
    return users;
  }

  /** `count` users sharing (by hard link) the same `perUser` small messages. */
  linkedUsers(prefix: string, count: number, perUser: number): BenchUser[] {
    const template = this.addUser(`${prefix}0000`);
    const files: string[] = [];
    for (let m = 0; m < perUser; m++) files.push(this.deliver(template.name, textMessage(m, smallSize(m))));
    const users: BenchUser[] = [];
    for (let u = 1; u <= count; u++) {
      const user = this.addUser(`${prefix}${String(u).padStart(4, "0")}`);
      for (const file of files) this.link(user.name, file);
      users.push(user);
    }
    return users;
  }

  /** One user with `count` small messages (1..9 KB); returns the total size in bytes. */
  manyMessages(name: string, count: number): { user: BenchUser; bytes: number } {
    const user = this.addUser(name);
    let bytes = 0;
    for (let m = 0; m < count; m++) {
      const size = smallSize(m);
      this.deliver(name, textMessage(m, size));
      bytes += size;
    }
    return { user, bytes };
  }

  /** One user with a single message of `size` bytes on disk; its path and wire-relevant counts. */
  largeMessage(name: string, size: number, eol: "\r\n" | "\n" = "\r\n"): { user: BenchUser; path: string } & LargeMessage {
    const user = this.addUser(name);
    const path = join(this.maildir(name), "cur", this.nextName());
    return { user, path, ...writeLargeMessage(path, size, eol) };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
