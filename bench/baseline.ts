/**
 * The "before" binary for the before/after figures: a path given on the command line, or commit
 * 1f8c01c (the tree before many-sessions-per-process work began) built here from a temporary
 * `git worktree`, with that commit's own Makefile and this checkout's node_modules.
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./server.ts";

export const BASELINE_COMMIT = "1f8c01c";

export interface BuiltBaseline {
  path: string;
  describe: string;
  cleanup(): void;
}

export function buildBaseline(commit: string, log: (line: string) => void): BuiltBaseline {
  const dir = mkdtempSync(join(tmpdir(), "pop3d-bench-baseline-"));
  const tree = join(dir, "tree");
  const git = (...args: string[]) => {
    const r = Bun.spawnSync(["git", "-C", ROOT, ...args], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  };
  const cleanup = () => {
    Bun.spawnSync(["git", "-C", ROOT, "worktree", "remove", "--force", tree], { stderr: "ignore" });
    rmSync(dir, { recursive: true, force: true });
    Bun.spawnSync(["git", "-C", ROOT, "worktree", "prune"], { stderr: "ignore" });
  };
  try {
    git("worktree", "add", "--detach", tree, commit);
    symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"));
    const t0 = performance.now();
    // -o: node_modules is shared and already installed; never let the old Makefile reinstall it
    const make = Bun.spawnSync(["make", "-C", tree, "-o", "node_modules/.installed", "build"], { stdout: "pipe", stderr: "pipe" });
    const path = join(tree, "dist", "pop3d");
    if (make.exitCode !== 0 || !existsSync(path)) throw new Error(`make build at ${commit}: ${make.stderr.toString().slice(-2000)}`);
    log(`   built commit ${commit} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { path, describe: `the binary of commit ${commit} (built by the bench)`, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}
