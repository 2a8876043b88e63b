import { describe, expect, test } from "bun:test";
import { facilityCode, formatSyslogLine, syslogIdent } from "../../../src/log/syslog.ts";
import { ctime } from "../../../src/log/telemetry.ts";
import { nextLastLogin } from "../../../src/store/login-delay.ts";

describe("syslog lines (docs/troubleshooting.md)", () => {
  test("RFC 3164 shape with PRI = facility * 8 + severity", () => {
    const when = new Date(Date.UTC(2026, 10, 9, 4, 5, 6));
    expect(formatSyslogLine(22, "notice", "pop3", 42, "graceful shutdown", when)).toBe("<181>Nov  9 04:05:06 pop3[42]: graceful shutdown");
    expect(formatSyslogLine(2, "err", "x/pop3s", 7, "m", when)).toBe("<19>Nov  9 04:05:06 x/pop3s[7]: m");
  });

  test("facility names, the build's default (MAIL, like Debian's Cyrus) when unset and for unknown names", () => {
    expect(facilityCode(undefined)).toBe(2);
    expect(facilityCode("MAIL")).toBe(2);
    expect(facilityCode("local0")).toBe(16);
    expect(facilityCode("LOG_AUTH")).toBe(4);
    expect(facilityCode("nonsense")).toBe(2);
    expect(facilityCode("LOCAL6")).toBe(22);
  });

  test("ident is <service> or <syslog_prefix>/<service>", () => {
    expect(syslogIdent("pop3", undefined)).toBe("pop3");
    expect(syslogIdent("pop3s", "cyrus")).toBe("cyrus/pop3s");
  });
});

describe("telemetry header", () => {
  test("ctime() format with its trailing newline", () => {
    expect(ctime(new Date(2026, 10, 9, 4, 5, 6))).toBe("Mon Nov  9 04:05:06 2026\n");
  });
});

describe("login delay padding (pop3d.c:openinbox)", () => {
  test("without padding the last login is the login time", () => {
    expect(nextLastLogin(100, 1000, 60, 1)).toBe(1000);
  });
  test("with padding a burst is allowed and refills one login per popminpoll", () => {
    // long idle: last is far in the past, so it restarts from loginTime - minpoll*padding + minpoll
    expect(nextLastLogin(0, 10_000, 60, 3)).toBe(10_000 - 180 + 60);
    // within the window: each login moves last by one popminpoll
    expect(nextLastLogin(9_900, 10_000, 60, 3)).toBe(9_960);
  });
});
