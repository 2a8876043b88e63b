/**
 * `pop3d --check-config [-C file] [--service name] [--user name]`: reads imapd.conf the way a real
 * start does (the same loader, service overrides and validation), then, as the user the server
 * would serve as, loads the TLS settings, builds the mail store and password backends and opens
 * every file the config names. Prints each problem with file, line and key, and warnings for keys
 * pop3d does not read. Exit 0 with no errors, 78 (EX_CONFIG, what a real start would exit) else.
 */
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError, LoadedConfig } from "../config/index.ts";
import { buildConfig } from "../config/loaded-config.ts";
import { readConfigText, type ConfigText, type Environment } from "../config/reader.ts";
import { startupFacts, umaskFromConfig } from "../config/startup.ts";
import { logFromSink, type Log } from "../log/log.ts";
import { becomeServiceUser } from "../server/process-setup.ts";
import { buildServices } from "../server/services.ts";
import { loadTlsSettings, starttlsOffered, starttlsWarning, type TlsSettings } from "../server/tls.ts";
import { cyrusCompat } from "../config/cyrus-compat.ts";
import { checkFiles, checkUserMaildrop, where } from "./files.ts";
import { Findings } from "./findings.ts";
import { checkKeys } from "./keys.ts";

export const EX_OK = 0;
export const EX_CONFIG = 78;

export interface CheckConfigOptions {
  configFile: string;
  /** The cyrus.conf service name whose `<service>_<option>` keys apply. */
  service: string;
  /** A user whose maildrop location is checked too. */
  user?: string;
  env?: Environment;
  /** Where the report goes, one line at a time. */
  print: (line: string) => void;
}

/** A log whose warnings and errors become findings: what the server would log at start-up. */
function findingsLog(findings: Findings, prefix: string): Log {
  return logFromSink((level, message) => {
    if (level === "warning") findings.warning(`${prefix}${message}`);
    else if (level === "err" || level === "crit") findings.error(`${prefix}${message}`);
  });
}

/**
 * The loader stops at the first bad line. To report every one, drop the offending line and load
 * again, until the rest loads or an error has no line to drop (a missing configdirectory).
 */
function loadReportingEveryLine(text: ConfigText, service: string, findings: Findings): LoadedConfig | undefined {
  let entries = text.entries;
  for (;;) {
    try {
      return buildConfig({ file: text.file, entries }, service, text.file);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      findings.error(error.message);
      const remaining = entries.filter((e) => !(e.file === error.file && e.line === error.line));
      if (error.line === undefined || remaining.length === entries.length) return undefined;
      entries = remaining;
    }
  }
}

/** The name of the effective uid, from /etc/passwd (the process may just have changed it). */
function currentAccount(): string {
  const uid = process.geteuid?.() ?? -1;
  try {
    const entry = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((line) => line.split(":"))
      .find((fields) => fields[2] === String(uid));
    if (entry?.[0]) return entry[0];
  } catch {
    // no passwd file: the uid will do
  }
  return `uid ${uid}`;
}

export function checkConfig(options: CheckConfigOptions): number {
  const findings = new Findings();
  const finish = (): number => {
    for (const line of findings.lines()) options.print(line);
    options.print(`${findings.errors} error(s), ${findings.warnings} warning(s)`);
    return findings.errors > 0 ? EX_CONFIG : EX_OK;
  };
  options.print(`checking ${options.configFile} for service ${options.service}`);

  let text: ConfigText;
  try {
    text = readConfigText(options.configFile, options.env ?? process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    findings.error(error.message);
    return finish();
  }
  const cfg = loadReportingEveryLine(text, options.service, findings);
  checkKeys(text.entries, options.service, cfg?.enumValue("pop3_mailstore"), findings);
  if (!cfg) return finish();
  for (const warning of cfg.warnings) findings.warning(warning);
  // what a start would settle and log first: the umask, which Cyrus release we imitate, the store
  try {
    umaskFromConfig(cfg);
    for (const note of startupFacts(cfg).notes) options.print(`info: ${note}`);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    findings.error(error.message);
  }

  // from here on, as the account the server serves as (Cyrus will not serve as root)
  const runAs = cfg.str("pop3_run_as")!;
  if (!becomeServiceUser(runAs, findingsLog(findings, `${where(cfg, "pop3_run_as")}: `))) {
    findings.error(`${where(cfg, "pop3_run_as")}: cannot become user ${runAs}; the files below are checked as root`);
  }
  const account = currentAccount();
  options.print(`checking files as user ${account}`);

  let tls: TlsSettings | undefined;
  try {
    tls = loadTlsSettings(cfg, findingsLog(findings, `${cfg.file}: `));
    if (tls) {
      // the key must match the certificate: what the TLS library says at the first handshake
      const { cert, key, ca, crl } = tls.options as Record<string, string | string[] | undefined>;
      try {
        createSecureContext({ cert, key, ca, crl });
      } catch (error) {
        tls = undefined;
        throw new Error(`tls_server_cert: ${(error as Error).message} (with tls_server_key)`);
      }
    }
  } catch (error) {
    // standalone and systemd starts stop here; under master and inetd TLS is off and plain POP3 serves
    const message = (error as Error).message;
    const key = /^(tls_[a-z_]+):/.exec(message)?.[1];
    findings.error(key ? `${where(cfg, key)}: ${message.slice(key.length + 2)} (as user ${account})` : `${where(cfg, "tls_server_cert")}: ${message}`);
  }
  // STLS as the imitated Cyrus release offers it, and the start-up warning when it is not offered
  let starttls = false;
  try {
    starttls = starttlsOffered(cfg, tls, cyrusCompat(cfg).starttlsNeedsAllowStarttls);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  const noStls = starttlsWarning(cfg, starttls);
  if (noStls && tls) findings.warning(`${where(cfg, "allowstarttls")}: ${noStls}`);

  try {
    buildServices(cfg, { externalSsf: 0, starttlsAvailable: starttls }, findingsLog(findings, `${cfg.file}: `));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    findings.error(error.message);
  }
  checkFiles(cfg, account, findings);
  if (options.user) checkUserMaildrop(cfg, options.user, account, findings);
  return finish();
}
