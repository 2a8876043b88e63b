/**
 * Which server process holds the other end of one of our client sockets: the connection's inode
 * from /proc/net/tcp (matched on both ports), then the process among `pids` with that inode
 * among its fds. Used to put several sessions into the same multi-session process on purpose.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

function inodeOf(serverPort: number, clientPort: number): string | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
  const local = `:${hex(serverPort)}`;
  const remote = `:${hex(clientPort)}`;
  for (const line of readFileSync("/proc/net/tcp", "latin1").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1]!.endsWith(local) && f[2]!.endsWith(remote)) return f[9];
  }
  return undefined;
}

export function serverPidOf(serverPort: number, clientPort: number, pids: readonly number[]): number | undefined {
  const inode = inodeOf(serverPort, clientPort);
  if (!inode || inode === "0") return undefined;
  const wanted = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === wanted) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
