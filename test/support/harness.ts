/**
 * End-to-end harness: a temp Cyrus-style setup (imapd.conf, passwd file, Maildirs with the anchor
 * messages), the compiled binary started in standalone mode, and a raw POP3 client.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { RUN_DIR, childEnv, collect, exitStatus, ownProcess, tempDir } from "./processes.ts";

export { PopClient, type Multiline } from "./pop-client.ts";
export { cleanupAll, run, waitFor, collect, exitStatus, childEnv, tempDir, ownProcess, type RunResult } from "./processes.ts";
export { freePort, isListening, tcpQueues, waitForListening } from "./ports.ts";

export const ROOT: string = resolve(import.meta.dir, "../..");
export const BINARY: string = join(ROOT, "dist/pop3d");

/** Deterministic generator of the 7 anchor messages (01.eml … 07.eml + MANIFEST). */
const GENERATOR = join(ROOT, "test/fixtures/gen-messages.py");
const ANCHOR_COUNT = 7;

export interface Fixture {
  dir: string;
  confPath: string;
  passwdPath: string;
  maildir(user: string): string;
  anchorFiles: string[];
}

export interface FixtureOptions {
  config?: Record<string, string>;
  users?: Record<string, string>;
  anchorMessagesFor?: string[];
}

/**
 * Started as root, the server becomes `pop3_run_as` (as Cyrus refuses to serve as root). Tests
 * run as root in CI, where no cyrus user exists, so fixtures use nobody unless a test names a user.
 */
const UNPRIVILEGED_USER = "nobody";

let anchorCache: { dir: string; files: string[] } | null = null;

/**
 * The 7 anchor messages, generated once per test file (the generator is deterministic); the
 * directory is released with the file's other temp dirs, after which the next file regenerates it.
 */
function anchorFiles(): string[] {
  if (anchorCache && existsSync(anchorCache.dir)) return anchorCache.files;
  const dir = tempDir("anchors");
  const gen = Bun.spawnSync(["python3", GENERATOR, dir], { stderr: "pipe" });
  if (gen.exitCode !== 0) throw new Error(`python3 ${GENERATOR} ${dir} failed: ${gen.stderr.toString()}`);
  const files = Array.from({ length: ANCHOR_COUNT }, (_, i) => join(dir, `${String(i + 1).padStart(2, "0")}.eml`));
  anchorCache = { dir, files };
  return files;
}

/** Maildir file names in delivery order, so the server numbers them 1..7 like the files. */
export function maildirName(index: number): string {
  return `${1700000001 + index}.M${index + 1}P1.pop.test:2,`;
}

export function makeFixture(opts: FixtureOptions = {}): Fixture {
  const dir = tempDir("fixture");
  const users = opts.users ?? { alice: "alice-pw", bob: "bob-pw" };
  const withAnchors = new Set(opts.anchorMessagesFor ?? ["alice"]);
  const maildir = (user: string): string => join(dir, "mail", user, "Maildir");
  const anchors = anchorFiles();

  mkdirSync(join(dir, "conf"), { recursive: true });
  const passwdPath = join(dir, "passwd");
  writeFileSync(passwdPath, Object.entries(users).map(([u, pw]) => `${u}:{PLAIN}${pw}\n`).join(""));

  for (const user of new Set([...Object.keys(users), ...withAnchors])) {
    for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(maildir(user), sub), { recursive: true });
    if (withAnchors.has(user)) {
      anchors.forEach((file, i) => copyFileSync(file, join(maildir(user), "cur", maildirName(i))));
    }
  }

  const settings: Record<string, string> = {
    configdirectory: join(dir, "conf"),
    servername: "pop.test",
    pop3_mailstore: "maildir",
    pop3_maildir_path: join(dir, "mail", "%u", "Maildir"),
    pop3_passwd_file: passwdPath,
    allowplaintext: "yes",
    failedloginpause: "0",
    // one process, as these tests assume (pid, memory, kill -9); worker tests ask for more
    pop3_workers: "1",
    ...opts.config,
  };
  if (process.getuid?.() === 0 && settings.pop3_run_as === undefined) settings.pop3_run_as = UNPRIVILEGED_USER;
  const confPath = join(dir, "imapd.conf");
  writeFileSync(confPath, Object.entries(settings).map(([k, v]) => `${k}: ${v}\n`).join(""));
  if (process.getuid?.() === 0 && settings.pop3_run_as !== "root") handOver(dir, settings.pop3_run_as!);

  return { dir, confPath, passwdPath, maildir, anchorFiles: anchors };
}

/** Gives the fixture tree to the user the server will run as, and lets it traverse RUN_DIR. */
function handOver(dir: string, user: string): void {
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === user);
  if (!entry) throw new Error(`pop3_run_as user "${user}" is not in /etc/passwd`);
  const [uid, gid] = [Number(entry[2]), Number(entry[3])];
  chmodSync(RUN_DIR, 0o711);
  const walk = (path: string): void => {
    chownSync(path, uid, gid);
    for (const e of readdirSync(path, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(path, e.name));
      else chownSync(join(path, e.name), uid, gid);
    }
  };
  walk(dir);
}

/** The bytes RETR must deliver for an anchor file: CRLF line ends, CRLF added if the file lacks a final newline. */
export function expectedRetr(file: string): Buffer {
  const raw = readFileSync(file);
  let text = raw.toString("latin1").replace(/\r?\n/g, "\r\n");
  if (!text.endsWith("\r\n")) text += "\r\n";
  return Buffer.from(text, "latin1");
}

export function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

export interface RunningServer {
  port: number;
  proc: Bun.Subprocess;
  stderr(): string;
  stop(): Promise<number>;
}

const LISTENING = /^pop3d: listening on (\S+):(\d+)$/;

/**
 * Starts `BINARY -C <conf> --listen 127.0.0.1:0 ...extraArgs` and resolves once it prints its
 * listening line; `port` is the first listener announced. Killed at cleanup if still running.
 */
export async function startServer(fx: Fixture, extraArgs: string[] = []): Promise<RunningServer> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} does not exist: run "make build" first`);
  const args = [BINARY, "-C", fx.confPath, "--listen", "127.0.0.1:0", ...extraArgs];
  const proc = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv() });
  ownProcess(proc);
  const stderr = collect(proc.stderr);
  const port = await readListeningPort(proc.stdout, () => `${args.join(" ")}: exited with ${proc.exitCode ?? proc.signalCode} before listening; stderr:\n${stderr.text()}`);
  return {
    port,
    proc,
    stderr: () => stderr.text(),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exitStatus(proc);
    },
  };
}

/** Reads stdout lines until the listening line, then keeps draining stdout so the pipe never fills. */
async function readListeningPort(stdout: ReadableStream<Uint8Array>, failure: () => string): Promise<number> {
  const reader = stdout.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(failure());
    text += Buffer.from(value).toString("utf8");
    const complete = text.slice(0, text.lastIndexOf("\n") + 1);
    for (const line of complete.split("\n")) {
      const m = LISTENING.exec(line.trimEnd());
      if (m) {
        void (async () => {
          while (!(await reader.read()).done);
        })();
        return Number(m[2]);
      }
    }
  }
}

/** VmRSS and VmHWM (peak) of a process, in kB, from /proc/<pid>/status. */
export function memoryKb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]);
  };
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/** Whether an executable is on PATH (for the one test allowed to skip when xinetd is absent). */
export function hasCommand(name: string): boolean {
  return Bun.which(name) !== null;
}
