/**
 * Ports for tests that must name one up front (socat, xinetd). Readiness is read from
 * /proc/net/tcp instead of probing with a connection, because a probe would use up a
 * single-connection listener such as socat without fork.
 */
import { readFileSync } from "node:fs";
import { waitFor } from "./processes.ts";

/** Ports below the kernel's ephemeral range start here (above the registered services we might meet). */
const FIXED_PORTS_FROM = 10000;

/** The first port the kernel hands out for port 0 and for outgoing connections. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    return 32768;
  }
}

function bindable(port: number): boolean {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/**
 * A port free on 127.0.0.1 now, for a daemon the test starts next. It is chosen at random below
 * the ephemeral range: a port the kernel picked for a port-0 listener and that we closed again
 * could be handed to any process's next outgoing connection (every test on the machine makes
 * them) before the daemon binds it, and the daemon would then fail with "address in use".
 */
export function freePort(): number {
  const low = ephemeralLow();
  if (low - FIXED_PORTS_FROM >= 1000) {
    for (let tries = 0; tries < 200; tries++) {
      const port = FIXED_PORTS_FROM + Math.floor(Math.random() * (low - FIXED_PORTS_FROM));
      if (bindable(port)) return port;
    }
  }
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

const TCP_LISTEN_STATE = "0A";

/** Whether some socket listens on 127.0.0.1:<port> or 0.0.0.0:<port>. */
export function isListening(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const wanted = new Set([`0100007F:${hexPort}`, `00000000:${hexPort}`]);
  const table = readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1);
  return table.some((row) => {
    const cols = row.trim().split(/\s+/);
    return cols.length > 3 && wanted.has(cols[1]!) && cols[3] === TCP_LISTEN_STATE;
  });
}

export async function waitForListening(port: number, what: string, alive: () => boolean = () => true): Promise<void> {
  await waitFor(() => {
    if (!alive()) throw new Error(`${what} exited before listening on 127.0.0.1:${port}`);
    return isListening(port);
  }, `${what} to listen on 127.0.0.1:${port}`);
}

/**
 * Bytes queued in the kernel for a 127.0.0.1 TCP connection, seen from its local end:
 * tx (sent, not yet acknowledged or not yet sendable) and rx (received, not yet read).
 */
export function tcpQueues(localPort: number, remotePort: number): { tx: number; rx: number } | undefined {
  const hex = (p: number): string => `0100007F:${p.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const row of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const cols = row.trim().split(/\s+/);
    if (cols[1] === hex(localPort) && cols[2] === hex(remotePort)) {
      const [tx, rx] = cols[4]!.split(":").map((h) => parseInt(h, 16));
      return { tx: tx!, rx: rx! };
    }
  }
  return undefined;
}
