/**
 * Debian's haproxy in TCP mode in front of the binary: each route is a frontend on a free port
 * whose backend connects to `target` and sends a PROXY header (v1 `send-proxy` or v2
 * `send-proxy-v2`). Health checks stay off, so every backend connection carries a real client.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { childEnv, collect, freePort, ownProcess, tempDir, waitFor } from "../../support/harness.ts";

export interface Route {
  /** Address the frontend binds: "127.0.0.1" or "::1". */
  bind: string;
  /** Port on 127.0.0.1 the backend connects to. */
  target: number;
  proxy: "v1" | "v2";
}

export interface Haproxy {
  /** Frontend ports, in the order of the routes. */
  ports: number[];
  stop(): void;
}

/** Whether something listens on 127.0.0.1:port or [::1]:port (read from /proc, no probe connection). */
function listening(address: string, port: number): boolean {
  const v6 = address.includes(":");
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const local = v6 ? `00000000000000000000000001000000:${hexPort}` : `0100007F:${hexPort}`;
  return readFileSync(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "utf8")
    .split("\n")
    .some((row) => {
      const cols = row.trim().split(/\s+/);
      return cols[1] === local && cols[3] === "0A";
    });
}

export async function startHaproxy(routes: Route[]): Promise<Haproxy> {
  const dir = tempDir("haproxy");
  const ports = routes.map(() => freePort());
  const lines = [
    "global",
    "  maxconn 256",
    "defaults",
    "  mode tcp",
    "  timeout connect 10s",
    "  timeout client 60s",
    "  timeout server 60s",
  ];
  routes.forEach((r, i) => {
    const bind = r.bind.includes(":") ? `[${r.bind}]` : r.bind;
    lines.push(`frontend fe${i}`, `  bind ${bind}:${ports[i]}`, `  default_backend be${i}`);
    lines.push(`backend be${i}`, `  server s${i} 127.0.0.1:${r.target} ${r.proxy === "v1" ? "send-proxy" : "send-proxy-v2"}`);
  });
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(cfg, lines.join("\n") + "\n");
  const proc = Bun.spawn(["haproxy", "-db", "-f", cfg], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv() });
  ownProcess(proc);
  const err = collect(proc.stderr);
  collect(proc.stdout);
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`haproxy exited ${proc.exitCode}: ${err.text()}`);
    return routes.every((r, i) => listening(r.bind, ports[i]!));
  }, "haproxy to listen");
  return {
    ports,
    stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
    },
  };
}
