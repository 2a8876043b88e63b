/**
 * Defaults a package build may change without touching the source: `bun build --define
 * POP3D_SYSLOG_FACILITY='"LOCAL6"'` (the Makefile's SYSLOG_FACILITY variable). Cyrus fixes its
 * facility the same way, at configure time (--with-syslogfacility); Debian's packages build it
 * with MAIL, so that is ours too. `syslog_facility` in imapd.conf still wins.
 */
declare const POP3D_SYSLOG_FACILITY: string | undefined;

export const BUILD_SYSLOG_FACILITY: string =
  typeof POP3D_SYSLOG_FACILITY === "string" && POP3D_SYSLOG_FACILITY !== "" ? POP3D_SYSLOG_FACILITY : "MAIL";
