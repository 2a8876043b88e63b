import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { loadConfig } from "../../../src/config/index.ts";
import { ConfigFixture, configError } from "./fixture.ts";

let fx: ConfigFixture;
beforeEach(() => {
  fx = new ConfigFixture();
});
afterEach(() => fx.cleanup());

describe("lines, comments and continuations (lib/libconfig.c:config_read_file)", () => {
  test("leading whitespace, blank lines and # comment lines are ignored", () => {
    const cfg = fx.load("\n   \n# a comment\n   # indented comment\n\t  servername: mail.example.org\n");
    expect(cfg.str("servername")).toBe("mail.example.org");
  });

  test("# inside a value is part of the value", () => {
    const cfg = fx.load("admins: alice # bob\nsyslog_prefix: x#y\n");
    expect(cfg.str("admins")).toBe("alice # bob");
    expect(cfg.str("syslog_prefix")).toBe("x#y");
  });

  test("a trailing backslash joins the next line verbatim", () => {
    const cfg = fx.load("admins: alice \\\n  bob \\\ncarol\n");
    expect(cfg.str("admins")).toBe("alice   bob carol");
  });

  test("a continued comment swallows the next line", () => {
    const cfg = fx.load("# comment \\\nadmins: hidden\nloginrealms: seen\n");
    expect(cfg.str("admins")).toBe("");
    expect(cfg.str("loginrealms")).toBe("seen");
  });

  test("values are trimmed and keys lowercased", () => {
    const cfg = fx.load("ServerName:    mail.example.org   \t\nAllowPlainText: yes\n");
    expect(cfg.str("servername")).toBe("mail.example.org");
    expect(cfg.bool("allowplaintext")).toBe(true);
  });

  test("CRLF line ends are accepted", () => {
    const path = fx.write("crlf.conf", "configdirectory: /var/imap\r\nadmins: root\r\n");
    expect(loadConfig(path, "pop3", {}).str("admins")).toBe("root");
  });

  test("a file that ends inside a continuation keeps what it has", () => {
    const cfg = fx.load("admins: alice \\");
    expect(cfg.str("admins")).toBe("alice");
  });
});

describe("keys", () => {
  test("a space before the colon is an invalid option name, with file and line", () => {
    const path = fx.conf("admins : root\n");
    const err = configError(() => loadConfig(path, "pop3", {}));
    expect(err.message).toStartWith(`${path}:2: invalid option name on line 2`);
    expect(err.file).toBe(path);
    expect(err.line).toBe(2);
  });

  test("a missing colon is an invalid option name", () => {
    const err = configError(() => fx.load("\nallowplaintext yes\n"));
    expect(err.message).toContain(":3: invalid option name");
  });

  test("characters outside [A-Za-z0-9_-] are invalid", () => {
    expect(configError(() => fx.load("tls.cert: x\n")).message).toContain("invalid option name");
    expect(configError(() => fx.load(": x\n")).message).toContain("invalid option name");
  });

  test("a continued line reports the line it starts on", () => {
    const err = configError(() => fx.load("admins: a \\\nb\nbad key: x\n"));
    expect(err.line).toBe(4);
  });

  test("unknown @directives are fatal", () => {
    const err = configError(() => fx.load("@frobnicate: x\n"));
    expect(err.message).toContain(":2: invalid directive @frobnicate");
  });
});

describe("values", () => {
  test("an empty value is fatal and names file, line and key", () => {
    const path = fx.conf("admins:   \t\n");
    const err = configError(() => loadConfig(path, "pop3", {}));
    expect(err.message).toBe(`${path}:2: admins: empty option value`);
    expect(err.key).toBe("admins");
  });

  test("an empty unknown key is fatal too", () => {
    expect(configError(() => fx.load("partition-default:\n")).message).toContain("partition-default: empty option value");
  });
});

describe("@include", () => {
  test("reads another file in place, recursively", () => {
    const deeper = fx.write("deeper.conf", "loginrealms: example.org\n");
    const inner = fx.write("inner.conf", `admins: root\n@include: ${deeper}\n`);
    const cfg = fx.load(`@include: ${inner}\nservername: outer\n`);
    expect(cfg.str("admins")).toBe("root");
    expect(cfg.str("loginrealms")).toBe("example.org");
    expect(cfg.str("servername")).toBe("outer");
  });

  test("errors inside an included file name that file and its line", () => {
    const inner = fx.write("inner.conf", "\n\npoptimeout: 10x\n");
    const err = configError(() => fx.load(`@include: ${inner}\n`));
    expect(err.message).toBe(`${inner}:3: poptimeout: invalid duration "10x" (bad unit 'x')`);
  });

  test("including the same file twice is fatal", () => {
    const inner = fx.write("inner.conf", "admins: root\n");
    const path = fx.conf(`@include: ${inner}\n@include: ${inner}\n`);
    const err = configError(() => loadConfig(path, "pop3", {}));
    expect(err.message).toBe(`${path}:3: configuration file ${inner} included twice`);
  });

  test("an include loop through the main file is fatal", () => {
    const main = fx.dir + "/imapd.conf";
    fx.write("loop.conf", `@include: ${main}\n`);
    fx.conf(`@include: ${fx.dir}/loop.conf\n`);
    expect(configError(() => loadConfig(main, "pop3", {})).message).toContain(`${main} included twice`);
  });

  test("a missing include names the including line", () => {
    const path = fx.conf("@include: /nonexistent/pop3d-test.conf\n");
    const err = configError(() => loadConfig(path, "pop3", {}));
    expect(err.message).toBe(`${path}:2: cannot open configuration file /nonexistent/pop3d-test.conf: ENOENT`);
  });
});

describe("opening files and CYRUS_PREFIX", () => {
  test("a missing main file is a ConfigError", () => {
    const err = configError(() => loadConfig("/nonexistent/imapd.conf", "pop3", {}));
    expect(err.message).toBe("cannot open configuration file /nonexistent/imapd.conf: ENOENT");
  });

  test("the prefixed path is tried first, for the main file and includes", () => {
    fx.write("prefix/etc/imapd.conf", "configdirectory: /prefixed\n@include: /etc/extra.conf\n");
    fx.write("prefix/etc/extra.conf", "admins: from-prefix\n");
    const cfg = loadConfig("/etc/imapd.conf", "pop3", { CYRUS_PREFIX: `${fx.dir}/prefix` });
    expect(cfg.str("configdirectory")).toBe("/prefixed");
    expect(cfg.str("admins")).toBe("from-prefix");
    expect(cfg.file).toBe(`${fx.dir}/prefix/etc/imapd.conf`);
  });

  test("without a prefixed copy the plain path is used", () => {
    const path = fx.conf("admins: plain\n");
    const cfg = loadConfig(path, "pop3", { CYRUS_PREFIX: `${fx.dir}/nothing-here` });
    expect(cfg.str("admins")).toBe("plain");
  });
});
