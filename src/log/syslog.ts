/**
 * syslog transport: RFC 3164 lines over a unix datagram socket (/dev/log by default), the way
 * libc's syslog(3) writes them — `<PRI>Mmm dd hh:mm:ss ident[pid]: message`. Doing it ourselves
 * (instead of syslog(3)) lets the socket path be configured, which tests and chroots need.
 */
import { closeFd, connectUnixDatagram, sendDatagram } from "../sys/libc.ts";
import type { LogLevel, LogSink } from "./log.ts";
import { BUILD_SYSLOG_FACILITY } from "../config/build-defaults.ts";

const SEVERITY: Record<LogLevel, number> = { crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };

const FACILITIES: Record<string, number> = {
  KERN: 0, USER: 1, MAIL: 2, DAEMON: 3, AUTH: 4, SYSLOG: 5, LPR: 6, NEWS: 7, UUCP: 8, CRON: 9,
  AUTHPRIV: 10, FTP: 11, LOCAL0: 16, LOCAL1: 17, LOCAL2: 18, LOCAL3: 19, LOCAL4: 20, LOCAL5: 21,
  LOCAL6: 22, LOCAL7: 23,
};

/**
 * The facility Cyrus was built with (--with-syslogfacility; MAIL in Debian's packages, LOCAL6
 * upstream): used before imapd.conf is read and for a name syslog does not know, as Cyrus's
 * config_read does.
 */
const DEFAULT_FACILITY = BUILD_SYSLOG_FACILITY;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function facilityCode(name: string | undefined): number {
  const key = (name ?? DEFAULT_FACILITY).toUpperCase().replace(/^LOG_/, "");
  return FACILITIES[key] ?? FACILITIES[DEFAULT_FACILITY.toUpperCase()] ?? FACILITIES.MAIL!;
}

/**
 * The RFC 3164 stamp in UTC: Bun's first local-time Date call loads the time zone data, 14 ms of
 * CPU in every inetd-spawned process (measured with --cpu-prof), and syslog daemons stamp lines
 * from the local socket with their own receive time anyway (rsyslog's imuxsock, journald).
 */
function timestamp(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${MONTHS[now.getUTCMonth()]} ${String(now.getUTCDate()).padStart(2, " ")} ${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())}`;
}

export function formatSyslogLine(facility: number, level: LogLevel, ident: string, pid: number, message: string, now = new Date()): string {
  return `<${facility * 8 + SEVERITY[level]}>${timestamp(now)} ${ident}[${pid}]: ${message}`;
}

/** Where syslog(3) sends its lines; the default of `pop3_syslog_socket`. */
export const DEFAULT_SYSLOG_SOCKET = "/dev/log";

/**
 * Set in the environment: the socket for the lines logged before imapd.conf names
 * `pop3_syslog_socket` (a usage error, a missing CYRUS_ID, an unusable imapd.conf). Unset, they go
 * to /dev/log as Cyrus's do. For a chroot or container whose syslog socket lives elsewhere, and
 * for tests that must see those lines whoever owns /dev/log (docs/troubleshooting.md).
 */
export const SYSLOG_SOCKET_ENV = "POP3D_SYSLOG_SOCKET";

/** The socket for lines logged before the config is read. */
export function earlySyslogSocket(): string {
  return process.env[SYSLOG_SOCKET_ENV] || DEFAULT_SYSLOG_SOCKET;
}

export interface SyslogOptions {
  /** `<service>` or `<syslog_prefix>/<service>` (Cyrus's global.c:cyrus_init). */
  ident: string;
  facility: string | undefined;
  socketPath: string;
}

/**
 * A sink that sends each line as one datagram. If the socket is missing (no syslog daemon), lines
 * are dropped silently, like syslog(3); it reconnects on the next line after a failure.
 */
export function syslogSink(options: SyslogOptions): LogSink {
  const facility = facilityCode(options.facility);
  let fd = -1;
  const encoder = new TextEncoder();
  return (level, message) => {
    if (fd < 0) fd = connectUnixDatagram(options.socketPath);
    if (fd < 0) return;
    const line = encoder.encode(formatSyslogLine(facility, level, options.ident, process.pid, message));
    if (!sendDatagram(fd, line)) {
      closeFd(fd);
      fd = -1;
    }
  };
}

export function syslogIdent(service: string, prefix: string | undefined): string {
  return prefix ? `${prefix}/${service}` : service;
}
