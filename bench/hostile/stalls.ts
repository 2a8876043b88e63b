/**
 * Waits a client controls must not cost CPU: 200 connections that stop halfway through a PROXY
 * header, and a server at its fd limit with more connections waiting than it may open. The figure
 * is the service's CPU (all its processes, master included) over a quiet window while they wait,
 * in % of one core; for the fd limit also what the waiting clients got.
 */
import type { Socket } from "bun";
import type { Service } from "../modes.ts";

const SETTLE_MS = 1_000;
const ANSWER_WAIT_MS = 3_000;

export interface CpuWindow {
  connections: number;
  connectFailures: number;
  seconds: number;
  /** CPU seconds per wall second × 100. */
  cpuPercent: number;
}

export interface FdLimitRun extends CpuWindow {
  nofile: number;
  greeted: number;
  refused: number;
  closedSilently: number;
  silent: number;
}

interface Held {
  socket: Socket<{ first?: string; closed: boolean }>;
  state: { first?: string; closed: boolean };
}

async function hold(port: number, count: number, firstBytes?: string): Promise<{ held: Held[]; failures: number }> {
  const held: Held[] = [];
  let failures = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(64, count) }, async () => {
      while (next < count) {
        next++;
        const state: { first?: string; closed: boolean; text?: string } = { closed: false };
        try {
          const socket = await Bun.connect({
            hostname: "127.0.0.1",
            port,
            data: state,
            socket: {
              data(s, chunk) {
                s.data.text = (s.data.text ?? "") + chunk.toString("latin1");
                const eol = s.data.text.indexOf("\r\n");
                if (eol >= 0 && s.data.first === undefined) s.data.first = s.data.text.slice(0, eol);
              },
              close: (s) => void (s.data.closed = true),
              error: (s) => void (s.data.closed = true),
            },
          });
          if (firstBytes) socket.write(firstBytes);
          held.push({ socket, state });
        } catch {
          failures++;
        }
      }
    }),
  );
  return { held, failures };
}

async function cpuWindow(svc: Service, seconds: number): Promise<number> {
  const c0 = svc.cpuSeconds();
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  return ((svc.cpuSeconds() - c0) / ((performance.now() - t0) / 1000)) * 100;
}

/** `count` connections to the PROXY listener, each sending the first bytes of a v1 header, then nothing. */
export async function measureProxyStall(svc: Service, count: number, seconds: number): Promise<CpuWindow> {
  if (!svc.proxyPort) throw new Error("service started without a PROXY listener");
  const { held, failures } = await hold(svc.proxyPort, count, "PROXY TCP4 127.0.0.1 ");
  try {
    await Bun.sleep(SETTLE_MS);
    const cpuPercent = await cpuWindow(svc, seconds);
    return { connections: held.filter((h) => !h.state.closed).length, connectFailures: failures, seconds, cpuPercent };
  } finally {
    for (const h of held) h.socket.end();
  }
}

/** `count` plain connections to a service started with a low fd limit (`nofile`). */
export async function measureFdLimit(svc: Service, nofile: number, count: number, seconds: number): Promise<FdLimitRun> {
  const { held, failures } = await hold(svc.port, count);
  try {
    await Bun.sleep(ANSWER_WAIT_MS);
    const cpuPercent = await cpuWindow(svc, seconds);
    let greeted = 0;
    let refused = 0;
    let closedSilently = 0;
    let silent = 0;
    for (const { state } of held) {
      if (state.first?.startsWith("+OK")) greeted++;
      else if (state.first !== undefined) refused++;
      else if (state.closed) closedSilently++;
      else silent++;
    }
    return { nofile, connections: held.length, connectFailures: failures, seconds, cpuPercent, greeted, refused, closedSilently, silent };
  } finally {
    for (const h of held) h.socket.end();
  }
}
