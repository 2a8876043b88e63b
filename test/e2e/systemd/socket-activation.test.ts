/**
 * systemd socket activation without systemd: the binary started as systemd starts a service of
 * an `Accept=no` socket unit (listening fds from 3 on, LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES). The
 * fd named "pop3" serves plain POP3, the one named "pop3s" TLS from the first byte; many sessions
 * run in the one process; SIGTERM stops it with status 0.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { BINARY, PopClient, childEnv, cleanupAll, collect, exitStatus, makeFixture, ownProcess, type Fixture } from "../../support/harness.ts";
import { makePki, tlsConfig, type Pki } from "../tls/pki.ts";
import { popTls } from "../tls/tls-support.ts";

// A hang guard only; nothing here measures time.
setDefaultTimeout(60_000);

const LAUNCHER = join(import.meta.dir, "socket_activate.py");

let pki: Pki;
let fx: Fixture;
beforeAll(() => {
  pki = makePki();
  fx = makeFixture({ config: tlsConfig(pki, { allowplaintext: "yes" }) });
});
afterAll(cleanupAll);

interface Activated {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  ports: number[];
  pid: number;
  stderr(): string;
}

async function activate(names: string[], extraEnv: Record<string, string> = {}): Promise<Activated> {
  const proc = Bun.spawn(["python3", LAUNCHER, names.join(","), BINARY, "-C", fx.confPath], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: childEnv(extraEnv),
  });
  ownProcess(proc);
  const stderr = collect(proc.stderr);
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`launcher exited: ${stderr.text()}`);
    text += Buffer.from(value).toString("utf8");
  }
  const { ports, pid } = JSON.parse(text.split("\n")[0]!) as { ports: number[]; pid: number };
  return { proc, ports, pid, stderr: () => stderr.text() };
}

async function loginPid(c: PopClient): Promise<number> {
  expect(await c.cmd("USER alice")).toBe("+OK Name is a valid mailbox");
  const reply = await c.cmd("PASS alice-pw");
  const id = /SESSIONID=<([^>]+)>/.exec(reply)?.[1];
  expect(id, reply).toBeDefined();
  const parts = id!.split("-");
  return Number(parts[parts.length - 3]);
}

describe("systemd socket activation (Accept=no)", () => {
  test("fd named pop3 serves POP3, fd named pop3s serves TLS; sessions share the one process; SIGTERM exits 0", async () => {
    const s = await activate(["pop3", "pop3s"]);
    const a = await PopClient.connect(s.ports[0]!);
    const b = await PopClient.connect(s.ports[0]!);
    expect(a.greeting).toMatch(/^\+OK pop\.test /);
    expect(b.greeting).toMatch(/^\+OK pop\.test /);
    expect(await loginPid(a)).toBe(s.pid);
    expect(await loginPid(b)).toBe(s.pid);

    const tls = await popTls({ port: s.ports[1]!, implicit: true, tls: { ca: pki.caCert }, steps: [{ cmd: "USER alice" }, { cmd: "PASS alice-pw" }, { cmd: "QUIT" }] });
    expect(tls.error).toBeNull();
    expect(tls.greeting).toMatch(/^\+OK pop\.test /);
    expect(tls.events.map((e) => e.status)).toEqual(["+OK Name is a valid mailbox", expect.stringMatching(/^\+OK Mailbox locked and ready/), "+OK"]);

    for (const c of [a, b]) {
      expect(await c.cmd("QUIT")).toBe("+OK");
      await c.closed();
    }
    s.proc.kill("SIGTERM");
    expect(await exitStatus(s.proc)).toBe(0);
  });
});
