/**
 * Does any session wait behind another? A probe session sends NOOP every few ms and times each
 * round trip while, in the same server process, one session RETRs a 100 MiB message to a reader
 * that takes only a few MB/s, and another logs into a 100k-message Maildir nobody has opened
 * before (the server builds its uid list). In multi-session modes the bench reconnects until the
 * three sessions are in one process (checked through /proc); in one-session-a-process modes they
 * cannot be, and the figure shows what separate processes give.
 */
import type { Socket } from "bun";
import { withTimeout } from "../connections.ts";
import type { Credentials } from "../loadgen.ts";
import { withService, type ModeSpec, type Programs, type Service } from "../modes.ts";
import type { ModesEnv } from "../modes-env.ts";
import { PopWire } from "../pop3-wire.ts";
import { serverPidOf } from "../socket-owner.ts";
import { percentile } from "../stats.ts";

const NOOP_EVERY_MS = 5;
/** Bytes per second the slow reader accepts: 100 MiB would take ~25 s, longer than the window. */
const SLOW_READER_BYTES_PER_SECOND = 4_000_000;
const RETR_HEAD_START_MS = 300;
/** Probing goes on this long after the 100k login has answered. */
const AFTER_LOGIN_MS = 1_000;
const LOGIN_TIMEOUT_MS = 60_000;
const PLACEMENT_TRIES = 20;

export interface ProbeRun {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** PASS → +OK on the fresh 100k-message Maildir. */
  hugeLoginMs: number;
  /** Body bytes the slow reader had received when the window closed. */
  slowReaderBytes: number;
  sameProcess: boolean;
  note?: string;
}

/** A session that RETRs message 1 and reads it at a fixed, slow rate. */
class SlowReader {
  bytes = 0;
  private started = 0;
  private loginLines = 0;
  private loggedIn: (() => void) | undefined;
  private failed: ((e: Error) => void) | undefined;
  private text = "";
  socket: Socket<SlowReader> | undefined;

  static async open(port: number, user: Credentials): Promise<SlowReader> {
    const reader = new SlowReader();
    const ready = new Promise<void>((resolve, reject) => {
      reader.loggedIn = resolve;
      reader.failed = reject;
    });
    reader.socket = await Bun.connect<SlowReader>({
      hostname: "127.0.0.1",
      port,
      data: reader,
      socket: {
        data: (s, chunk) => s.data.onData(s, chunk),
        close: (s) => s.data.failed?.(new Error("slow reader: closed")),
        error: (s, e) => s.data.failed?.(e),
      },
    });
    reader.socket.write(`USER ${user.name}\r\nPASS ${user.password}\r\n`);
    await withTimeout(ready, LOGIN_TIMEOUT_MS, "slow reader login");
    return reader;
  }

  get localPort(): number {
    return this.socket?.localPort ?? 0;
  }

  startRetr(): void {
    this.started = performance.now();
    this.socket!.write("RETR 1\r\n");
  }

  close(): void {
    this.failed = undefined;
    this.socket?.end();
  }

  private onData(s: Socket<SlowReader>, chunk: Buffer): void {
    if (this.loggedIn) {
      this.text += chunk.toString("latin1");
      const lines = this.text.split("\r\n");
      for (const line of lines.slice(0, -1)) {
        if (!line.startsWith("+OK")) return this.failed?.(new Error(`slow reader: ${line}`));
        this.loginLines++;
      }
      this.text = lines.at(-1)!;
      if (this.loginLines >= 3) {
        const done = this.loggedIn;
        this.loggedIn = undefined;
        done();
      }
      return;
    }
    this.bytes += chunk.length;
    const due = (this.bytes / SLOW_READER_BYTES_PER_SECOND) * 1000 - (performance.now() - this.started);
    if (due > 1) {
      s.pause();
      setTimeout(() => s.resume(), due);
    }
  }
}

async function login(port: number, user: Credentials): Promise<PopWire> {
  const wire = await PopWire.connect("127.0.0.1", port);
  await withTimeout(wire.readLine(), LOGIN_TIMEOUT_MS, "greeting");
  await wire.command(`USER ${user.name}`);
  await withTimeout(wire.command(`PASS ${user.password}`), LOGIN_TIMEOUT_MS, "PASS");
  return wire;
}

/** Opens connections until one lands in `pid` (multi-session modes), closing the others. */
async function placed<T extends { localPort: number; close(): void }>(svc: Service, pid: number | undefined, open: () => Promise<T>): Promise<{ conn: T; pid?: number }> {
  for (let i = 0; ; i++) {
    const conn = await open();
    const owner = serverPidOf(svc.port, conn.localPort, svc.servicePids());
    if (pid === undefined || owner === pid || i >= PLACEMENT_TRIES) return { conn, pid: owner };
    conn.close();
  }
}

async function oneRun(svc: Service, env: ModesEnv, multi: boolean): Promise<ProbeRun> {
  const hugeUser = env.freshHugeUser();
  const { conn: probe, pid: probePid } = await placed(svc, undefined, () => login(svc.port, env.probeUser));
  const want = multi ? probePid : undefined;
  const { conn: reader, pid: readerPid } = await placed(svc, want, () => SlowReader.open(svc.port, env.bigUser));
  const { conn: huge, pid: hugePid } = await placed(svc, want, async () => {
    const wire = await PopWire.connect("127.0.0.1", svc.port);
    await withTimeout(wire.readLine(), LOGIN_TIMEOUT_MS, "greeting");
    await wire.command(`USER ${hugeUser.name}`);
    return wire;
  });
  const sameProcess = probePid !== undefined && probePid === readerPid && probePid === hugePid;
  const rtts: number[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t0 = performance.now();
      await withTimeout(probe.command("NOOP"), LOGIN_TIMEOUT_MS, "NOOP");
      rtts.push(performance.now() - t0);
      await Bun.sleep(NOOP_EVERY_MS);
    }
  })();
  try {
    await Bun.sleep(100);
    reader.startRetr();
    await Bun.sleep(RETR_HEAD_START_MS);
    const t0 = performance.now();
    await withTimeout(huge.command(`PASS ${hugeUser.password}`), LOGIN_TIMEOUT_MS, "PASS (100k Maildir)");
    const hugeLoginMs = performance.now() - t0;
    await Bun.sleep(AFTER_LOGIN_MS);
    probing = false;
    await prober;
    const sorted = rtts.sort((a, b) => a - b);
    return {
      samples: sorted.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1) ?? NaN,
      hugeLoginMs,
      slowReaderBytes: reader.bytes,
      sameProcess,
    };
  } finally {
    probing = false;
    await prober.catch(() => undefined);
    probe.close();
    reader.close();
    huge.close();
  }
}

export async function measureProbe(env: ModesEnv, spec: ModeSpec, programs: Programs, runs: number, log: (line: string) => void): Promise<ProbeRun[]> {
  const out: ProbeRun[] = [];
  for (let r = 0; r < runs; r++) {
    // a fresh service each run, so the 100k login is the first large scan that process makes
    const run = await withService(env, spec, programs, {}, (svc) => oneRun(svc, env, spec.sessionsPerProcess > 1));
    log(
      `   probe NOOP: ${run.samples} round trips, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(1)} ms, max ${run.maxMs.toFixed(1)} ms; ` +
        `first login to the huge Maildir ${run.hugeLoginMs.toFixed(0)} ms; slow reader got ${(run.slowReaderBytes / 1e6).toFixed(1)} MB; same process: ${run.sameProcess}`,
    );
    out.push(run);
  }
  return out;
}
