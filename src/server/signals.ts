/**
 * Signal handling installed first thing at start-up, so a signal that master sends to a process
 * still starting (a reload right after a fork) is not fatal; the launch mode attaches its actions
 * once it is ready, and a signal that came earlier is acted on then (lib/signals.c).
 */
export type TerminateSignal = "SIGTERM" | "SIGINT" | "SIGQUIT";

export class ProcessSignals {
  private hangups = 0;
  private terminated: TerminateSignal | undefined;
  private hangupAction: (() => void) | undefined;
  private terminateAction: ((signal: TerminateSignal) => void) | undefined;

  install(): void {
    process.on("SIGHUP", () => {
      this.hangups++;
      this.hangupAction?.();
    });
    // one-shot, like Cyrus's SA_RESETHAND handlers: a second SIGTERM kills the process outright
    for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) {
      process.once(signal, () => {
        this.terminated = signal;
        this.terminateAction?.(signal);
      });
    }
  }

  get hangupPending(): boolean {
    return this.hangups > 0;
  }

  onHangup(action: () => void): void {
    this.hangupAction = action;
    if (this.hangups > 0) action();
  }

  onTerminate(action: (signal: TerminateSignal) => void): void {
    this.terminateAction = action;
    if (this.terminated) action(this.terminated);
  }
}
