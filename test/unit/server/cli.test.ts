import { describe, expect, test } from "bun:test";
import { parseCommandLine, UsageError } from "../../../src/cli.ts";

describe("parseCommandLine (Cyrus getopt rules, master/service.c:main)", () => {
  test("the Cyrus synopsis", () => {
    const o = parseCommandLine(["-C", "/etc/x.conf", "-U", "30", "-T", "0", "-D", "-H", "-s", "-p", "2"]);
    expect(o).toMatchObject({ configFile: "/etc/x.conf", maxUses: 30, reuseTimeout: 0, debugCommand: true, haproxy: true, implicitTls: true, externalSsf: 2 });
  });

  test("defaults: 250 uses, 60 s reuse timeout", () => {
    expect(parseCommandLine([])).toMatchObject({ maxUses: 250, reuseTimeout: 60, externalSsf: 0, stdio: false });
  });

  test("option and value glued together is refused", () => {
    expect(() => parseCommandLine(["-U30"])).toThrow("options and arguments MUST be separated by whitespace");
    expect(() => parseCommandLine(["-sH"])).toThrow(UsageError);
  });

  test("unknown options and missing values are usage errors", () => {
    expect(() => parseCommandLine(["-q"])).toThrow(UsageError);
    expect(() => parseCommandLine(["-C"])).toThrow(UsageError);
    expect(() => parseCommandLine(["--bogus"])).toThrow(UsageError);
  });

  test("-k (Cyrus up to 3.10's KPOP switch) is accepted, to be ignored with a warning", () => {
    expect(parseCommandLine(["-k"]).kerberosPop).toBe(true);
  });

  test("-p goes through atoi into an unsigned value; negative -U becomes 0", () => {
    expect(parseCommandLine(["-p", "-1"]).externalSsf).toBe(4294967295);
    expect(parseCommandLine(["-p", "x"]).externalSsf).toBe(0);
    expect(parseCommandLine(["-p", "3x"]).externalSsf).toBe(3);
    expect(parseCommandLine(["-U", "-5"]).maxUses).toBe(0);
  });

  test("long options, repeatable, with = or a separate word", () => {
    const o = parseCommandLine(["--listen", "127.0.0.1:110", "--listen=1110", "--listen-tls", "[::1]:995", "--listen-proxy", "2110"]);
    expect(o.listen).toEqual(["127.0.0.1:110", "1110"]);
    expect(o.listenTls).toEqual(["[::1]:995"]);
    expect(o.listenProxy).toEqual(["2110"]);
  });
});
