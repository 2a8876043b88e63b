/**
 * At its descriptor limit (RLIMIT_NOFILE, set with prlimit on the real binary) a many-sessions
 * process answers the connections it cannot serve with "-ERR [SYS/TEMP] …" and closes them, in
 * every mode that runs many sessions in one process: standalone (one worker and two), systemd
 * socket activation (Accept=no) and inetd `wait = yes`. No client is left without an answer in
 * the backlog, and once the held connections end a fresh session is served as before.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PopClient, childEnv, cleanupAll, collect, exitStatus, makeFixture, ownProcess, waitFor, type Fixture } from "../support/harness.ts";
import { DESCRIPTOR_RESERVE } from "../../src/limits.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(90_000);

const NOFILE = 100;
/** Live connections one process holds at this limit; the rest are refused. */
const FIT = NOFILE - DESCRIPTOR_RESERVE;
const REFUSAL = "-ERR [SYS/TEMP] Too many connections, try again later";
const SOCKET_ACTIVATE = join(import.meta.dir, "systemd/socket_activate.py");
const INETD_WAIT_YES = join(import.meta.dir, "fixtures/inetd_wait_yes.py");

let fx: Fixture;
let fxWorkers: Fixture;
beforeAll(() => {
  fx = makeFixture();
  fxWorkers = makeFixture({ config: { pop3_workers: "2" } });
});
afterAll(cleanupAll);

interface Launched {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  stderr(): string;
}

/** Runs argv (prlimit … BINARY …) and reads the port from the first stdout line matching `portOf`. */
async function launch(argv: string[], portOf: (line: string) => number | undefined): Promise<Launched> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv() });
  ownProcess(proc);
  const stderr = collect(proc.stderr);
  const reader = proc.stdout.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${argv.join(" ")} exited: ${stderr.text()}`);
    text += Buffer.from(value).toString();
    const port = text.split("\n").slice(0, -1).map(portOf).find((p) => p !== undefined);
    if (port !== undefined) {
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return { proc, port, stderr: () => stderr.text() };
    }
  }
}

const prlimit = [Bun.which("prlimit") ?? "/usr/bin/prlimit", `--nofile=${NOFILE}:${NOFILE}`];
const listeningLine = (line: string) => {
  const m = /^pop3d: listening on \S+:(\d+)$/.exec(line.trim());
  return m ? Number(m[1]) : undefined;
};
const jsonPort = (line: string) => {
  const parsed = JSON.parse(line) as { port?: number; ports?: number[] };
  return parsed.port ?? parsed.ports?.[0];
};

/** Opens `count` connections at once; each must be greeted or refused (and then closed). */
async function flood(port: number, count: number): Promise<{ greeted: PopClient[]; refused: number }> {
  const clients = await Promise.all(Array.from({ length: count }, () => PopClient.connect(port)));
  const greeted: PopClient[] = [];
  let refused = 0;
  for (const c of clients) {
    if (c.greeting === REFUSAL) {
      await c.closed();
      refused++;
    } else {
      expect(c.greeting).toMatch(/^\+OK /);
      greeted.push(c);
    }
  }
  return { greeted, refused };
}

/**
 * Connections on 127.0.0.1:<port> the server has not closed yet (ESTABLISHED or CLOSE_WAIT on its
 * side): once none is left, every process has counted its sessions as ended.
 */
function serverSideOpen(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((row) => row.trim().split(/\s+/))
    .filter((cols) => cols[1] === local && (cols[3] === "01" || cols[3] === "08")).length;
}

async function freshSessionWorks(port: number): Promise<void> {
  const c = await PopClient.connect(port);
  expect(c.greeting).toMatch(/^\+OK /);
  expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
  expect(await c.cmd("PASS alice-pw")).toStartWith("+OK");
  expect(await c.cmd("STAT")).toStartWith("+OK 7 ");
  expect(await c.cmd("QUIT")).toStartWith("+OK");
}

const MODES: { name: string; processes: number; logsToStderr: boolean; start(): Promise<Launched> }[] = [
  {
    name: "standalone, one process",
    processes: 1,
    logsToStderr: true,
    start: () => launch([...prlimit, BINARY, "-C", fx.confPath, "--listen", "127.0.0.1:0"], listeningLine),
  },
  {
    name: "standalone, pop3_workers: 2",
    processes: 2,
    logsToStderr: true,
    start: () => launch([...prlimit, BINARY, "-C", fxWorkers.confPath, "--listen", "127.0.0.1:0"], listeningLine),
  },
  {
    name: "systemd socket activation (Accept=no)",
    processes: 1,
    logsToStderr: true,
    start: () => launch(["python3", SOCKET_ACTIVATE, "pop3", ...prlimit, BINARY, "-C", fx.confPath], jsonPort),
  },
  {
    name: "inetd wait = yes",
    processes: 1,
    logsToStderr: false,
    start: () => launch(["python3", INETD_WAIT_YES, ...prlimit, BINARY, "-C", fx.confPath], jsonPort),
  },
];

describe("at the descriptor limit, every client gets a greeting or an -ERR", () => {
  for (const mode of MODES) {
    test(mode.name, async () => {
      const server = await mode.start();
      const total = mode.processes * FIT + 30;
      const { greeted, refused } = await flood(server.port, total);
      expect(greeted.length + refused).toBe(total);
      if (mode.processes === 1) expect(greeted.length).toBe(FIT);
      else expect(greeted.length).toBeLessThanOrEqual(mode.processes * FIT);
      expect(refused).toBeGreaterThanOrEqual(total - mode.processes * FIT);
      // logged as the first refusal was sent; the test reads the process's stderr in its own time
      if (mode.logsToStderr) await waitFor(() => server.stderr().includes("at the descriptor limit, refusing new connections until one ends"), "the limit's log line");

      // the held sessions still work, and once they end new clients are served again
      expect(await greeted[0]!.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
      for (const c of greeted) c.close();
      await Promise.all(greeted.map((c) => c.closed()));
      await waitFor(() => serverSideOpen(server.port) === 0, "the server to close every held connection");
      await freshSessionWorks(server.port);

      server.proc.kill("SIGTERM");
      expect(await exitStatus(server.proc)).toBe(0);
    });
  }
});
