/**
 * What the Murder frontend costs. On one Murder built from Debian's Cyrus packages on loopback
 * (test/e2e/murder/murder.ts: a mupdate master, two backends, a frontend), the same POP3 session
 * (connect, USER, PASS, STAT, UIDL, RETR 1, QUIT) is run three ways, interleaved in each round:
 *
 *   direct          straight to backend 1 (Cyrus's pop3d there)
 *   our frontend    through our binary on the frontend, proxying to backend 1
 *   Cyrus frontend  through Cyrus's own pop3d on the frontend, proxying to backend 1
 *
 * and prints sessions per minute with N concurrent clients, and the latency from connect to the
 * "+OK" after PASS with one client (the proxy login is inside that span), each the median of the
 * rounds; "added" is the frontend's median minus the direct one.
 *
 * Run as root (Cyrus runs as the cyrus user), after `make build`, on a quiet machine:
 *   bun run bench/murder.ts [--rounds 3] [--seconds 10] [--clients 8] [--latency-samples 200] [--json FILE]
 * The clients run in this process on the same machine as every server, so the figures compare the
 * three paths with each other; they are not any server's ceiling.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cleanupAll } from "../test/support/harness.ts";
import { Murder } from "../test/e2e/murder/murder.ts";
import { loadAverage, machineDescription } from "./machine.ts";
import { PopWire } from "./pop3-wire.ts";
import { median } from "./stats.ts";

const USER = "bench";
const PASSWORD = "bench-pw";
const MESSAGES = 10;
const MESSAGE_BYTES = 4096;

type Path = "direct" | "our frontend" | "Cyrus frontend";
const PATHS: Path[] = ["direct", "our frontend", "Cyrus frontend"];

function message(i: number): Buffer {
  const line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
  const body = line.repeat(Math.ceil(MESSAGE_BYTES / line.length));
  return Buffer.from(`From: bench@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <bench-${i}-${Date.now()}@murder.test>\r\n\r\n${body}`);
}

/** One session; resolves with the milliseconds from connect to the reply to PASS. */
async function session(port: number): Promise<number> {
  const start = performance.now();
  const wire = await PopWire.connect("127.0.0.1", port);
  const greeting = await wire.readLine();
  if (!greeting.startsWith("+OK")) throw new Error(`greeting: ${greeting}`);
  await wire.command(`USER ${USER}`);
  await wire.command(`PASS ${PASSWORD}`);
  const loggedIn = performance.now() - start;
  await wire.command("STAT");
  await wire.multiline("UIDL");
  await wire.multiline("RETR 1");
  await wire.command("QUIT");
  await wire.closed();
  return loggedIn;
}

/** Sessions per minute with `clients` clients looping for `seconds`. */
async function throughput(port: number, clients: number, seconds: number): Promise<{ perMinute: number; failures: number }> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        try {
          await session(port);
          done++;
        } catch {
          failures++;
        }
      }
    }),
  );
  return { perMinute: (done / seconds) * 60, failures };
}

async function latency(port: number, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await session(port));
  return median(times);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "10" },
      clients: { type: "string", default: "8" },
      "latency-samples": { type: "string", default: "200" },
      json: { type: "string" },
    },
  });
  const rounds = Math.max(3, Number(values.rounds));
  const seconds = Number(values.seconds);
  const clients = Number(values.clients);
  const samples = Number(values["latency-samples"]);

  console.log(`murder bench: ${machineDescription()}; load ${loadAverage()}`);
  console.log(`${rounds} rounds; ${clients} clients for ${seconds} s per path; ${samples} sequential sessions for latency`);
  const murder = await Murder.start({ users: { [USER]: PASSWORD } });
  try {
    await murder.createUser(0, USER);
    for (let i = 0; i < MESSAGES; i++) await murder.deliver(0, USER, message(i));
    const ports: Record<Path, number> = {
      direct: murder.backendPop3Ports[0],
      "our frontend": murder.frontendPort,
      "Cyrus frontend": murder.cyrusFrontendPort,
    };
    // every path works before anything is timed (and each server has forked its first process)
    for (const path of PATHS) await session(ports[path]);

    const perMinute: Record<Path, number[]> = { direct: [], "our frontend": [], "Cyrus frontend": [] };
    const loginMs: Record<Path, number[]> = { direct: [], "our frontend": [], "Cyrus frontend": [] };
    let failures = 0;
    for (let round = 1; round <= rounds; round++) {
      for (const path of PATHS) {
        const t = await throughput(ports[path], clients, seconds);
        perMinute[path].push(t.perMinute);
        failures += t.failures;
        loginMs[path].push(await latency(ports[path], samples));
        console.log(`round ${round} ${path.padEnd(14)} ${t.perMinute.toFixed(0).padStart(7)} sessions/min  connect→+OK after PASS ${loginMs[path].at(-1)!.toFixed(2)} ms${t.failures ? `  (${t.failures} failed)` : ""}`);
      }
    }

    const direct = median(loginMs.direct);
    const rows = PATHS.map((path) => ({
      path,
      sessionsPerMinute: median(perMinute[path]),
      loginMs: median(loginMs[path]),
      addedMs: path === "direct" ? 0 : median(loginMs[path]) - direct,
    }));
    console.log("");
    console.log(`medians of ${rounds} rounds (${clients} clients; latency over ${samples} sequential sessions):`);
    console.log(`${"path".padEnd(16)}${"sessions/min".padStart(14)}${"vs direct".padStart(11)}${"connect→+OK PASS".padStart(19)}${"added".padStart(11)}`);
    for (const r of rows) {
      const ratio = r.sessionsPerMinute / rows[0]!.sessionsPerMinute;
      console.log(
        `${r.path.padEnd(16)}${r.sessionsPerMinute.toFixed(0).padStart(14)}${`${(ratio * 100).toFixed(0)} %`.padStart(11)}${`${r.loginMs.toFixed(2)} ms`.padStart(19)}${(r.path === "direct" ? "" : `+${r.addedMs.toFixed(2)} ms`).padStart(11)}`,
      );
    }
    if (failures > 0) console.log(`${failures} sessions failed during the runs`);
    if (values.json) writeFileSync(values.json, JSON.stringify({ rounds, clients, seconds, samples, rows, perMinute, loginMs, failures }, null, 2));
  } finally {
    await murder.stop();
    cleanupAll();
  }
}

await main();
