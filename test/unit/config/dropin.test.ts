/** An unchanged Cyrus imapd.conf: the default store, which Cyrus we imitate, umask. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../../src/config/index.ts";
import { compatFor, cyrusCompat } from "../../../src/config/cyrus-compat.ts";
import { detectInstalledCyrus, parseCyrusVersion, seriesOf } from "../../../src/config/cyrus-version.ts";
import { startupFacts, umaskFromConfig } from "../../../src/config/startup.ts";
import { ConfigFixture, configError } from "./fixture.ts";

let fx: ConfigFixture;
beforeEach(() => {
  fx = new ConfigFixture();
});
afterEach(() => fx.cleanup());

const v = (text: string) => parseCyrusVersion(text)!;

describe("pop3_mailstore default", () => {
  test("a partition-* key or defaultpartition makes it cyrus", () => {
    expect(fx.load("partition-default: /var/spool/cyrus/mail\n").enumValue("pop3_mailstore")).toBe("cyrus");
    expect(fx.load("defaultpartition: default\n").enumValue("pop3_mailstore")).toBe("cyrus");
  });

  test("an existing mailboxes.db under configdirectory makes it cyrus", () => {
    const conf = fx.write("conf/mailboxes.db", "");
    const path = fx.write("imapd.conf", `configdirectory: ${join(fx.dir, "conf")}\n`);
    expect(conf).toEndWith("mailboxes.db");
    expect(loadConfig(path, "pop3", {}).enumValue("pop3_mailstore")).toBe("cyrus");
  });

  test("no Cyrus installation: maildir; an explicit key always wins", () => {
    expect(fx.load("").enumValue("pop3_mailstore")).toBe("maildir");
    expect(fx.load("partition-default: /x\npop3_mailstore: maildir\n").enumValue("pop3_mailstore")).toBe("maildir");
  });

  test("the start-up line says which store and why", () => {
    const cfg = fx.load("partition-default: /x\n");
    const note = startupFacts(cfg, compatFor(v("3.6.1"), "test")).notes[0];
    expect(note).toBe("behaving as Cyrus 3.6.1 (test); mail store cyrus (default: imapd.conf describes a Cyrus installation: partition-default)");
    const explicit = startupFacts(fx.load("pop3_mailstore: mbox\n"), compatFor(v("3.12.1"), "test")).notes[0];
    expect(explicit).toMatch(/mail store mbox \(pop3_mailstore at .*imapd\.conf:2\)$/);
  });
});

describe("which Cyrus we imitate", () => {
  test("STLS needs allowstarttls only from 3.8.6, 3.10.2 and 3.12.1", () => {
    const needs = (t: string) => compatFor(v(t), "").starttlsNeedsAllowStarttls;
    expect([needs("3.6.1"), needs("3.8.5"), needs("3.8.6"), needs("3.10.1"), needs("3.10.2"), needs("3.12.0"), needs("3.12.1"), needs("3.14.0")])
      .toEqual([false, false, true, false, true, false, true, true]);
  });

  test("login limits count every service and -k is valid before 3.12", () => {
    expect(compatFor(v("3.10.2"), "").loginLimitsCountEveryService).toBe(true);
    expect(compatFor(v("3.12.0"), "").loginLimitsCountEveryService).toBe(false);
    expect(compatFor(v("3.6.1"), "").acceptsKpopOption).toBe(true);
    expect(compatFor(v("3.12.1"), "").acceptsKpopOption).toBe(false);
  });

  test("series of a version", () => {
    expect([seriesOf(v("3.6.1")), seriesOf(v("3.7.0")), seriesOf(v("3.10.2")), seriesOf(v("3.14.1"))]).toEqual(["3.6", "3.6", "3.10", "3.12"]);
  });

  test("pop3_cyrus_compat forces a release; a bad value names the key", () => {
    const c = cyrusCompat(fx.load("pop3_cyrus_compat: 3.10\n"), () => undefined);
    expect(c.version).toEqual({ major: 3, minor: 10, patch: 0 });
    expect(c.reason).toBe("pop3_cyrus_compat: 3.10");
    expect(configError(() => cyrusCompat(fx.load("pop3_cyrus_compat: 2.4\n"), () => undefined)).message).toMatch(/pop3_cyrus_compat: "2.4" is not one of 3.6, 3.8, 3.10, 3.12/);
  });

  test("unset: the installed Cyrus, else the newest", () => {
    const installed = { version: v("3.6.1"), text: "3.6.1-4+deb12u5", source: "/x" };
    expect(cyrusCompat(fx.load(""), () => installed).series).toBe("3.6");
    expect(cyrusCompat(fx.load(""), () => undefined).series).toBe("3.12");
  });
});

describe("detecting the installed Cyrus", () => {
  test("Debian's hardwired config file", () => {
    fx.write("root/usr/lib/cyrus/cyrus-hardwired-config.txt", "PACKAGE_VERSION 3.6.1-4+deb12u5\nUSE_DIR_FULL 0\n");
    const found = detectInstalledCyrus({ root: join(fx.dir, "root") });
    expect(found?.text).toBe("3.6.1-4+deb12u5");
    expect(found?.version).toEqual({ major: 3, minor: 6, patch: 1 });
  });

  test("dpkg status, installed packages only", () => {
    fx.write("root/var/lib/dpkg/status",
      "Package: cyrus-imapd\nStatus: deinstall ok config-files\nVersion: 3.2.6-2\n\nPackage: cyrus-common\nStatus: install ok installed\nVersion: 3.8.4-1\n\n");
    expect(detectInstalledCyrus({ root: join(fx.dir, "root") })?.text).toBe("3.8.4-1");
  });

  test("the library's version string, remembered in a cache file until the library changes", () => {
    const lib = fx.write("root/usr/lib/libcyrus_min.so.0", "");
    writeFileSync(lib, Buffer.concat([Buffer.alloc(3 << 20, 7), Buffer.from("cyrus-imapd 3.10.2-custom\0more")]));
    const cacheFile = join(fx.dir, "conf/pop3d/cyrus-version");
    mkdirSync(join(fx.dir, "conf"), { recursive: true });
    const first = detectInstalledCyrus({ root: join(fx.dir, "root"), cacheFile });
    expect(first?.text).toBe("3.10.2-custom");
    expect(readFileSync(cacheFile, "latin1")).toEndWith("\n3.10.2-custom\n");
    // a different key (another root) is looked up again, and finds the cached answer
    const second = detectInstalledCyrus({ root: join(fx.dir, "root"), cacheFile, execPath: "/nowhere/pop3d" });
    expect(second?.source).toContain("cached in");
  });

  test("nothing found", () => {
    expect(detectInstalledCyrus({ root: join(fx.dir, "empty") })).toBeUndefined();
  });
});

describe("umask", () => {
  test("default 077, octal values, a bad value names the key", () => {
    expect(umaskFromConfig(fx.load(""))).toBe(0o77);
    expect(umaskFromConfig(fx.load("umask: 027\n"))).toBe(0o27);
    expect(configError(() => umaskFromConfig(fx.load("umask: 9x\n"))).message).toMatch(/umask: "9x" is not an octal number/);
  });
});

describe("start-up warnings", () => {
  test("options we ignore and keys nobody reads are named with file and line", () => {
    const cfg = fx.load("lmtpsocket: /run/lmtp\npopmminpoll: 5\nprometheus_enabled: yes\n");
    const facts = startupFacts(cfg, compatFor(v("3.12.1"), "test"), (key) => key === "lmtpsocket");
    expect(facts.warnings).toEqual([
      expect.stringMatching(/imapd\.conf:4: prometheus_enabled: accepted but ignored by pop3d \(see pop3d --help-config\)$/),
      expect.stringMatching(/imapd\.conf:3: popmminpoll: unknown option, neither pop3d nor Cyrus reads it \(a typo\?\)$/),
    ]);
  });
});
