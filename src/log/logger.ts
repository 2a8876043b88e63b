/**
 * The process's one logger. Standalone foreground: human-readable lines on stderr through tslog.
 * stdio and master modes: syslog only (stderr may be the client's socket under xinetd).
 * tslog costs 15–35 ms to load (bun-findings §6), so it is imported only in standalone mode.
 */
import { logFromSink, type Log, type LogLevel, type LogSink } from "./log.ts";

const TSLOG_LEVEL: Record<LogLevel, number> = { debug: 2, info: 3, notice: 3, warning: 4, err: 5, crit: 6 };

let sink: LogSink = () => {};
let extraSink: LogSink | undefined;

/** The shared logger: whatever sink is installed receives every line. */
export const log: Log = logFromSink((level, message) => {
  sink(level, message);
  extraSink?.(level, message);
});

export function installSink(next: LogSink): void {
  sink = next;
}

/** A second destination (syslog next to stderr in the foreground, tests). */
export function installExtraSink(next: LogSink | undefined): void {
  extraSink = next;
}

/** stderr through tslog, for standalone foreground runs. */
export function installStderrSink(minLevel: LogLevel = "info"): void {
  // require, not import(): the bundler would hoist tslog's node:util/os/path imports into every
  // process's start-up, inetd ones included (bench/RESULTS.md)
  const { Logger } = require("tslog") as typeof import("tslog");
  const logger = new Logger<unknown>({
    type: "hidden",
    minLevel: TSLOG_LEVEL[minLevel],
  });
  logger.attachTransport((record: Record<string, any>) => {
    const meta = record._meta ?? {};
    const when = (meta.date instanceof Date ? meta.date : new Date()).toISOString();
    process.stderr.write(`${when} ${String(record[1] ?? "").padEnd(7)} ${record[0]}\n`);
  });
  const methods: Record<LogLevel, (...args: unknown[]) => unknown> = {
    debug: (m) => logger.debug(m, "debug"),
    info: (m) => logger.info(m, "info"),
    notice: (m) => logger.info(m, "notice"),
    warning: (m) => logger.warn(m, "warning"),
    err: (m) => logger.error(m, "err"),
    crit: (m) => logger.fatal(m, "crit"),
  };
  sink = (level, message) => void methods[level](message);
}
