/**
 * inetd-style cost: socat accepts each connection and execs a fresh process on it (nofork: the
 * socket itself becomes fds 0/1). Measured from connect() to the first complete line received.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { summary } from "../stats.ts";

const CONNECT_TIMEOUT_MS = 10_000;
const WARMUP_CONNECTIONS = 5;

export interface GreetingResult {
  connections: number;
  failures: number;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  maxMs: number;
  firstLine: string;
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** connect → first line; then QUIT and wait for the process to close the connection. */
export function timeToFirstLine(port: number, timeoutMs = CONNECT_TIMEOUT_MS): Promise<{ ms: number; line: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let text = "";
    let result: { ms: number; line: string } | undefined;
    let socket: { end(): void } | undefined;
    // past the bound the connection is dropped; a greeting that did arrive still counts
    const timer = setTimeout(() => {
      socket?.end();
      if (result) resolve(result);
      else reject(new Error(`no line within ${timeoutMs} ms`));
    }, timeoutMs);
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(s, chunk) {
          if (result) return;
          text += chunk.toString("latin1");
          const eol = text.indexOf("\n");
          if (eol < 0) return;
          result = { ms: performance.now() - t0, line: text.slice(0, eol).replace(/\r$/, "") };
          s.write("QUIT\r\n");
        },
        close() {
          clearTimeout(timer);
          if (result) resolve(result);
          else reject(new Error(`closed before a line: ${JSON.stringify(text)}`));
        },
        error(_s, e) {
          clearTimeout(timer);
          reject(e);
        },
      },
    }).then((s) => void (socket = s), reject);
  });
}

export async function measureStdioGreeting(command: string[], connections: number): Promise<GreetingResult> {
  if (command.some((arg) => /[\s,:!]/.test(arg))) throw new Error(`socat EXEC cannot carry ${JSON.stringify(command)}`);
  const port = freePort();
  const socat = Bun.spawn(
    ["socat", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:${command.join(" ")},nofork`],
    { stdout: "ignore", stderr: "pipe" },
  );
  try {
    const ready = Date.now() + CONNECT_TIMEOUT_MS;
    for (let warm = 0; warm < WARMUP_CONNECTIONS; ) {
      try {
        await timeToFirstLine(port);
        warm++;
      } catch (error) {
        if (Date.now() > ready) throw new Error(`socat on ${port} not serving: ${(error as Error).message}`);
        await Bun.sleep(50);
      }
    }
    const samples: number[] = [];
    let failures = 0;
    let firstLine = "";
    for (let i = 0; i < connections; i++) {
      try {
        const { ms, line } = await timeToFirstLine(port);
        samples.push(ms);
        firstLine ||= line;
      } catch {
        failures++;
      }
    }
    const s = summary(samples);
    return { connections: samples.length, failures, medianMs: s.median, p90Ms: s.p90, minMs: s.min, maxMs: s.max, firstLine };
  } finally {
    socat.kill();
    await socat.exited;
  }
}

/**
 * What the launcher alone costs: the same socat setup running /bin/echo, and a compiled Bun program
 * (built with the flags pop3d uses) that only writes a greeting — the floor for any Bun binary.
 */
export async function measureStdioBaselines(workDir: string, connections: number): Promise<Record<string, GreetingResult>> {
  const source = join(workDir, "greeter.ts");
  const binary = join(workDir, "greeter");
  writeFileSync(source, `await Bun.write(Bun.stdout, "+OK greeter ready\\r\\n");\n`);
  const build = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm", source, "--outfile", binary], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const results: Record<string, GreetingResult> = {};
  results["socat + /bin/echo"] = await measureStdioGreeting(["/bin/echo", "+OK"], connections);
  if (build.exitCode === 0) results["socat + compiled Bun greeter"] = await measureStdioGreeting([binary], connections);
  else throw new Error(`cannot compile the greeter: ${build.stderr.toString()}`);
  return results;
}
