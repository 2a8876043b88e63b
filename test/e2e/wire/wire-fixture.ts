/**
 * Temp-dir fixtures (imapd.conf, passwd file, Maildirs with the anchor messages) and the compiled
 * binary started in standalone mode on 127.0.0.1:0. Everything made here is removed after each test
 * of a file that calls `useWireCleanup()`.
 */
import { afterAll, afterEach, setDefaultTimeout } from "bun:test";
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../../..");
export const BINARY = join(ROOT, "dist/pop3d");
const GENERATOR = join(ROOT, "test/fixtures/gen-messages.py");

/** Maildir names in delivery order, so UIDs 1..7 follow 01.eml..07.eml. */
export const ANCHOR_NAMES = [1, 2, 3, 4, 5, 6, 7].map((n) => `170000000${n}.M${n}P1.pop.test:2,`);

export interface WireFixture {
  dir: string;
  confPath: string;
  passwdPath: string;
  maildir(user: string): string;
  /** Paths of the generated 01.eml..07.eml (shared, read-only). */
  anchorFiles: string[];
  /** Rewrite imapd.conf (e.g. before a restart). */
  writeConfig(config: ConfigOverrides): void;
}

/** Values replace the defaults; `null` removes a default line (to get Cyrus's built-in default). */
export type ConfigOverrides = Record<string, string | null>;

export interface FixtureOptions {
  config?: ConfigOverrides;
  /** Passwords stored as {PLAIN}. Default: alice/alice-pw, bob/bob-pw. */
  users?: Record<string, string>;
  /** Users whose Maildir gets the 7 anchor messages (default ["alice"]); others get an empty Maildir. */
  anchorMessagesFor?: string[];
}

const cleanups: Array<() => void | Promise<void>> = [];
let anchorDir: string | undefined;

/** Run `fn` after the current test (last registered runs first: clients close before their server stops). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

/** Register the per-test cleanup (servers stopped, temp dirs removed) for the calling test file;
 *  the generated anchor messages are removed after the file's last test. */
export function useWireCleanup(): void {
  // Real processes and up to 10 MB per RETR: more room than bun's 5 s default (nothing is timed).
  setDefaultTimeout(60_000);
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  afterAll(() => {
    if (anchorDir !== undefined) rmSync(anchorDir, { recursive: true, force: true });
    anchorDir = undefined;
  });
}

/** The anchor messages, generated once per test file. */
function anchors(): string {
  if (anchorDir !== undefined) return anchorDir;
  const dir = mkdtempSync(join(tmpdir(), "pop3d-wire-anchors-"));
  const gen = Bun.spawnSync(["python3", GENERATOR, dir]);
  if (gen.exitCode !== 0) throw new Error(`${GENERATOR} failed: ${gen.stderr.toString()}`);
  anchorDir = dir;
  return dir;
}

export function anchorFiles(): string[] {
  const dir = anchors();
  return [1, 2, 3, 4, 5, 6, 7].map((n) => join(dir, `0${n}.eml`));
}

function configText(dir: string, passwdPath: string, overrides: ConfigOverrides): string {
  const values: ConfigOverrides = {
    configdirectory: join(dir, "conf"),
    servername: "pop.test",
    pop3_mailstore: "maildir",
    pop3_maildir_path: join(dir, "mail/%u/Maildir"),
    pop3_passwd_file: passwdPath,
    allowplaintext: "yes",
    failedloginpause: "0",
    // A test run as root keeps root: the temp dirs are private to the user running the tests.
    ...(process.getuid?.() === 0 ? { pop3_run_as: "root" } : {}),
    ...overrides,
  };
  return Object.entries(values)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}: ${v}\n`)
    .join("");
}

export function makeMaildir(root: string): void {
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub), { recursive: true });
}

/** Put the file at `source` into `<maildir>/cur/<name>` (hard link when possible: the bytes never change). */
export function placeMessage(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
}

export function makeFixture(opts: FixtureOptions = {}): WireFixture {
  const dir = mkdtempSync(join(tmpdir(), "pop3d-wire-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const confPath = join(dir, "imapd.conf");
  const passwdPath = join(dir, "passwd");
  mkdirSync(join(dir, "conf"), { recursive: true });
  const users = opts.users ?? { alice: "alice-pw", bob: "bob-pw" };
  writeFileSync(passwdPath, Object.entries(users).map(([u, p]) => `${u}:{PLAIN}${p}\n`).join(""));
  const maildir = (user: string) => join(dir, "mail", user, "Maildir");
  const files = anchorFiles();
  const withAnchors = new Set(opts.anchorMessagesFor ?? ["alice"]);
  for (const user of Object.keys(users)) {
    makeMaildir(maildir(user));
    if (!withAnchors.has(user)) continue;
    files.forEach((file, i) => placeMessage(file, join(maildir(user), "cur", ANCHOR_NAMES[i]!)));
  }
  const fx: WireFixture = {
    dir,
    confPath,
    passwdPath,
    maildir,
    anchorFiles: files,
    writeConfig: (config) => writeFileSync(confPath, configText(dir, passwdPath, config)),
  };
  fx.writeConfig(opts.config ?? {});
  return fx;
}

/** File names currently in `<maildir>/cur` and `<maildir>/new`, sorted. */
export function messageFiles(maildir: string): string[] {
  return ["cur", "new"].flatMap((sub) => readdirSync(join(maildir, sub)).map((name) => `${sub}/${name}`)).sort();
}

export interface RunningServer {
  port: number;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

export async function startServer(fx: WireFixture, extraArgs: string[] = []): Promise<RunningServer> {
  const proc = Bun.spawn([BINARY, "-C", fx.confPath, "--listen", "127.0.0.1:0", ...extraArgs], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let errText = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) errText += decoder.decode(chunk, { stream: true });
  })();
  let stopped: Promise<number> | undefined;
  const stop = () => {
    if (!stopped) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      stopped = proc.exited;
    }
    return stopped;
  };
  cleanups.push(async () => {
    await stop();
  });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  for (;;) {
    const m = /pop3d: listening on 127\.0\.0\.1:(\d+)\n/.exec(out);
    if (m) {
      reader.releaseLock();
      return { port: Number(m[1]), proc, stderr: () => errText, stop };
    }
    const { value, done } = await reader.read();
    if (done) {
      await proc.exited;
      throw new Error(`pop3d exited (${proc.exitCode}) before listening; stdout ${JSON.stringify(out)} stderr ${JSON.stringify(errText)}`);
    }
    out += decoder.decode(value, { stream: true });
  }
}
