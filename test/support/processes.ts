/**
 * Child processes and temp dirs owned by the e2e tests, and their cleanup.
 *
 * bun test runs every file in one process and runs an afterAll/onTestFinished registered inside a
 * beforeAll or a test right after that hook or test, so a helper cannot register "at the end of
 * this file" by itself. Instead everything is recorded with the test file that created it and is
 * released (1) by cleanupAll(), which test files call from afterAll (and global-cleanup.ts as a
 * preload), (2) as soon as another test file starts using the harness, and (3) for processes, by
 * Bun itself, which kills its subprocesses when it exits. Temp dirs of runs that died are swept at
 * the next start. (A hook registered by the harness module itself would run before the importing
 * file's own afterAll hooks and kill servers those hooks still want to stop.)
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { constants } from "node:os";
import { join } from "node:path";

interface Owned {
  file: string;
  kind: "process" | "dir";
  release(): void;
}

const owned: Owned[] = [];
const RUN_DIR_PREFIX = "pop3d-e2e-";

/** This process's scratch root; leftovers of earlier runs whose process is gone are removed. */
export const RUN_DIR: string = (() => {
  for (const name of readdirSync(tmpdir())) {
    const pid = /^pop3d-e2e-(\d+)-/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !existsSync(`/proc/${pid}`)) {
      try {
        rmSync(join(tmpdir(), name), { recursive: true, force: true });
      } catch {
        // another user's leftovers: not ours to remove
      }
    }
  }
  return mkdtempSync(join(tmpdir(), `${RUN_DIR_PREFIX}${process.pid}-`));
})();

function own(kind: Owned["kind"], release: () => void): void {
  releaseOtherFiles();
  owned.push({ file: Bun.main, kind, release });
}

function releaseOtherFiles(): void {
  releaseWhere((o) => o.file !== Bun.main);
}

/** Processes first (they may hold files in the dirs), then dirs. */
function releaseWhere(match: (o: Owned) => boolean): void {
  for (const kind of ["process", "dir"] as const) {
    for (let i = owned.length - 1; i >= 0; i--) {
      const o = owned[i]!;
      if (o.kind !== kind || !match(o)) continue;
      owned.splice(i, 1);
      try {
        o.release();
      } catch {
        // already gone
      }
    }
  }
}

/** Kills every process and removes every temp dir created by the harness so far. */
export function cleanupAll(): void {
  releaseWhere(() => true);
  rmSync(RUN_DIR, { recursive: true, force: true });
}

/** A fresh temp dir under RUN_DIR, removed at cleanup. */
export function tempDir(label: string): string {
  mkdirSync(RUN_DIR, { recursive: true });
  const dir = mkdtempSync(join(RUN_DIR, `${label}-`));
  own("dir", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Registers a spawned process to be killed at cleanup. */
export function ownProcess(proc: Bun.Subprocess): void {
  own("process", () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  });
}

/** Environment for spawned servers: no Cyrus master variables, so the launch mode is ours to pick. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "CYRUS_SERVICE" && k !== "CYRUS_ID") env[k] = v;
  }
  return { ...env, ...extra };
}

/** Exit status in shell convention: the code, or 128 + signal number when killed by a signal. */
export async function exitStatus(proc: Bun.Subprocess): Promise<number> {
  await proc.exited;
  if (proc.exitCode !== null) return proc.exitCode;
  const signal = proc.signalCode as keyof typeof constants.signals | null;
  return 128 + (signal ? constants.signals[signal] : 0);
}

/** Reads a stream to the end in the background; text() is what has arrived so far. */
export function collect(stream: ReadableStream<Uint8Array>): { text(): string; bytes(): Buffer; done: Promise<void> } {
  const parts: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of stream) parts.push(Buffer.from(chunk));
  })();
  return {
    text: () => Buffer.concat(parts).toString("utf8"),
    bytes: () => Buffer.concat(parts),
    done,
  };
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a command to completion (killed at cleanup if a failing test leaves it running). */
export async function run(
  cmd: string[],
  opts: { env?: Record<string, string>; cwd?: string; stdin?: string | Uint8Array } = {},
): Promise<RunResult> {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd,
    env: childEnv(opts.env),
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  ownProcess(proc);
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  const code = await exitStatus(proc);
  await Promise.all([out.done, err.done]);
  return { code, stdout: out.bytes(), stderr: err.text() };
}

/** Polls `condition` until it holds; the limit only turns a hang into a clear failure. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${limitMs} ms`);
    await Bun.sleep(25);
  }
}
