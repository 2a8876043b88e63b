/**
 * Per-user telemetry files (Cyrus's lib/telemetry.c), byte-compatible with Cyrus: only when the operator has created
 * `<configdirectory>/log/<userid>/`; file `<service>-<pid>` (or `<service>-<sessionid>` with
 * telemetry_bysessionid, and always in a process serving several sessions at once, so that each
 * session has its own file: docs/launch-modes.md); a ctime header; then every read as `<ts<bytes` and every write as
 * `>ts>bytes`, with no framing. Opened just before "+OK Mailbox locked", so no password is logged.
 */
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Cyrus's protstream buffer size: the unit of each telemetry chunk. */
const PROT_BUFFER = 4096;

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** C ctime(): "Sun Nov 29 04:11:12 2026\n", local time. */
export function ctime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, " ")} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${date.getFullYear()}\n`
  );
}

export interface TelemetryTarget {
  configDirectory: string;
  service: string;
  userid: string;
  sessionId: string;
  bySessionId: boolean;
  /** Another session of this process may log the same user at the same time. */
  manySessions?: boolean;
}

export class TelemetryLog {
  private constructor(private fd: number) {}

  /** Opens the log if the user's directory exists; undefined otherwise (Cyrus fails quietly too). */
  static open(target: TelemetryTarget): TelemetryLog | undefined {
    const dir = join(target.configDirectory, "log", target.userid);
    try {
      if (!statSync(dir).isDirectory()) return undefined;
      const bySession = target.bySessionId || target.manySessions;
      const name = `${target.service}-${bySession ? target.sessionId : process.pid}`;
      const fd = openSync(join(dir, name), "a", 0o644);
      const log = new TelemetryLog(fd);
      log.write(`---------- ${target.userid} ${ctime(new Date())}\n`);
      return log;
    } catch {
      return undefined;
    }
  }

  /** Cyrus's prot layer reads and flushes at most 4096 bytes at a time; each piece gets a stamp. */
  record(direction: "in" | "out", data: Uint8Array): void {
    const seconds = Math.floor(Date.now() / 1000);
    const stamp = direction === "in" ? `<${seconds}<` : `>${seconds}>`;
    for (let i = 0; i < data.length && this.fd >= 0; i += PROT_BUFFER) {
      this.write(stamp);
      this.writeBytes(data.subarray(i, i + PROT_BUFFER));
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = -1;
  }

  private write(text: string): void {
    this.writeBytes(Buffer.from(text, "latin1"));
  }

  private writeBytes(data: Uint8Array): void {
    if (this.fd < 0) return;
    try {
      writeSync(this.fd, data);
    } catch {
      this.close();
    }
  }
}
