/**
 * The process's one logger, built on tslog. Standalone foreground: human-readable lines on stderr.
 * stdio and master modes: syslog (stderr may be the client's socket under xinetd).
 *
 * tslog costs 15–35 ms to load (bench/RESULTS.md), which an inetd-spawned process must not pay
 * before its greeting. So in those modes lines first go straight to the syslog transport, and
 * tslog is put in front of it once the first session has greeted (routeThroughTslog).
 */
import { logFromSink, type Log, type LogLevel, type LogSink } from "./log.ts";

const TSLOG_LEVEL: Record<LogLevel, number> = { debug: 2, info: 3, notice: 3, warning: 4, err: 5, crit: 6 };

let sink: LogSink = () => {};
let throughTslog = false;

/** The shared logger: whatever sink is installed receives every line. */
export const log: Log = logFromSink((level, message) => sink(level, message));

export function installSink(next: LogSink): void {
  sink = next;
  throughTslog = false;
}

/**
 * A tslog logger whose transport hands each record to `transport`. Our level names travel as the
 * second argument, since syslog has levels (notice) tslog lacks.
 */
function tslogSink(transport: (level: LogLevel, message: string, date: Date) => void, minLevel: LogLevel): LogSink {
  // require, not import(): the bundler would hoist tslog's node:util/os/path imports into every
  // process's start-up, inetd ones included (bench/RESULTS.md)
  const { Logger } = require("tslog") as typeof import("tslog");
  const logger = new Logger<unknown>({ type: "hidden", minLevel: TSLOG_LEVEL[minLevel] });
  logger.attachTransport((record: Record<string, any>) => {
    const date = record._meta?.date instanceof Date ? record._meta.date : new Date();
    transport(record[1] as LogLevel, String(record[0]), date);
  });
  const methods: Record<LogLevel, (message: string) => unknown> = {
    debug: (m) => logger.debug(m, "debug"),
    info: (m) => logger.info(m, "info"),
    notice: (m) => logger.info(m, "notice"),
    warning: (m) => logger.warn(m, "warning"),
    err: (m) => logger.error(m, "err"),
    crit: (m) => logger.fatal(m, "crit"),
  };
  return (level, message) => void methods[level](message);
}

/** stderr through tslog, for standalone foreground runs. */
export function installStderrSink(minLevel: LogLevel = "info"): void {
  sink = tslogSink((level, message, date) => {
    process.stderr.write(`${date.toISOString()} ${level.padEnd(7)} ${message}\n`);
  }, minLevel);
  throughTslog = true;
}

/** Put tslog in front of the installed transport (syslog); call once the greeting is out. */
export function routeThroughTslog(): void {
  if (throughTslog) return;
  const transport = sink;
  sink = tslogSink((level, message) => transport(level, message), "debug");
  throughTslog = true;
}
