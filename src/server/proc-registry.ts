/**
 * Session registries for maxlogins_* (§5.1 step 9).
 *
 * ProcFileRegistry writes Cyrus's proc file — `<proc_path or configdirectory/proc>/<pid>` holding
 * `service\tclienthost\tuserid\tmailbox\tcmd\n`, written as `<pid>.new` then renamed — so Cyrus's
 * own tools list our one-session processes, and counts across every process of the service.
 * Entries of dead pids are ignored (and removed). Standalone mode serves many sessions in one pid,
 * which a proc file cannot describe, so it counts in memory.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoginCounts, RegistryEntry, SessionRegistry } from "../pop3/session-registry.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

function tally(entries: Iterable<RegistryEntry>, service: string, clientHost: string, userid: string): LoginCounts {
  const counts = { host: 0, user: 0 };
  for (const e of entries) {
    // only logged-in sessions of the same service count
    if (e.service !== service || e.mailbox === "" || e.userid === "") continue;
    if (e.clientHost === clientHost) counts.host++;
    if (e.userid === userid) counts.user++;
  }
  return counts;
}

export class ProcFileRegistry implements SessionRegistry {
  private written: string | undefined;

  constructor(private readonly dir: string) {}

  private get path(): string {
    return join(this.dir, String(process.pid));
  }

  update(_key: object, entry: RegistryEntry): void {
    const line = `${entry.service}\t${entry.clientHost}\t${entry.userid}\t${entry.mailbox}\t\n`;
    if (line === this.written) return;
    const temp = `${this.path}.new`;
    try {
      try {
        writeFileSync(temp, line);
      } catch {
        mkdirSync(this.dir, { recursive: true, mode: 0o755 });
        writeFileSync(temp, line);
      }
      renameSync(temp, this.path);
      this.written = line;
    } catch {
      // the registry is advisory; a read-only proc dir must not break sessions
    }
  }

  remove(_key: object): void {
    if (this.written === undefined) return;
    this.written = undefined;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  count(service: string, clientHost: string, userid: string): LoginCounts {
    return tally(this.readEntries(), service, clientHost, userid);
  }

  private *readEntries(): Iterable<RegistryEntry> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      if (pid !== process.pid && !alive(pid)) {
        try {
          unlinkSync(join(this.dir, name));
        } catch {
          // someone else cleaned it up
        }
        continue;
      }
      let text: string;
      try {
        text = readFileSync(join(this.dir, name), "latin1");
      } catch {
        continue;
      }
      const [service = "", clientHost = "", userid = "", mailbox = ""] = text.replace(/[\r\n].*$/s, "").split("\t");
      yield { service, clientHost, userid, mailbox };
    }
  }
}

export class MemoryRegistry implements SessionRegistry {
  private readonly entries = new Map<object, RegistryEntry>();

  update(key: object, entry: RegistryEntry): void {
    this.entries.set(key, entry);
  }

  remove(key: object): void {
    this.entries.delete(key);
  }

  count(service: string, clientHost: string, userid: string): LoginCounts {
    return tally(this.entries.values(), service, clientHost, userid);
  }
}

export function procDirectory(configDirectory: string, procPath: string | undefined): string {
  return procPath ?? join(configDirectory, "proc");
}
