/**
 * UIDL and LIST on one big Cyrus mailbox (default 100,000 messages): our binary with
 * `pop3_mailstore: cyrus` against Cyrus 3.6's own pop3d on the same mailbox. Times are from
 * sending the command to the end of the answer, medians of several sessions; RSS is the
 * server's VmRSS after the sessions and its peak (VmHWM).
 *
 *   sudo bun bench/cyrus-uidl.ts [--messages N] [--rounds R] [--write]
 *
 * --write appends the results as a section of bench/RESULTS.md.
 */
import { appendFileSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { BenchCyrus } from "./cyrus-setup.ts";
import { loadAverage, machineDescription } from "./machine.ts";
import { smallSize, textMessage } from "./messages.ts";
import { PopWire } from "./pop3-wire.ts";
import { median } from "./stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const BINARY = join(ROOT, "dist/pop3d");
const USER = "bench";
const PASSWORD = "bench-pw";

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const MESSAGES = option("messages", 100_000);
const ROUNDS = option("rounds", 5);

function memoryKb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

interface Round {
  login: number;
  uidl: number;
  list: number;
  uidlBytes: number;
}

async function session(port: number, beforeQuit?: () => void): Promise<Round> {
  const wire = await PopWire.connect("127.0.0.1", port);
  await wire.readLine();
  await wire.command(`USER ${USER}`);
  let t = performance.now();
  await wire.command(`PASS ${PASSWORD}`);
  const login = performance.now() - t;
  t = performance.now();
  const uidl = await wire.multiline("UIDL");
  const uidlMs = performance.now() - t;
  t = performance.now();
  await wire.multiline("LIST");
  const listMs = performance.now() - t;
  beforeQuit?.();
  await wire.command("QUIT");
  await wire.closed();
  return { login, uidl: uidlMs, list: listMs, uidlBytes: uidl.bytes };
}

/** The pop3d child master forked for the current connection (Cyrus keeps one per session). */
function cyrusPop3dChild(masterPid: number): number | undefined {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === masterPid && readFileSync(`/proc/${name}/cmdline`, "utf8").includes("pop3d")) return Number(name);
    } catch {
      // process gone
    }
  }
  return undefined;
}

async function rounds(port: number, sample?: () => void): Promise<Round[]> {
  const out: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) out.push(await session(port, sample));
  return out;
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

async function main(): Promise<void> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} missing: run make build`);
  const cyrus = await BenchCyrus.start({ [USER]: PASSWORD });
  try {
    await cyrus.createMailbox(`user/${USER}`);
    let t = performance.now();
    cyrus.fillMailbox(`user/${USER}`, MESSAGES, (uid) => textMessage(uid, smallSize(uid)));
    const buildSeconds = (performance.now() - t) / 1000;

    const server = Bun.spawn([BINARY, "-C", cyrus.confPath, "--listen", "127.0.0.1:0"], { stdout: "pipe", stderr: "ignore" });
    const reader = server.stdout.getReader();
    let text = "";
    while (!/listening on 127\.0\.0\.1:(\d+)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited: ${text}`);
      text += Buffer.from(value).toString();
    }
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(text)![1]);

    const ours = await rounds(port);
    const ourMemory = memoryKb(server.pid);
    server.kill("SIGTERM");
    await server.exited;

    let cyrusPeak = 0;
    const theirs = await rounds(cyrus.cyrusPop3Port, () => {
      const pid = cyrusPop3dChild(cyrus.masterPid);
      if (pid !== undefined) cyrusPeak = Math.max(cyrusPeak, memoryKb(pid).peak);
    });

    const med = (rs: Round[], k: keyof Round): number => median(rs.map((r) => r[k]));
    const rows = [
      `| server | login (snapshot) ms | UIDL ms | LIST ms | UIDL bytes | RSS after / peak |`,
      `|---|---:|---:|---:|---:|---:|`,
      `| ours (pop3_mailstore: cyrus) | ${fmt(med(ours, "login"))} | ${fmt(med(ours, "uidl"))} | ${fmt(med(ours, "list"))} | ${ours[0]!.uidlBytes} | ${(ourMemory.rss / 1024).toFixed(0)} MiB / ${(ourMemory.peak / 1024).toFixed(0)} MiB |`,
      `| Cyrus 3.6.1 pop3d | ${fmt(med(theirs, "login"))} | ${fmt(med(theirs, "uidl"))} | ${fmt(med(theirs, "list"))} | ${theirs[0]!.uidlBytes} | peak ${(cyrusPeak / 1024).toFixed(0)} MiB (per-session process) |`,
    ];
    const section = [
      "",
      `## Cyrus mailstore: UIDL/LIST on a ${MESSAGES.toLocaleString("en-US")}-message Cyrus mailbox (bench/cyrus-uidl.ts)`,
      "",
      "```",
      machineDescription(),
      `load average at end: ${loadAverage()}`,
      "```",
      "",
      `Mailbox: user/${USER} in a real Cyrus 3.6.1 spool (uuid layout, index version 17), ${MESSAGES} messages of 1–9 KB. ` +
        `Built by writing the message files into the mailbox directory and letting Cyrus index them with \`reconstruct -f\` ` +
        `(${buildSeconds.toFixed(0)} s). Each server ran ${ROUNDS} sessions of USER/PASS, UIDL, LIST, QUIT; times are medians from ` +
        `sending the command to the last byte of the answer; "login" is PASS, i.e. locating the mailbox and reading the whole index. ` +
        `Our binary is one long-lived process (RSS measured after the sessions, peak = VmHWM); Cyrus forks one pop3d per session.`,
      "",
      ...rows,
      "",
    ].join("\n");
    console.log(section);
    if (process.argv.includes("--write")) appendFileSync(join(ROOT, "bench/RESULTS.md"), section);
  } finally {
    await cyrus.stop();
  }
}

await main();
