/**
 * The logging interface every module uses. Levels are syslog's, because operators grep Cyrus's
 * syslog lines (docs/compatibility.md) and we emit the same lines at the same levels.
 */
export type LogLevel = "debug" | "info" | "notice" | "warning" | "err" | "crit";

export interface Log {
  debug(message: string): void;
  info(message: string): void;
  notice(message: string): void;
  warning(message: string): void;
  err(message: string): void;
  crit(message: string): void;
}

export type LogSink = (level: LogLevel, message: string) => void;

export function logFromSink(sink: LogSink): Log {
  return {
    debug: (m) => sink("debug", m),
    info: (m) => sink("info", m),
    notice: (m) => sink("notice", m),
    warning: (m) => sink("warning", m),
    err: (m) => sink("err", m),
    crit: (m) => sink("crit", m),
  };
}

export const silentLog: Log = logFromSink(() => {});
