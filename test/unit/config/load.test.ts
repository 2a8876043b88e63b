import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { loadConfig } from "../../../src/config/index.ts";
import type { OptionName } from "../../../src/config/options.ts";
import { ConfigFixture, configError } from "./fixture.ts";

let fx: ConfigFixture;
beforeEach(() => {
  fx = new ConfigFixture();
});
afterEach(() => fx.cleanup());

describe("service overrides (lib/libconfig.c:config_read_file)", () => {
  test("<service>_<option> wins when it comes after the generic line", () => {
    const cfg = fx.load("poptimeout: 20\npop3_poptimeout: 30\n");
    expect(cfg.seconds("poptimeout")).toBe(30 * 60);
  });

  test("<service>_<option> wins when it comes before the generic line", () => {
    const cfg = fx.load("pop3_poptimeout: 30\npoptimeout: 20\n");
    expect(cfg.seconds("poptimeout")).toBe(30 * 60);
  });

  test("another service's override is ignored and does not collide", () => {
    const cfg = fx.load("pop3s_allowplaintext: 1\nallowplaintext: 0\nimap_allowplaintext: 1\n");
    expect(cfg.bool("allowplaintext")).toBe(false);
    expect(fx.load("pop3s_allowplaintext: 1\n", "pop3s").bool("allowplaintext")).toBe(true);
  });

  test("the service name matches case-insensitively", () => {
    expect(fx.load("POP3_admins: root\n", "pop3").str("admins")).toBe("root");
    expect(fx.load("pop3_admins: root\n", "POP3").str("admins")).toBe("root");
  });

  test("a service name is a whole prefix: pop3 does not take pop3s_ lines", () => {
    expect(fx.load("pop3s_admins: root\n", "pop3").str("admins")).toBe("");
  });

  test("the same generic option twice is fatal, naming both places", () => {
    const path = fx.conf("admins: a\n\nadmins: b\n");
    const err = configError(() => loadConfig(path, "pop3", {}));
    expect(err.message).toBe(`${path}:4: admins: option specified twice (first at ${path}:2)`);
  });

  test("the same service override twice is fatal", () => {
    expect(configError(() => fx.load("pop3_admins: a\npop3_admins: b\n")).message).toContain(
      "pop3_admins: option specified twice",
    );
  });

  test("a bad generic value is reported even when an override hides it", () => {
    const err = configError(() => fx.load("pop3_poptimeout: 20\npoptimeout: soon\n"));
    expect(err.message).toContain(':3: poptimeout: invalid duration "soon"');
  });
});

describe("the overflow table (raw)", () => {
  test("unknown keys are kept verbatim, lowercased", () => {
    const cfg = fx.load("Partition-Default: /var/spool/imap\nsasl_saslauthd_path: /run/mux\nlmtp_downcase_rcpt: 1\n");
    expect(cfg.raw("partition-default")).toBe("/var/spool/imap");
    expect(cfg.raw("PARTITION-DEFAULT")).toBe("/var/spool/imap");
    expect(cfg.raw("lmtp_downcase_rcpt")).toBe("1");
    expect(cfg.raw("partition-other")).toBeUndefined();
  });

  test("raw tries <service>_<key> before <key>", () => {
    const cfg = fx.load("partition-default: /generic\npop3_partition-default: /for-pop3\nimap_partition-default: /imap\n");
    expect(cfg.raw("partition-default")).toBe("/for-pop3");
    const other = fx.load("partition-default: /generic\nimap_partition-default: /imap\n");
    expect(other.raw("partition-default")).toBe("/generic");
  });

  test("service-prefixed unknown keys stay under their full name", () => {
    const cfg = fx.load("pop3_sasl_foo: x\n");
    expect(cfg.raw("pop3_sasl_foo")).toBe("x");
    expect(cfg.raw("sasl_foo")).toBe("x");
  });

  test("an unknown key twice is fatal", () => {
    expect(configError(() => fx.load("partition-a: /a\npartition-a: /b\n")).message).toContain(
      ":3: partition-a: option specified twice",
    );
  });

  test("raw of a table option returns its text as written, after the service override", () => {
    const cfg = fx.load("sasl_pwcheck_method: saslauthd\npop3_sasl_pwcheck_method: passwd-file\nmaxlogins_per_host: 0x10\n");
    expect(cfg.raw("sasl_pwcheck_method")).toBe("passwd-file");
    expect(cfg.str("sasl_pwcheck_method")).toBe("passwd-file");
    expect(cfg.raw("maxlogins_per_host")).toBe("0x10");
    expect(cfg.int("maxlogins_per_host")).toBe(16);
    expect(cfg.raw("sasl_mech_list")).toBeUndefined();
  });

  test("{configdirectory} is not expanded in the overflow table", () => {
    expect(fx.load("partition-x: {configdirectory}/x\n").raw("partition-x")).toBe("{configdirectory}/x");
  });
});

describe("typed values at load", () => {
  test("switches", () => {
    const cfg = fx.load("allowapop: off\nallowplaintext: yes\nreadonly: t\n");
    expect(cfg.bool("allowapop")).toBe(false);
    expect(cfg.bool("allowplaintext")).toBe(true);
    expect(cfg.bool("readonly")).toBe(true);
  });

  test("a bad switch names file, line and key", () => {
    const path = fx.conf("allowplaintext: Yes\n");
    const err = configError(() => loadConfig(path, "pop3", {}));
    expect(err.message).toBe(
      `${path}:2: allowplaintext: invalid switch "Yes" (use 1/yes/true/on or 0/no/false/off)`,
    );
    expect([err.file, err.line, err.key]).toEqual([path, 2, "allowplaintext"]);
  });

  test("ints in decimal, hex and octal; junk is fatal", () => {
    const cfg = fx.load("maxlogins_per_host: 0x10\nmaxlogins_per_user: 010\nsasl_minimum_layer: 128\n");
    expect(cfg.int("maxlogins_per_host")).toBe(16);
    expect(cfg.int("maxlogins_per_user")).toBe(8);
    expect(cfg.int("sasl_minimum_layer")).toBe(128);
    expect(configError(() => fx.load("poppollpadding: 5 logins\n")).message).toContain(
      ':2: poppollpadding: invalid integer "5 logins"',
    );
  });

  test("enums with on/off synonyms", () => {
    expect(fx.load("virtdomains: yes\n").enumValue("virtdomains")).toBe("on");
    expect(fx.load("virtdomains: false\n").enumValue("virtdomains")).toBe("off");
    expect(fx.load("uidl_format: dovecot\n").enumValue("uidl_format")).toBe("dovecot");
    expect(configError(() => fx.load("uidl_format: 1\n")).message).toContain(
      'uidl_format: invalid value "1" (expected one of: cyrus, uidonly, dovecot, courier)',
    );
    expect(configError(() => fx.load("serverinfo: Off\n")).message).toContain('serverinfo: invalid value "Off"');
  });

  test("stringlists accept only their words", () => {
    expect(fx.load("auth_mech: pts\n").str("auth_mech")).toBe("pts");
    expect(configError(() => fx.load("auth_mech: ldap\n")).message).toContain('auth_mech: invalid value "ldap"');
  });

  test("durations: units, bare numbers in the option's unit, negatives", () => {
    const cfg = fx.load(
      "poptimeout: 1h30m\nfailedloginpause: 5\npopminpoll: 2\npopexpiretime: -1\ntls_session_timeout: 90\n",
    );
    expect(cfg.seconds("poptimeout")).toBe(5400);
    expect(cfg.seconds("failedloginpause")).toBe(5);
    expect(cfg.seconds("popminpoll")).toBe(120);
    expect(cfg.seconds("popexpiretime")).toBe(-86400);
    expect(cfg.seconds("tls_session_timeout")).toBe(90 * 60);
  });

  test("a bad duration gives the documented message", () => {
    const path = fx.conf("\n\n\n\n\n\n\n\n\n\npoptimeout: 10x\n");
    expect(configError(() => loadConfig(path, "pop3", {})).message).toBe(
      `${path}:12: poptimeout: invalid duration "10x" (bad unit 'x')`,
    );
  });

  test("a bad value in a service override names the key as written", () => {
    expect(configError(() => fx.load("pop3_readonly: perhaps\n")).key).toBe("pop3_readonly");
  });

  test("{configdirectory} at the start of a string option is expanded", () => {
    const cfg = fx.load("tls_server_cert: {configdirectory}/tls/cert.pem\ntls_server_key: /x/{configdirectory}\n");
    expect(cfg.str("tls_server_cert")).toBe("/var/lib/imap/tls/cert.pem");
    expect(cfg.str("tls_server_key")).toBe("/x/{configdirectory}");
  });

  test("{configdirectory} works even when configdirectory comes later", () => {
    const path = fx.write("late.conf", "pop3_passwd_file: {configdirectory}/passwd\nconfigdirectory: /srv/imap\n");
    expect(loadConfig(path, "pop3", {}).str("pop3_passwd_file")).toBe("/srv/imap/passwd");
  });

  test("reading an option with the wrong accessor is a programming error", () => {
    const cfg = fx.load("");
    expect(() => cfg.int("allowapop")).toThrow("allowapop is of type switch");
    expect(() => cfg.bool("poptimeout" as OptionName)).toThrow(TypeError);
  });
});

describe("defaults", () => {
  test("unset options take the table's defaults", () => {
    const cfg = fx.load("");
    expect(cfg.bool("allowapop")).toBe(true);
    expect(cfg.bool("allowplaintext")).toBe(false);
    expect(cfg.int("poppollpadding")).toBe(1);
    expect(cfg.int("sasl_maximum_layer")).toBe(256);
    expect(cfg.seconds("poptimeout")).toBe(600);
    expect(cfg.seconds("failedloginpause")).toBe(3);
    expect(cfg.seconds("popexpiretime")).toBe(-86400);
    expect(cfg.seconds("tls_session_timeout")).toBe(86400);
    expect(cfg.enumValue("uidl_format")).toBe("cyrus");
    expect(cfg.enumValue("pop3_mailstore")).toBe("maildir");
    expect(cfg.enumValue("tls_client_certs")).toBe("optional");
    expect(cfg.str("defaultdomain")).toBe("internal");
    expect(cfg.str("tls_versions")).toBe("tls1_2 tls1_3");
    expect(cfg.str("syslog_facility")).toBe("MAIL");
    expect(cfg.str("proxyservers")).toBeUndefined();
    expect(cfg.str("pop3_passwd_file")).toBeUndefined();
  });

  test("defaults with {configdirectory} are expanded", () => {
    const cfg = fx.load("");
    expect(cfg.str("proc_path")).toBe("/var/lib/imap/proc");
    expect(cfg.str("tls_sessions_db_path")).toBe("/var/lib/imap/tls_sessions.db");
  });

  test("servername defaults to the host name", () => {
    expect(fx.load("").str("servername")).toBe(hostname());
    expect(fx.load("servername: pop.example.org\n").str("servername")).toBe("pop.example.org");
  });

  test("service and file are reported", () => {
    const path = fx.conf("");
    const cfg = loadConfig(path, "pop3s", {});
    expect(cfg.service).toBe("pop3s");
    expect(cfg.file).toBe(path);
    expect(cfg.origin("configdirectory")).toBe(`${path}:1`);
    expect(cfg.origin("admins")).toBeUndefined();
  });
});

describe("configdirectory and other checked paths", () => {
  test("missing configdirectory is fatal", () => {
    const path = fx.write("none.conf", "admins: root\n");
    const err = configError(() => loadConfig(path, "pop3", {}));
    expect(err.message).toBe(`${path}: configdirectory option not specified in configuration file`);
  });

  test("configdirectory must be absolute", () => {
    const path = fx.write("rel.conf", "\nconfigdirectory: var/imap\n");
    expect(configError(() => loadConfig(path, "pop3", {})).message).toBe(
      `${path}:2: configdirectory: must be an absolute path, not "var/imap"`,
    );
  });

  test("configdirectory must not be /", () => {
    const path = fx.write("root.conf", "configdirectory: /\n");
    expect(configError(() => loadConfig(path, "pop3", {})).message).toBe(
      `${path}:1: configdirectory: must not be '/'`,
    );
  });

  test("configdirectory may come from an include or a service override", () => {
    const inc = fx.write("inc.conf", "configdirectory: /from/include\n");
    const path = fx.write("main.conf", `@include: ${inc}\npop3_configdirectory: /for/pop3\n`);
    expect(loadConfig(path, "pop3", {}).str("configdirectory")).toBe("/for/pop3");
    expect(loadConfig(path, "imap", {}).str("configdirectory")).toBe("/from/include");
  });

  test("partition data is not required", () => {
    expect(fx.load("").raw("partition-default")).toBeUndefined();
  });

  test("defaultpartition must be alphanumeric and is lowercased", () => {
    expect(fx.load("defaultpartition: Default\n").str("defaultpartition")).toBe("default");
    expect(configError(() => fx.load("defaultpartition: my-part\n")).message).toContain(
      "defaultpartition: contains a non-alphanumeric character",
    );
  });

  test("proc_path must be absolute", () => {
    expect(configError(() => fx.load("proc_path: proc\n")).message).toContain("proc_path: must be an absolute path");
    expect(fx.load("proc_path: {configdirectory}/p\n").str("proc_path")).toBe("/var/lib/imap/p");
  });
});

describe("deprecated option names", () => {
  test("an old name sets the new option and leaves a warning", () => {
    const path = fx.conf("tls_cert_file: /etc/ssl/old.pem\n");
    const cfg = loadConfig(path, "pop3", {});
    expect(cfg.str("tls_server_cert")).toBe("/etc/ssl/old.pem");
    expect(cfg.raw("tls_cert_file")).toBe("/etc/ssl/old.pem");
    expect(cfg.warnings).toEqual([`${path}:2: option 'tls_cert_file' is deprecated in favor of 'tls_server_cert'`]);
  });

  test("the new name wins over the old one", () => {
    const cfg = fx.load("tls_server_cert: /new.pem\ntls_cert_file: /old.pem\n");
    expect(cfg.str("tls_server_cert")).toBe("/new.pem");
    expect(cfg.warnings).toHaveLength(1);
  });

  test("old names take service prefixes too", () => {
    expect(fx.load("pop3_tls_key_file: /k.pem\n").str("tls_server_key")).toBe("/k.pem");
  });

  test("a clean config has no warnings", () => {
    expect(fx.load("admins: root\n").warnings).toEqual([]);
  });
});
