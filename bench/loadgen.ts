/**
 * POP3 session load generator. Each client runs full sessions back to back: connect, greeting,
 * USER/PASS, STAT, UIDL, RETR of every message (read to the terminating dot, bytes counted),
 * QUIT. Nothing is deleted, so mailboxes stay as they were and runs are repeatable.
 *
 * Standalone:
 *   bun run bench/loadgen.ts --host 127.0.0.1 --port 1110 --user u --password p --clients 16 --seconds 10
 * `--user`/`--password` may hold "{n}" with `--user-count N`: client i logs in as user (i mod N)+1,
 * "{n}" written with two digits at least (load{n} → load01…), so concurrent clients can use
 * separate mailboxes.
 */
import { parseArgs } from "node:util";
import { PopWire } from "./pop3-wire.ts";
import { cpuSeconds } from "./server.ts";
import { systemBusySeconds } from "./machine.ts";
import { percentile } from "./stats.ts";

export interface Credentials {
  name: string;
  password: string;
}

export interface LoadOptions {
  host: string;
  port: number;
  users: Credentials[];
  clients: number;
  seconds: number;
  /** When given, the server's CPU use during the run is reported too. */
  serverPid?: number;
  /** CPU seconds of a server made of several processes (overrides serverPid). */
  serverCpuSeconds?: () => number;
}

export interface LoadResult {
  clients: number;
  sessions: number;
  errors: number;
  errorSamples: string[];
  elapsedSeconds: number;
  sessionsPerSecond: number;
  sessionsPerMinute: number;
  messages: number;
  bodyBytes: number;
  bodyMBps: number;
  latencyMs: { p50: number; p90: number; p99: number };
  /** CPU seconds per wall second (1.0 = one core busy). */
  clientCpu: number;
  serverCpu?: number;
  /** Server CPU seconds over the run (user + system). */
  serverCpuSecondsUsed?: number;
  /** CPU used by everything else on the machine meanwhile (other work skews the figures). */
  otherCpu?: number;
  /**
   * Sessions per minute of server CPU time: what the rate would be with one core wholly given
   * to the server. Steadier than the wall-clock rate when other work shares the machine.
   */
  sessionsPerServerCpuMinute?: number;
}

interface SessionOutcome {
  messages: number;
  bytes: number;
}

export async function runSession(host: string, port: number, user: Credentials): Promise<SessionOutcome> {
  const wire = await PopWire.connect(host, port);
  try {
    const greeting = await wire.readLine();
    if (!greeting.startsWith("+OK")) throw new Error(`greeting: ${greeting}`);
    await wire.command(`USER ${user.name}`);
    await wire.command(`PASS ${user.password}`);
    const stat = await wire.command("STAT");
    const count = Number(stat.split(" ")[1]);
    if (!Number.isInteger(count)) throw new Error(`STAT: ${stat}`);
    await wire.multiline("UIDL");
    let bytes = 0;
    for (let i = 1; i <= count; i++) bytes += (await wire.multiline(`RETR ${i}`)).bytes;
    await wire.command("QUIT");
    return { messages: count, bytes };
  } finally {
    wire.close();
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.users.length === 0) throw new Error("runLoad: no users");
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let sessions = 0;
  let errors = 0;
  let messages = 0;
  let bodyBytes = 0;
  const cpuBefore = process.cpuUsage();
  const serverCpuNow = options.serverCpuSeconds ?? (options.serverPid ? () => cpuSeconds(options.serverPid!) : undefined);
  const serverCpuBefore = serverCpuNow ? serverCpuNow() : 0;
  const systemBefore = systemBusySeconds();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;

  async function client(index: number): Promise<void> {
    const user = options.users[index % options.users.length]!;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const outcome = await runSession(options.host, options.port, user);
        latencies.push(performance.now() - t0);
        sessions++;
        messages += outcome.messages;
        bodyBytes += outcome.bytes;
      } catch (error) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`client ${index} (${user.name}): ${(error as Error).message}`);
        await Bun.sleep(10);
      }
    }
  }

  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  // Sessions started before the deadline are allowed to finish and counted over the real span.
  const elapsedSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const systemBusy = (systemBusySeconds() - systemBefore) / elapsedSeconds;
  const clientCpu = (cpu.user + cpu.system) / 1e6 / elapsedSeconds;
  const serverCpuSecondsUsed = serverCpuNow ? serverCpuNow() - serverCpuBefore : undefined;
  const serverCpu = serverCpuSecondsUsed === undefined ? undefined : serverCpuSecondsUsed / elapsedSeconds;
  latencies.sort((a, b) => a - b);
  return {
    clients: options.clients,
    sessions,
    errors,
    errorSamples,
    elapsedSeconds,
    sessionsPerSecond: sessions / elapsedSeconds,
    sessionsPerMinute: (sessions / elapsedSeconds) * 60,
    messages,
    bodyBytes,
    bodyMBps: bodyBytes / 1e6 / elapsedSeconds,
    latencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99) },
    clientCpu,
    serverCpu,
    serverCpuSecondsUsed,
    otherCpu: serverCpu === undefined ? undefined : Math.max(0, systemBusy - clientCpu - serverCpu),
    sessionsPerServerCpuMinute: serverCpu ? ((sessions / elapsedSeconds) * 60) / serverCpu : undefined,
  };
}

export function describeLoad(r: LoadResult): string {
  const lines = [
    `clients ${r.clients}: ${r.sessions} sessions in ${r.elapsedSeconds.toFixed(2)} s = ` +
      `${r.sessionsPerSecond.toFixed(1)} sessions/s (${Math.round(r.sessionsPerMinute)} sessions/min), errors ${r.errors}`,
    `  ${r.messages} messages, ${(r.bodyBytes / 1e6).toFixed(1)} MB of bodies (${r.bodyMBps.toFixed(1)} MB/s); ` +
      `session latency p50 ${r.latencyMs.p50.toFixed(1)} ms, p90 ${r.latencyMs.p90.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms`,
    `  CPU: client ${(r.clientCpu * 100).toFixed(0)}%` +
      (r.serverCpu === undefined ? "" : `, server ${(r.serverCpu * 100).toFixed(0)}%`) +
      (r.otherCpu === undefined ? "" : `, other processes ${(r.otherCpu * 100).toFixed(0)}%`) +
      (r.sessionsPerServerCpuMinute === undefined ? "" : `; ${Math.round(r.sessionsPerServerCpuMinute)} sessions per server CPU-minute`),
  ];
  for (const e of r.errorSamples) lines.push(`  error: ${e}`);
  return lines.join("\n");
}

function expandUsers(user: string, password: string, count: number): Credentials[] {
  if (!user.includes("{n}")) return [{ name: user, password }];
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(2, "0");
    return { name: user.replaceAll("{n}", n), password: password.replaceAll("{n}", n) };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      user: { type: "string" },
      password: { type: "string" },
      "user-count": { type: "string", default: "1" },
      clients: { type: "string", default: "16" },
      seconds: { type: "string", default: "10" },
      "server-pid": { type: "string" },
    },
  });
  if (!values.port || !values.user || values.password === undefined) {
    console.error("usage: bun run bench/loadgen.ts --host H --port P --user U --password PW [--user-count N] [--clients C] [--seconds S] [--server-pid PID]");
    process.exit(64);
  }
  const result = await runLoad({
    host: values.host!,
    port: Number(values.port),
    users: expandUsers(values.user, values.password, Number(values["user-count"])),
    clients: Number(values.clients),
    seconds: Number(values.seconds),
    serverPid: values["server-pid"] ? Number(values["server-pid"]) : undefined,
  });
  console.log(describeLoad(result));
}

if (import.meta.main) await main();
