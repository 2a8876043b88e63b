/**
 * The files and directories an imapd.conf names, opened the way the server will use them, by the
 * user `--check-config` runs as by then (pop3_run_as when started as root).
 */
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import type { LoadedConfig, OptionName } from "../config/index.ts";
import { expandPathTemplate } from "../store/fs/path-template.ts";
import { resolveMaildirPath } from "../store/maildir/maildir-path.ts";
import type { Findings } from "./findings.ts";

/** "code" of a failed fs call (ENOENT, EACCES…), or its message. */
export function reason(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** `file:line: key` of an option where it is set, `file: key` where it is the default. */
export function where(cfg: LoadedConfig, key: OptionName | string): string {
  const origin = cfg.origin(key as OptionName);
  return `${origin ?? cfg.file}: ${key}`;
}

function statOf(path: string): Stats | string {
  try {
    return statSync(path);
  } catch (error) {
    return reason(error);
  }
}

export function checkReadableFile(path: string): string | undefined {
  try {
    closeSync(openSync(path, "r"));
    return statSync(path).isFile() ? undefined : "not a regular file";
  } catch (error) {
    return reason(error);
  }
}

/** A directory we can list and, with `write`, create files in. */
export function checkDirectory(path: string, write: boolean): string | undefined {
  const st = statOf(path);
  if (typeof st === "string") return st;
  if (!st.isDirectory()) return "not a directory";
  try {
    readdirSync(path);
    accessSync(path, constants.X_OK | (write ? constants.W_OK : 0));
    return undefined;
  } catch (error) {
    return reason(error);
  }
}

/** A unix socket we may send to (connect needs write permission on it). */
export function checkSocket(path: string): string | undefined {
  const st = statOf(path);
  if (typeof st === "string") return st;
  if (!st.isSocket()) return "not a socket";
  try {
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (error) {
    return reason(error);
  }
}

const words = (value: string | undefined): string[] => (value ?? "").toLowerCase().split(/\s+/).filter(Boolean);

export function checkFiles(cfg: LoadedConfig, account: string, findings: Findings): void {
  const as = ` (as user ${account})`;
  const configDirectory = cfg.str("configdirectory")!;
  const dirProblem = checkDirectory(configDirectory, true);
  if (dirProblem) findings.error(`${where(cfg, "configdirectory")}: ${configDirectory}: ${dirProblem}${as}`);
  const procPath = cfg.str("proc_path")!;
  const procProblem = checkDirectory(procPath, true);
  // Cyrus creates the proc directory when it is missing, so only an existing unusable one is wrong
  if (procProblem && procProblem !== "ENOENT") findings.error(`${where(cfg, "proc_path")}: ${procPath}: ${procProblem}${as}`);

  // cyr_deny's list: absent means nobody is denied, but one we cannot read would deny nobody silently
  const denyDb = cfg.str("userdeny_db_path");
  if (denyDb && existsSync(denyDb)) {
    const problem = checkReadableFile(denyDb);
    if (problem) findings.error(`${where(cfg, "userdeny_db_path")}: ${denyDb}: ${problem}${as}`);
  }

  const syslogSocket = cfg.str("pop3_syslog_socket")!;
  const syslogProblem = checkSocket(syslogSocket);
  if (syslogProblem) {
    findings.warning(`${where(cfg, "pop3_syslog_socket")}: ${syslogSocket}: ${syslogProblem}${as}: under master(8) and inetd, log lines would be lost`);
  }

  const methods = words(cfg.str("sasl_pwcheck_method") ?? "auxprop");
  const plugins = words(cfg.str("sasl_auxprop_plugin"));
  const passwdFile = cfg.str("pop3_passwd_file");
  if (passwdFile) {
    const problem = checkReadableFile(passwdFile);
    if (problem) findings.error(`${where(cfg, "pop3_passwd_file")}: ${passwdFile}: ${problem}${as}`);
  }
  const usesSasldb = plugins.length > 0 ? plugins.includes("sasldb") : !passwdFile;
  if (methods.includes("auxprop") && usesSasldb) {
    const sasldb = cfg.str("sasl_sasldb_path") || "/etc/sasldb2";
    const problem = checkReadableFile(sasldb);
    if (problem) findings.error(`${where(cfg, "sasl_sasldb_path")}: ${sasldb}: ${problem}${as}: auxprop logins through sasldb will fail`);
  }
  // a missing saslauthd socket is reported by the password backend itself (a warning: it may start later)
}

/** The maildrop a login as `user` would open, without opening (and so changing) it. */
export function checkUserMaildrop(cfg: LoadedConfig, user: string, account: string, findings: Findings): void {
  const as = ` (as user ${account})`;
  const store = cfg.enumValue("pop3_mailstore");
  if (store === "maildir") {
    let path: string;
    try {
      path = resolveMaildirPath(cfg.str("pop3_maildir_path")!, user, undefined);
    } catch (error) {
      findings.error(`${where(cfg, "pop3_maildir_path")}: no Maildir path for user ${user}: ${(error as Error).message}`);
      return;
    }
    for (const dir of [path, `${path}/cur`, `${path}/new`]) {
      const problem = checkDirectory(dir, true);
      if (!problem) continue;
      findings.error(`${where(cfg, "pop3_maildir_path")}: Maildir of ${user}: ${dir}: ${problem}${as}`);
      return;
    }
    return;
  }
  if (store === "mbox") {
    const path = expandPathTemplate(cfg.str("pop3_mbox_path")!, user);
    const problem = checkReadableFile(path);
    if (problem) findings.error(`${where(cfg, "pop3_mbox_path")}: mbox of ${user}: ${path}: ${problem}${as}`);
    // the dot-lock file is created next to the mbox
    const dirProblem = checkDirectory(dirname(path), true);
    if (dirProblem) findings.warning(`${where(cfg, "pop3_mbox_path")}: ${dirname(path)}: ${dirProblem}${as}: no dot-lock can be made there`);
    return;
  }
  // Cyrus mailboxes are found through mailboxes.db at login; the database is what can be checked here
  const mailboxes = `${cfg.str("configdirectory")}/mailboxes.db`;
  const problem = checkReadableFile(mailboxes);
  if (problem) findings.error(`${where(cfg, "pop3_mailstore")}: ${mailboxes}: ${problem}${as}: the mailbox of ${user} cannot be looked up`);
}
