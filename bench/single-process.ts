/**
 * One standalone process on its own (`make bench` runs it with `--only single`): builds a spool in a
 * temp dir, starts dist/pop3d on it and prints figures against the targets of the earlier issues
 * (sessions/s, large RETR, many-message LIST, idle session memory, stdio greeting, TLS).
 * It never asserts and always exits 0; a figure that could not be taken is shown as n/a.
 *   bun run bench/single-process.ts [--quick] [--only sessions,retr,list,idle,stdio,tls,maildir100k] [--json FILE] [--binary PATH]
 * --binary measures another build (e.g. one compiled with a different chunk size) instead of dist/pop3d.
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { BenchSpool } from "./fixtures.ts";
import { describeLoad, runLoad, type LoadResult } from "./loadgen.ts";
import { loadAverage, machineDescription } from "./machine.ts";
import { renderTable, type Row } from "./report.ts";
import { median } from "./stats.ts";
import { BINARY, startServer, type RunningServer } from "./server.ts";
import { measureBigList, type BigListResult } from "./scenarios/big-list.ts";
import { measureIdleSessions, type IdleResult } from "./scenarios/idle-sessions.ts";
import { measureLargeRetr, type LargeRetrResult } from "./scenarios/large-retr.ts";
import { measureRawCopy, type RawCopyResult } from "./scenarios/raw-copy.ts";
import { measureStdioBaselines, measureStdioGreeting, type GreetingResult } from "./scenarios/stdio-greeting.ts";
import { measureTls, type TlsFigures } from "./tls-bench.ts";
import { measureHugeMaildir, type HugeMaildirResult } from "./scenarios/huge-maildir.ts";

const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    json: { type: "string" },
    binary: { type: "string", default: BINARY },
  },
});
const binary = resolve(args.binary!);
const quick = args.quick!;
const wanted = new Set((args.only ?? "sessions,retr,list,idle,stdio,tls,maildir100k").split(","));

const LOAD_CLIENTS = [4, 16, 64];
const LOAD_USERS = 64;
const MESSAGES_PER_LOAD_USER = 20;
const LOAD_SECONDS = quick ? 3 : 5;
/** Rounds per concurrency: the median round is reported. */
const LOAD_ROUNDS = quick ? 1 : 3;
const LARGE_MESSAGE_BYTES = 100 * 1024 * 1024;
const LARGE_RETR_REPEATS = quick ? 3 : 7;
const BIG_LIST_MESSAGES = 20_000;
const HUGE_MAILDIR_MESSAGES = 100_000;
const BIG_LIST_LATER_LOGINS = quick ? 5 : 9;
const IDLE_SESSIONS = 1_000;
const IDLE_MESSAGES_PER_USER = 20;
const STDIO_CONNECTIONS = quick ? 30 : 100;

interface Figures {
  /** Median round per concurrency. */
  load?: LoadResult[];
  loadRounds?: LoadResult[][];
  largeRetr?: LargeRetrResult;
  largeRetrLf?: LargeRetrResult;
  rawCopy?: RawCopyResult[];
  bigList?: BigListResult;
  idle?: IdleResult;
  stdio?: GreetingResult;
  stdioForced?: GreetingResult;
  stdioBaselines?: Record<string, GreetingResult>;
  tls?: TlsFigures;
  hugeMaildir?: HugeMaildirResult;
  errors: string[];
}

function log(text: string): void {
  console.log(text);
}

async function step<T>(figures: Figures, name: string, run: () => Promise<T>): Promise<T | undefined> {
  log(`\n== ${name}`);
  try {
    return await run();
  } catch (error) {
    const message = `${name}: ${(error as Error).stack ?? error}`;
    figures.errors.push(message);
    log(`   FAILED: ${message}`);
    return undefined;
  }
}

async function withServer<T>(spool: BenchSpool, run: (server: RunningServer) => Promise<T>): Promise<T> {
  const server = await startServer(spool.confPath, binary);
  try {
    return await run(server);
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  if (!existsSync(binary)) {
    log(`${binary} is missing: run "make build" first`);
    return;
  }
  log(machineDescription());
  log(`load average at start: ${loadAverage()}`);
  log(`binary: ${binary} (built ${statSync(binary).mtime.toISOString()})`);
  const figures: Figures = { errors: [] };
  const spool = new BenchSpool();
  try {
    log(`\nbuilding the spool in ${spool.dir} ...`);
    const t0 = performance.now();
    const loadUsers = wanted.has("sessions") ? spool.loadUsers("load", LOAD_USERS, MESSAGES_PER_LOAD_USER) : [];
    const large = wanted.has("retr") ? spool.largeMessage("large", LARGE_MESSAGE_BYTES) : undefined;
    const largeLf = wanted.has("retr") ? spool.largeMessage("largelf", LARGE_MESSAGE_BYTES, "\n") : undefined;
    const many = wanted.has("list") ? spool.manyMessages("many", BIG_LIST_MESSAGES) : undefined;
    const huge = wanted.has("maildir100k") ? spool.manyMessages("huge", HUGE_MAILDIR_MESSAGES) : undefined;
    const idleUsers = wanted.has("idle") ? spool.linkedUsers("idle", IDLE_SESSIONS, IDLE_MESSAGES_PER_USER) : [];
    spool.finish();
    const builtAt = Date.now();
    log(`spool ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    if (loadUsers.length > 0) {
      figures.load = await step(figures, "sessions/s (connect, USER/PASS, STAT, UIDL, RETR x20 of ~50 KB, QUIT)", () =>
        withServer(spool, async (server) => {
          // Warm-up: first logins write each Maildir's uid list, and the server's code gets compiled.
          await runLoad({ host: "127.0.0.1", port: server.port, users: loadUsers, clients: LOAD_USERS, seconds: 2 });
          const rounds: LoadResult[][] = [];
          for (const clients of LOAD_CLIENTS) {
            const these: LoadResult[] = [];
            for (let round = 0; round < LOAD_ROUNDS; round++) {
              const r = await runLoad({ host: "127.0.0.1", port: server.port, users: loadUsers, clients, seconds: LOAD_SECONDS, serverPid: server.pid });
              log(describeLoad(r));
              these.push(r);
            }
            rounds.push(these);
          }
          figures.loadRounds = rounds;
          return rounds.map((these) => [...these].sort((a, b) => a.sessionsPerMinute - b.sessionsPerMinute)[Math.floor((these.length - 1) / 2)]!);
        }),
      );
    }

    if (large && largeLf) {
      const retr = (title: string, message: typeof large, expected: number) =>
        step(figures, title, () =>
          withServer(spool, async (server) => {
            const r = await measureLargeRetr(server.port, message.user, expected, server.pid, LARGE_RETR_REPEATS);
            for (const run of r.runs) log(`   ${run.wireBytes} bytes in ${(run.seconds * 1000).toFixed(0)} ms = ${run.mbps.toFixed(0)} MB/s`);
            log(`   median ${r.medianMBps.toFixed(0)} MB/s (fastest ${r.bestMBps.toFixed(0)}); bytes as expected (${expected}): ${r.bytesAsExpected}`);
            log(`   server RSS ${(r.rssBeforeKb / 1024).toFixed(1)} MB before, peak ${(r.rssPeakKb / 1024).toFixed(1)} MB during`);
            log(`   ${r.mbPerServerCpuSecond.toFixed(0)} MB per server CPU-second`);
            return r;
          }),
        );
      const mib = LARGE_MESSAGE_BYTES / 1048576;
      figures.largeRetr = await retr(`RETR of one ${mib} MiB message (CRLF on disk)`, large, LARGE_MESSAGE_BYTES + large.dotLines);
      figures.largeRetrLf = await retr(
        `RETR of one ${mib} MiB message (bare LF on disk, as most Maildir deliveries)`,
        largeLf,
        LARGE_MESSAGE_BYTES + largeLf.lines + largeLf.dotLines,
      );
      figures.rawCopy = await step(figures, "raw Bun socket copy of the same file (reference)", async () => {
        const results: RawCopyResult[] = [];
        for (const chunk of [64 * 1024, 256 * 1024]) {
          const r = await measureRawCopy(large.path, chunk, LARGE_RETR_REPEATS);
          log(`   ${chunk / 1024} KiB chunks: median ${r.medianMBps.toFixed(0)} MB/s (fastest ${r.bestMBps.toFixed(0)}), peak RSS ${(r.rssPeakKb / 1024).toFixed(1)} MB`);
          results.push(r);
        }
        return results;
      });
    }

    if (many) {
      figures.bigList = await step(figures, `PASS to end of LIST, ${BIG_LIST_MESSAGES} messages`, () =>
        withServer(spool, async (server) => {
          const r = await measureBigList(server.port, spool, many.user, builtAt, BIG_LIST_LATER_LOGINS);
          log(`   first login (builds the uid list): ${r.first.totalMs.toFixed(1)} ms (PASS ${r.first.passMs.toFixed(1)}, LIST ${r.first.listMs.toFixed(1)}), ${r.first.messages} lines`);
          log(`   later logins: median ${r.laterMedianMs.toFixed(1)} ms (PASS ${r.laterPassMedianMs.toFixed(1)}, LIST ${r.laterListMedianMs.toFixed(1)}), range ${r.laterMinMs.toFixed(1)}..${r.laterMaxMs.toFixed(1)}`);
          log(`   login after one new delivery: ${r.afterDelivery.totalMs.toFixed(1)} ms (PASS ${r.afterDelivery.passMs.toFixed(1)}, LIST ${r.afterDelivery.listMs.toFixed(1)}), ${r.afterDelivery.messages} lines`);
          return r;
        }),
      );
    }

    if (huge) {
      figures.hugeMaildir = await step(figures, `UIDL and LIST on a ${HUGE_MAILDIR_MESSAGES}-message Maildir`, () =>
        withServer(spool, async (server) => {
          const r = await measureHugeMaildir(server.port, server.pid, huge.user, builtAt, quick ? 3 : 7);
          const show = (s: typeof r.first) => `PASS ${s.passMs.toFixed(0)} ms, UIDL ${s.uidlMs.toFixed(0)} ms, LIST ${s.listMs.toFixed(0)} ms, ${s.lines} lines`;
          log(`   first login (builds the uid list): ${show(r.first)}`);
          log(`   later logins (median): PASS ${r.laterPassMedianMs.toFixed(0)} ms, UIDL ${r.laterUidlMedianMs.toFixed(0)} ms, LIST ${r.laterListMedianMs.toFixed(0)} ms`);
          log(`   server RSS ${(r.rssAfterKb / 1024).toFixed(0)} MB after, peak ${(r.rssPeakKb / 1024).toFixed(0)} MB`);
          return r;
        }),
      );
    }

    if (idleUsers.length > 0) {
      figures.idle = await step(figures, `RSS per idle logged-in session (${IDLE_SESSIONS} sessions)`, () =>
        withServer(spool, async (server) => {
          const r = await measureIdleSessions(server.port, server.pid, idleUsers, IDLE_SESSIONS);
          log(`   ${r.sessions} sessions open (${r.failures} failed) in ${r.openSeconds.toFixed(1)} s; server fds ${r.openFds}`);
          log(`   server VmRSS ${r.rssBeforeKb} kB before, ${r.rssAfterKb} kB after (+${r.perSessionKb.toFixed(1)} kB/session), ${r.rssLaterKb} kB 9 s later (+${r.perSessionLaterKb.toFixed(1)} kB/session)`);
          return r;
        }),
      );
    }

    if (wanted.has("stdio")) {
      const greeting = async (extra: string[]) => {
        const r = await measureStdioGreeting([binary, "-C", spool.confPath, ...extra], STDIO_CONNECTIONS);
        log(`   pop3d ${extra.join(" ")}: median ${r.medianMs.toFixed(1)} ms, p90 ${r.p90Ms.toFixed(1)} ms, min ${r.minMs.toFixed(1)}, max ${r.maxMs.toFixed(1)} (${r.failures} failed); "${r.firstLine}"`);
        return r;
      };
      const title = `stdio mode connect-to-greeting (socat fork + exec, ${STDIO_CONNECTIONS} connections)`;
      figures.stdio = await step(figures, title, () => greeting([]));
      if (!figures.stdio) {
        // -X forces stdio mode whatever else the process inherited (socat leaves sockets on fds 3 and 4)
        figures.stdioForced = await step(figures, `${title}, with -X`, () => greeting(["-X"]));
      }
      figures.stdioBaselines = await step(figures, "stdio launcher baselines (same socat, trivial programs)", async () => {
        const r = await measureStdioBaselines(spool.dir, STDIO_CONNECTIONS);
        for (const [name, g] of Object.entries(r)) log(`   ${name}: median ${g.medianMs.toFixed(1)} ms, p90 ${g.p90Ms.toFixed(1)} ms, min ${g.minMs.toFixed(1)}`);
        return r;
      });
    }
    if (wanted.has("tls")) {
      figures.tls = await step(figures, "TLS: pop3s handshakes/s, RETR over pop3s", () =>
        measureTls({ binary, clients: quick ? [1, 8] : [1, 8, 32], seconds: quick ? 3 : 10, retrRepeats: quick ? 3 : 5, log }),
      );
    }
  } finally {
    spool.remove();
  }

  log(`\nload average at end: ${loadAverage()}`);
  log("\n== figures vs targets\n");
  log(renderTable(rowsOf(figures)));
  if (figures.errors.length > 0) log(`\n${figures.errors.length} step(s) failed; see above.`);
  if (args.json) writeFileSync(args.json, JSON.stringify(figures, null, 2));
}

function loadNote(mid: LoadResult, rounds: LoadResult[] | undefined): string {
  const pct = (x: number | undefined) => `${Math.round((x ?? NaN) * 100)}%`;
  const all = (rounds ?? [mid]).map((r) => Math.round(r.sessionsPerMinute));
  return (
    `median of ${all.length} rounds (${all.join(", ")}/min; median ${Math.round(median(all))}), errors ${mid.errors}; ` +
    `server CPU ${pct(mid.serverCpu)}, client ${pct(mid.clientCpu)}, other processes ${pct(mid.otherCpu)}`
  );
}

function rowsOf(f: Figures): Row[] {
  const at = (clients: number) => f.load?.find((r) => r.clients === clients);
  const loadRow = (clients: number, target?: number): Row => ({
    figure: `sessions/min, ${clients} clients`,
    value: at(clients)?.sessionsPerMinute,
    unit: "/min",
    target,
    better: "higher",
    note: at(clients) && loadNote(at(clients)!, f.loadRounds?.find((rounds) => rounds[0]?.clients === clients)),
  });
  const raw = f.rawCopy?.find((r) => r.chunkBytes === 64 * 1024);
  return [
    loadRow(4),
    loadRow(16, 7_500),
    loadRow(64),
    {
      figure: "RETR 100 MiB",
      value: f.largeRetr?.medianMBps,
      unit: "MB/s",
      target: 500,
      better: "higher",
      note: f.largeRetr && `${f.largeRetr.mbPerServerCpuSecond.toFixed(0)} MB per server CPU-second; peak RSS ${(f.largeRetr.rssPeakKb / 1024).toFixed(0)} MB`,
    },
    { figure: "RETR 100 MiB, LF on disk", value: f.largeRetrLf?.medianMBps, unit: "MB/s", note: "wire bytes: every LF gains a CR" },
    { figure: "raw Bun socket copy (64 KiB)", value: raw?.medianMBps, unit: "MB/s", note: "Bun moving bytes between two sockets: the ceiling for any server on it" },
    { figure: "20k LIST, later logins (median)", value: f.bigList?.laterMedianMs, unit: "ms", target: 60, better: "lower" },
    { figure: "20k LIST, first login", value: f.bigList?.first.totalMs, unit: "ms", note: "builds the uid list (one-off per Maildir)" },
    { figure: "idle logged-in session", value: f.idle?.perSessionLaterKb, unit: "kB", target: 100, better: "lower" },
    f.stdio || !f.stdioForced
      ? { figure: "stdio connect-to-greeting (median)", value: f.stdio?.medianMs, unit: "ms", target: 15, better: "lower" }
      : {
          figure: "stdio connect-to-greeting, -X (median)",
          value: f.stdioForced.medianMs,
          unit: "ms",
          target: 15,
          better: "lower",
          note: "without -X the binary did not greet under socat (see the failure above)",
        },
    {
      figure: "pop3s handshakes/s, 8 clients, P-256",
      value: f.tls?.handshakes.find((h) => h.key === "p256" && h.clients === 8)?.perSecond,
      unit: "/s",
    },
    { figure: "100k Maildir UIDL, later logins", value: f.hugeMaildir?.laterUidlMedianMs, unit: "ms" },
    { figure: "100k Maildir LIST, later logins", value: f.hugeMaildir?.laterListMedianMs, unit: "ms" },
    { figure: "100k Maildir server peak RSS", value: f.hugeMaildir && f.hugeMaildir.rssPeakKb / 1024, unit: "MB" },
    { figure: "RETR 100 MiB over pop3s", value: f.tls?.retr.find((r) => r.transport === "pop3s")?.medianMBps, unit: "MB/s" },
  ];
}

try {
  await main();
} catch (error) {
  // figures are informative: a broken run is reported, never turned into a failing exit status
  log(`bench aborted: ${(error as Error).stack ?? error}`);
}
process.exitCode = 0;
