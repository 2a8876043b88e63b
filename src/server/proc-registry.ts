/**
 * Session registries for maxlogins_* (Cyrus's lib/proc.c: proc_checklimits) and for Cyrus's own
 * tools that list sessions (`cyr_info proc`).
 *
 * ProcFileRegistry writes Cyrus's proc files — `<proc_path or configdirectory/proc>/<name>` holding
 * `service\tclienthost\tuserid\tmailbox\tcmd\n`, written as `<name>.new` then renamed — one file per
 * session, so counts are exact across every process of the service and Cyrus's tools list every
 * session. Cyrus names the file by pid and reads it back by the pid parsed from the name
 * (proc.c: proc_foreach), so every name must be a plain positive 32-bit decimal. A one-session
 * process names its entry `<pid>` (exactly Cyrus's layout), so Cyrus's tools that end a user's
 * sessions (proc_killuser: cyr_deny, a user's deletion) signal it as they would Cyrus's pop3d. A
 * process serving several sessions names them `<pid + slot × 2^22>`, slot ≥ 1: Linux pids stay
 * below PID_MAX_LIMIT (2^22), so those names never collide with a real process (such a signal goes
 * nowhere instead of ending every session of the process; the user's next command meets the deny
 * check), and the pid is the name modulo 2^22. Entries whose process is dead are ignored and
 * removed. See docs/launch-modes.md.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoginCounts, RegistryEntry, SessionRegistry } from "../pop3/session-registry.ts";

/** Linux's PID_MAX_LIMIT on 64-bit: no pid reaches it. */
const PID_SPACE = 1 << 22;
/** Slots per process: the largest name must stay a positive 32-bit pid_t (2^31 / 2^22 = 512). */
export const MAX_PROC_SLOTS = 512;

/** The proc file name of a session slot of `pid`. */
export function procEntryName(pid: number, slot: number): string {
  return String(pid + slot * PID_SPACE);
}

/** The pid a proc file name belongs to. */
export function pidOfProcEntry(name: string): number {
  return Number(name) % PID_SPACE;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

function tally(entries: Iterable<RegistryEntry>, service: string, clientHost: string, userid: string, asCyrusBefore312 = false): LoginCounts {
  const counts = { host: 0, user: 0 };
  for (const e of entries) {
    // only logged-in sessions of the same service count; before 3.12 every entry with a user did
    if (asCyrusBefore312 ? e.userid === "" : e.service !== service || e.mailbox === "" || e.userid === "") continue;
    if (e.clientHost === clientHost) counts.host++;
    if (e.userid === userid) counts.user++;
  }
  return counts;
}

interface SlotState {
  slot: number;
  written: string | undefined;
}

export class ProcFileRegistry implements SessionRegistry {
  private readonly slots = new Map<object, SlotState>();
  /** Free slot numbers below `nextSlot`, lowest first, so a one-session process always uses `<pid>`. */
  private readonly freeSlots: number[] = [];
  private nextSlot: number;
  /** Sessions beyond the last slot: unlisted for Cyrus's tools, but still counted here. */
  private readonly overflow = new Map<object, RegistryEntry>();

  /** `shared`: this process may serve several sessions at once (no entry is named by the bare pid). */
  constructor(
    private readonly dir: string,
    shared = false,
  ) {
    this.nextSlot = shared ? 1 : 0;
  }

  private slotFor(key: object): SlotState | undefined {
    let state = this.slots.get(key);
    if (state) return state;
    let slot: number;
    if (this.freeSlots.length > 0) {
      this.freeSlots.sort((a, b) => a - b);
      slot = this.freeSlots.shift()!;
    } else if (this.nextSlot < MAX_PROC_SLOTS) {
      slot = this.nextSlot++;
    } else {
      return undefined; // more live sessions than a process can name: this one goes unlisted
    }
    state = { slot, written: undefined };
    this.slots.set(key, state);
    return state;
  }

  update(key: object, entry: RegistryEntry): void {
    const state = this.slotFor(key);
    if (!state) {
      this.overflow.set(key, entry);
      return;
    }
    const line = `${entry.service}\t${entry.clientHost}\t${entry.userid}\t${entry.mailbox}\t\n`;
    if (line === state.written) return;
    const path = join(this.dir, procEntryName(process.pid, state.slot));
    const temp = `${path}.new`;
    try {
      try {
        writeFileSync(temp, line);
      } catch {
        mkdirSync(this.dir, { recursive: true, mode: 0o755 });
        writeFileSync(temp, line);
      }
      renameSync(temp, path);
      state.written = line;
    } catch {
      // the registry is advisory; a read-only proc dir must not break sessions
    }
  }

  remove(key: object): void {
    this.overflow.delete(key);
    const state = this.slots.get(key);
    if (!state) return;
    this.slots.delete(key);
    this.freeSlots.push(state.slot);
    if (state.written === undefined) return;
    try {
      unlinkSync(join(this.dir, procEntryName(process.pid, state.slot)));
    } catch {
      // already gone
    }
  }

  count(service: string, clientHost: string, userid: string, asCyrusBefore312 = false): LoginCounts {
    const counts = tally(this.readEntries(), service, clientHost, userid, asCyrusBefore312);
    const extra = tally(this.overflow.values(), service, clientHost, userid, asCyrusBefore312);
    return { host: counts.host + extra.host, user: counts.user + extra.user };
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
      const pid = pidOfProcEntry(name);
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

  count(service: string, clientHost: string, userid: string, asCyrusBefore312 = false): LoginCounts {
    return tally(this.entries.values(), service, clientHost, userid, asCyrusBefore312);
  }
}

export function procDirectory(configDirectory: string, procPath: string | undefined): string {
  return procPath ?? join(configDirectory, "proc");
}
