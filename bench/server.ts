/**
 * The server under test: `dist/pop3d -C conf --listen 127.0.0.1:0` as a child process, plus what
 * /proc says about it (resident memory, CPU time) so figures can be explained, not just printed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
export const BINARY = join(ROOT, "dist", "pop3d");

/** Clock ticks per second for /proc/<pid>/stat CPU times (USER_HZ, 100 on Linux x86_64). */
const USER_HZ = 100;
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 35_000;

export interface RunningServer {
  pid: number;
  port: number;
  stop(): Promise<number>;
  stderr(): string;
}

export async function startServer(confPath: string, binary = BINARY): Promise<RunningServer> {
  const proc = Bun.spawn([binary, "-C", confPath, "--listen", "127.0.0.1:0"], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  let stderrText = "";
  void (async () => {
    for await (const chunk of proc.stderr) stderrText = (stderrText + new TextDecoder().decode(chunk)).slice(-20_000);
  })();
  const port = await readListeningPort(proc.stdout, proc.pid, () => stderrText);
  return {
    pid: proc.pid,
    port,
    stderr: () => stderrText,
    async stop() {
      proc.kill("SIGTERM");
      // past the server's own graceful-stop window, give up on it
      const kill = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
      const code = await proc.exited;
      clearTimeout(kill);
      return code;
    },
  };
}

async function readListeningPort(stdout: ReadableStream<Uint8Array>, pid: number, stderr: () => string): Promise<number> {
  const reader = stdout.getReader();
  let text = "";
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const next = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => undefined)]);
    if (!next || next.done) break;
    text += new TextDecoder().decode(next.value);
    const m = /pop3d: listening on [^\n]*:(\d+)\n/.exec(text);
    if (m) {
      reader.releaseLock();
      return Number(m[1]);
    }
  }
  throw new Error(`pop3d (pid ${pid}) did not announce a listener; stdout: ${JSON.stringify(text)}; stderr: ${stderr().slice(-2000)}`);
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...). */
export function procStatusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // after "pid (comm) ": state is field 3, utime 14, stime 15 → indexes 11 and 12 here
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** Samples VmRSS every `everyMs` until stopped; returns the peak seen. */
export function sampleRss(pid: number, everyMs = 10): { stop(): number } {
  let peak = procStatusKb(pid, "VmRSS");
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procStatusKb(pid, "VmRSS"));
    } catch {
      // the process is gone; keep the last peak
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}
