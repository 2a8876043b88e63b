/**
 * A syslog daemon stand-in (syslog_receiver.py) on a unix datagram socket, and the RFC 3164 line
 * format libc's syslog(3) and our binary send: `<PRI>Mmm dd hh:mm:ss ident[pid]: message`.
 */
import { join } from "node:path";
import { childEnv, collect, ownProcess, waitFor } from "../../support/harness.ts";
import { WAIT_LIMIT_MS, jsonLines } from "./json-lines.ts";

export const SYSLOG_RECEIVER = join(import.meta.dir, "syslog_receiver.py");

export interface SyslogLine {
  raw: string;
  pri: number;
  ident: string;
  pid: number;
  message: string;
}

const SYSLOG_FORMAT = /^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+?)\[(\d+)\]: (.*)$/s;

export function parseSyslog(raw: string): SyslogLine | undefined {
  const m = SYSLOG_FORMAT.exec(raw);
  if (!m) return undefined;
  return { raw, pri: Number(m[1]), ident: m[2]!, pid: Number(m[3]), message: m[4]! };
}

export class SyslogReceiver {
  readonly datagrams: string[] = [];
  private finished = false;

  private constructor(
    readonly path: string,
    private readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">,
  ) {}

  static async start(path: string): Promise<SyslogReceiver> {
    const proc = Bun.spawn(["python3", SYSLOG_RECEIVER, path], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: childEnv() });
    ownProcess(proc);
    const stderr = collect(proc.stderr);
    const receiver = new SyslogReceiver(path, proc);
    let ready = false;
    jsonLines(
      proc.stdout,
      (value) => {
        if (typeof value === "string") receiver.datagrams.push(value);
        else ready = true;
      },
      () => (receiver.finished = true),
    );
    await waitFor(() => {
      if (receiver.finished) throw new Error(`syslog receiver at ${path} failed: ${stderr.text()}`);
      return ready;
    }, `syslog receiver at ${path}`);
    return receiver;
  }

  lines(): SyslogLine[] {
    return this.datagrams.map((raw) => parseSyslog(raw) ?? { raw, pri: -1, ident: "", pid: -1, message: raw });
  }

  messages(pid?: number): string[] {
    return this.lines()
      .filter((l) => pid === undefined || l.pid === pid)
      .map((l) => l.message);
  }

  /** `limitMs` only turns a missing line into a failure sooner (use a short one for a process that already exited). */
  async waitFor(match: (l: SyslogLine) => boolean, what: string, limitMs = WAIT_LIMIT_MS): Promise<SyslogLine> {
    let found: SyslogLine | undefined;
    try {
      await waitFor(() => (found = this.lines().find(match)) !== undefined, `syslog line: ${what}`, limitMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}; received:\n${this.datagrams.join("\n")}`);
    }
    return found!;
  }

  async waitForMessage(pattern: RegExp | string, pid?: number): Promise<SyslogLine> {
    return this.waitFor(
      (l) => (pid === undefined || l.pid === pid) && (typeof pattern === "string" ? l.message === pattern : pattern.test(l.message)),
      String(pattern),
    );
  }

  async stop(): Promise<void> {
    if (this.finished) return;
    void this.proc.stdin.end();
    await this.proc.exited;
  }
}
