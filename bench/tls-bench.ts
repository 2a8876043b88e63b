/**
 * TLS figures: pop3s handshakes per second (connect, handshake, greeting, QUIT) with N concurrent
 * clients, for an RSA-2048 and a P-256 certificate; and RETR throughput of one 100 MiB message over
 * pop3s next to the same RETR in plaintext on the same server. Prints figures, never asserts.
 *   bun run bench/tls-bench.ts [--quick] [--clients 1,8,32] [--seconds 10] [--json FILE] [--binary PATH]
 * The clients run in this process on the same machine: on a small box they compete with the
 * server for CPU, so the figures are a floor, not the server's ceiling.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BenchSpool } from "./fixtures.ts";
import { loadAverage, machineDescription } from "./machine.ts";
import { BINARY, cpuSeconds, procStatusKb, sampleRss } from "./server.ts";
import { PopWire } from "./pop3-wire.ts";

const LARGE_MESSAGE_BYTES = 100 * 1024 * 1024;
const READY_TIMEOUT_MS = 10_000;

type KeyKind = "rsa2048" | "p256";

export interface HandshakeResult {
  key: KeyKind;
  clients: number;
  seconds: number;
  sessions: number;
  failures: number;
  perSecond: number;
  /** Server CPU seconds per 1000 sessions. */
  serverCpuPer1000: number;
}

export interface RetrResult {
  transport: "pop3s" | "plain";
  runs: number[];
  medianMBps: number;
  wireBytes: number;
  rssPeakKb: number;
}

function openssl(cmd: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...cmd], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${cmd.join(" ")}: ${r.stderr.toString()}`);
}

/** A self-signed server certificate of the given key type in `dir`; returns [cert, key]. */
function makeCert(dir: string, key: KeyKind): [string, string] {
  const keyArgs = key === "rsa2048" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  openssl(["req", "-x509", ...keyArgs, "-nodes", "-keyout", `${key}.key`, "-out", `${key}.pem`, "-days", "2", "-subj", "/CN=pop.bench"], dir);
  return [join(dir, `${key}.pem`), join(dir, `${key}.key`)];
}

interface Server {
  pid: number;
  plainPort: number;
  tlsPort: number;
  stop(): Promise<void>;
}

/** pop3d with one plain and one pop3s listener, TLS options appended to the spool's imapd.conf. */
async function startTlsServer(binary: string, spool: BenchSpool, cert: string, key: string): Promise<Server> {
  const conf = join(spool.dir, `imapd-${cert.endsWith("rsa2048.pem") ? "rsa" : "ec"}.conf`);
  writeFileSync(conf, (await Bun.file(spool.confPath).text()) + `tls_server_cert: ${cert}\ntls_server_key: ${key}\n`);
  const proc = Bun.spawn([binary, "-C", conf, "--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let stderr = "";
  void (async () => {
    for await (const chunk of proc.stderr) stderr = (stderr + new TextDecoder().decode(chunk)).slice(-10_000);
  })();
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const ports: { plain?: number; tls?: number } = {};
  while (ports.plain === undefined || ports.tls === undefined) {
    if (Date.now() > deadline) throw new Error(`pop3d did not announce its listeners; stderr: ${stderr}`);
    const next = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => undefined)]);
    if (!next || next.done) throw new Error(`pop3d exited before listening; stderr: ${stderr}`);
    text += new TextDecoder().decode(next.value);
    for (const m of text.matchAll(/pop3d: listening on \S+:(\d+)( \(tls\))?\n/g)) {
      if (m[2]) ports.tls = Number(m[1]);
      else ports.plain = Number(m[1]);
    }
  }
  reader.releaseLock();
  return {
    pid: proc.pid,
    plainPort: ports.plain,
    tlsPort: ports.tls,
    async stop() {
      proc.kill("SIGTERM");
      const code = await Promise.race([proc.exited, Bun.sleep(35_000).then(() => -1)]);
      if (code === -1) proc.kill("SIGKILL");
    },
  };
}

/** One pop3s session without login: handshake, greeting, QUIT, server close. */
async function greetAndQuit(port: number): Promise<void> {
  const wire = await PopWire.connect("127.0.0.1", port, { tls: true });
  try {
    const greeting = await wire.readLine();
    if (!greeting.startsWith("+OK")) throw new Error(`greeting: ${greeting}`);
    await wire.command("QUIT");
    await wire.closed();
  } finally {
    wire.close();
  }
}

async function measureHandshakes(server: Server, key: KeyKind, clients: number, seconds: number): Promise<HandshakeResult> {
  let sessions = 0;
  let failures = 0;
  const cpu0 = cpuSeconds(server.pid);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        try {
          await greetAndQuit(server.tlsPort);
          sessions++;
        } catch {
          failures++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server.pid) - cpu0;
  return { key, clients, seconds: elapsed, sessions, failures, perSecond: sessions / elapsed, serverCpuPer1000: (cpu / Math.max(sessions, 1)) * 1000 };
}

async function measureRetr(server: Server, transport: "pop3s" | "plain", user: { name: string; password: string }, repeats: number): Promise<RetrResult> {
  const wire = await PopWire.connect("127.0.0.1", transport === "pop3s" ? server.tlsPort : server.plainPort, { tls: transport === "pop3s" });
  await wire.readLine();
  await wire.command(`USER ${user.name}`);
  await wire.command(`PASS ${user.password}`);
  await wire.multiline("RETR 1"); // warm-up: page cache, JIT, socket buffers
  const runs: number[] = [];
  let wireBytes = 0;
  let rssPeakKb = procStatusKb(server.pid, "VmRSS");
  for (let i = 0; i < repeats; i++) {
    const sampler = sampleRss(server.pid);
    const t0 = performance.now();
    wireBytes = (await wire.multiline("RETR 1")).bytes;
    const s = (performance.now() - t0) / 1000;
    rssPeakKb = Math.max(rssPeakKb, sampler.stop());
    runs.push(wireBytes / 1e6 / s);
  }
  await wire.command("QUIT");
  wire.close();
  const sorted = [...runs].sort((a, b) => a - b);
  return { transport, runs, medianMBps: sorted[Math.floor(sorted.length / 2)]!, wireBytes, rssPeakKb };
}

export interface TlsFigures {
  handshakes: HandshakeResult[];
  retr: RetrResult[];
  errors: string[];
}

export interface TlsBenchOptions {
  binary: string;
  /** Concurrent clients for each handshake figure. */
  clients: number[];
  /** Seconds per handshake figure. */
  seconds: number;
  retrRepeats: number;
  log(text: string): void;
}

/** Everything this file measures, on its own spool (built and removed here). Never throws for a failed figure. */
export async function measureTls(o: TlsBenchOptions): Promise<TlsFigures> {
  const figures: TlsFigures = { handshakes: [], retr: [], errors: [] };
  const spool = new BenchSpool();
  try {
    const large = spool.largeMessage("large", LARGE_MESSAGE_BYTES);
    const certs = { rsa2048: makeCert(spool.dir, "rsa2048"), p256: makeCert(spool.dir, "p256") };
    spool.finish();
    for (const key of ["rsa2048", "p256"] as const) {
      const [cert, keyFile] = certs[key];
      let server: Server | undefined;
      try {
        server = await startTlsServer(o.binary, spool, cert, keyFile);
        o.log(`\n== pop3s handshakes/s (connect, TLS 1.3 handshake, greeting, QUIT), ${key} certificate`);
        await measureHandshakes(server, key, 4, 1); // warm-up
        for (const clients of o.clients) {
          const r = await measureHandshakes(server, key, clients, o.seconds);
          figures.handshakes.push(r);
          o.log(`   ${clients} clients: ${r.perSecond.toFixed(0)} sessions/s (${r.sessions} in ${r.seconds.toFixed(1)} s, ${r.failures} failed), server CPU ${r.serverCpuPer1000.toFixed(2)} s per 1000`);
        }
        if (key === "p256") {
          for (const transport of ["pop3s", "plain"] as const) {
            o.log(`\n== RETR of one ${LARGE_MESSAGE_BYTES / 1048576} MiB message, ${transport}`);
            const r = await measureRetr(server, transport, large.user, o.retrRepeats);
            figures.retr.push(r);
            o.log(`   runs ${r.runs.map((x) => x.toFixed(0)).join(", ")} MB/s; median ${r.medianMBps.toFixed(0)} MB/s; ${r.wireBytes} wire bytes; server peak RSS ${(r.rssPeakKb / 1024).toFixed(1)} MB`);
          }
        }
      } catch (error) {
        figures.errors.push(`${key}: ${(error as Error).stack ?? error}`);
        o.log(`   FAILED: ${(error as Error).message}`);
      } finally {
        await server?.stop();
      }
    }
  } finally {
    spool.remove();
  }
  return figures;
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      quick: { type: "boolean", default: false },
      clients: { type: "string" },
      seconds: { type: "string" },
      json: { type: "string" },
      binary: { type: "string", default: BINARY },
    },
  });
  const binary = resolve(args.binary!);
  const quick = args.quick!;
  const log = (text: string) => console.log(text);
  if (!existsSync(binary)) {
    log(`${binary} is missing: run "make build" first`);
    return;
  }
  log(machineDescription());
  log(`load average at start: ${loadAverage()}`);
  const figures = await measureTls({
    binary,
    clients: (args.clients ?? (quick ? "1,8" : "1,8,32")).split(",").map(Number),
    seconds: Number(args.seconds ?? (quick ? 3 : 10)),
    retrRepeats: quick ? 3 : 5,
    log,
  });
  log(`\nload average at end: ${loadAverage()}`);
  if (args.json) writeFileSync(args.json, JSON.stringify(figures, null, 2));
}

if (import.meta.main) {
  await main();
  process.exitCode = 0;
}
