/**
 * Per-session CPU time in a process that runs many sessions on one thread. Cyrus's USAGE line
 * (pop3d.c:cmd_quit, getrusage) is per process because a Cyrus process serves one client; here the
 * process's CPU is split among sessions by charging each interval between two switch points to
 * the session that was running in it. A session switches to itself when its code resumes (input
 * arrived, output drained, a command starts) and to nobody before it waits, so CPU spent in other
 * sessions, in the event loop between them, and at process start is not charged to it.
 */

export class CpuAccount {
  /** Microseconds charged so far. */
  user = 0;
  system = 0;
  private reportedUser = 0;
  private reportedSystem = 0;

  /** Cyrus's "user: <s>.<usec> sys: <s>.<usec>", the CPU charged since the previous report. */
  report(): string {
    const user = this.user - this.reportedUser;
    const system = this.system - this.reportedSystem;
    this.reportedUser = this.user;
    this.reportedSystem = this.system;
    return `user: ${seconds(user)} sys: ${seconds(system)}`;
  }
}

function seconds(micros: number): string {
  const whole = Math.max(0, Math.round(micros));
  return `${Math.floor(whole / 1e6)}.${String(whole % 1e6).padStart(6, "0")}`;
}

let running: CpuAccount | undefined;
let mark = process.cpuUsage();

/** Charge the CPU used since the last switch to whoever was running, and make `account` the runner. */
export function switchCpuTo(account: CpuAccount | undefined): void {
  if (account === running && account === undefined) return;
  const now = process.cpuUsage();
  if (running) {
    running.user += now.user - mark.user;
    running.system += now.system - mark.system;
  }
  mark = now;
  running = account;
}

/** Stop charging `account` if it is the runner (it is about to wait). */
export function releaseCpu(account: CpuAccount): void {
  if (running === account) switchCpuTo(undefined);
}
