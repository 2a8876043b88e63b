import { afterAll, describe, expect, test } from "bun:test";
import { describeOptions } from "../../../src/config/describe.ts";
import { DEPRECATED_OPTIONS, OPTIONS, OPTION_GROUPS, type OptionSpec } from "../../../src/config/options.ts";
import { parseDuration, parseEnum, parseStringList } from "../../../src/config/values.ts";
import { ConfigFixture } from "./fixture.ts";

const entries = Object.entries(OPTIONS) as [string, OptionSpec][];

describe("the option table", () => {
  test.each(entries)("%s has a valid default and a doc line", (_name, spec) => {
    expect(spec.doc.length).toBeGreaterThan(10);
    expect(spec.doc).not.toContain("\n");
    switch (spec.type) {
      case "duration":
        expect(parseDuration(spec.default, spec.unit).ok).toBe(true);
        break;
      case "enum":
        expect(parseEnum(spec.default, spec.values)).toEqual({ ok: true, value: spec.default });
        break;
      case "stringlist":
        expect(parseStringList(spec.default, spec.values).ok).toBe(true);
        break;
      case "switch":
        expect(typeof spec.default).toBe("boolean");
        break;
      case "int":
        expect(Number.isInteger(spec.default)).toBe(true);
        break;
      case "string":
        expect(spec.default === undefined || typeof spec.default === "string").toBe(true);
    }
  });

  test("names are lowercase imapd.conf keys", () => {
    for (const [name] of entries) expect(name).toMatch(/^[a-z0-9_-]+$/);
  });

  test("groups and the flat table hold the same options", () => {
    const grouped = Object.values(OPTION_GROUPS).flatMap((g) => Object.keys(g));
    expect(grouped.sort()).toEqual(Object.keys(OPTIONS).sort());
  });

  test("deprecated names point at table options and are not table options themselves", () => {
    for (const [oldName, newName] of Object.entries(DEPRECATED_OPTIONS)) {
      expect(Object.hasOwn(OPTIONS, newName)).toBe(true);
      expect(Object.hasOwn(OPTIONS, oldName)).toBe(false);
    }
  });

  test("the options pop3d reads are all present (imapd.conf(5), imap/tls.c:tls_init_serverengine, docs/troubleshooting.md)", () => {
    const required = [
      "popminpoll", "poppollpadding", "poptimeout", "popexpiretime", "popuseacl", "popuseimapflags",
      "popsubfolders", "uidl_format", "allowapop", "allowplaintext", "allowanonymouslogin", "tls_required",
      "failedloginpause", "plaintextloginpause", "sasl_minimum_layer", "sasl_maximum_layer", "admins",
      "proxyservers", "loginrealms", "virtdomains", "defaultdomain", "username_tolower", "unixhierarchysep",
      "auth_mech", "userdeny_db", "allowstarttls", "servername", "serverinfo", "syslog_prefix",
      "syslog_facility", "maxlogins_per_host", "maxlogins_per_user", "readonly", "statuscache",
      "disconnect_on_vanished_mailbox", "chatty", "telemetry_bysessionid", "debug_command", "tcp_keepalive",
      "tcp_keepalive_cnt", "tcp_keepalive_idle", "tcp_keepalive_intvl", "fatals_abort", "auditlog", "iolog",
      "configdirectory", "proc_path", "defaultpartition", "sasl_pwcheck_method", "sasl_auxprop_plugin",
      "sasl_mech_list", "sasl_saslauthd_path", "sasl_sasldb_path", "tls_server_cert", "tls_server_key",
      "tls_server_ca_file", "tls_client_ca_file", "tls_client_ca_dir", "tls_client_certs", "tls_versions",
      "tls_ciphers", "tls_prefer_server_ciphers", "tls_eccurve", "tls_crl_file", "tls_session_timeout",
      "pop3_mailstore", "pop3_maildir_path", "pop3_mbox_path", "pop3_passwd_file", "pop3_listen",
    ];
    expect(required.filter((name) => !Object.hasOwn(OPTIONS, name))).toEqual([]);
  });

  test("units match Cyrus's default units", () => {
    expect(OPTIONS.poptimeout.unit).toBe("m");
    expect(OPTIONS.popminpoll.unit).toBe("m");
    expect(OPTIONS.popexpiretime.unit).toBe("d");
    expect(OPTIONS.failedloginpause.unit).toBe("s");
    expect(OPTIONS.plaintextloginpause.unit).toBe("s");
    expect(OPTIONS.tls_session_timeout.unit).toBe("m");
  });
});

describe("OptionName typing", () => {
  const fx = new ConfigFixture();
  afterAll(() => fx.cleanup());

  test("unknown option names do not compile", () => {
    const cfg = fx.load("");
    // @ts-expect-error: not an option in the table; the overflow table is read with raw()
    expect(() => cfg.str("partition-default")).toThrow("not in the option table");
    expect(cfg.bool("allowplaintext")).toBe(false);
  });
});

describe("describeOptions", () => {
  const text = describeOptions();

  test("lists every option with its type, default and doc", () => {
    for (const [name, spec] of entries) {
      expect(text).toContain(`  ${name}  (`);
      expect(text).toContain(spec.doc);
    }
  });

  test("renders types and defaults readably", () => {
    expect(text).toContain("  poptimeout  (duration, bare number in minutes; default: 10m)");
    expect(text).toContain("  uidl_format  (one of cyrus|uidonly|dovecot|courier; default: cyrus)");
    expect(text).toContain("  allowapop  (switch; default: 1)");
    expect(text).toContain("  admins  (string; default: \"\")");
    expect(text).toContain("  proxyservers  (string; default: unset)");
    expect(text).toContain("  servername  (string; default: the host name (gethostname))");
    expect(text).toContain("  tls_cert_file -> tls_server_cert");
  });
});
