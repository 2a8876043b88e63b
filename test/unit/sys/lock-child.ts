/**
 * Another process touching a lock file, for tests that need a second lock owner (POSIX locks never
 * conflict inside one process).
 */
import { resolve } from "node:path";

const LIBC_MODULE = resolve(import.meta.dir, "../../../src/sys/libc.ts");

/** Try F_SETLK from a fresh process; true if it got the lock. */
export async function probeLockFromChild(path: string, type: "read" | "write"): Promise<boolean> {
  const code = `
    import { fcntlSetLock } from ${JSON.stringify(LIBC_MODULE)};
    import { openSync } from "node:fs";
    const fd = openSync(${JSON.stringify(path)}, "r+");
    console.log(fcntlSetLock(fd, ${JSON.stringify(type)}) ? "granted" : "refused");`;
  const child = Bun.spawn([process.execPath, "-e", code], { stdout: "pipe", stderr: "pipe" });
  const [out, err, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (status !== 0) throw new Error(`lock probe exited ${status}: ${err}`);
  if (out.trim() === "granted") return true;
  if (out.trim() === "refused") return false;
  throw new Error(`lock probe said ${JSON.stringify(out)}`);
}

export interface ChildLockHolder {
  readonly pid: number;
  release(): Promise<void>;
}

/** A process that holds a lock on `path` until release(). */
export async function holdLockInChild(path: string, type: "read" | "write"): Promise<ChildLockHolder> {
  const code = `
    import { fcntlSetLock } from ${JSON.stringify(LIBC_MODULE)};
    import { openSync } from "node:fs";
    const fd = openSync(${JSON.stringify(path)}, "r+");
    if (!fcntlSetLock(fd, ${JSON.stringify(type)})) { console.log("refused"); process.exit(1); }
    console.log("held");
    for await (const _ of Bun.stdin.stream()) break;`;
  const child = Bun.spawn([process.execPath, "-e", code], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const first = await reader.read();
  const said = new TextDecoder().decode(first.value ?? new Uint8Array()).trim();
  if (said !== "held") throw new Error(`lock holder said ${JSON.stringify(said)}`);
  return {
    pid: child.pid,
    async release() {
      child.stdin.write("done\n");
      child.stdin.end();
      await child.exited;
    },
  };
}
