/**
 * Ports for tests that must name one up front (socat, xinetd). Readiness is read from
 * /proc/net/tcp instead of probing with a connection, because a probe would use up a
 * single-connection listener such as socat without fork.
 */
import { readFileSync } from "node:fs";
import { waitFor } from "./processes.ts";

/** A port that was free on 127.0.0.1 a moment ago (the kernel picked it for a listener we closed). */
export function freePort(): number {
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
