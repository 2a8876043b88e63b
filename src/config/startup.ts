/**
 * What start-up settles from imapd.conf before any session: the umask, which Cyrus we imitate,
 * and the lines that tell the operator about both and about the mail store.
 */
import { ConfigError, type Config } from "./config.ts";
import { LoadedConfig } from "./loaded-config.ts";
import { cyrusCompat, describeCompat, type CyrusCompat } from "./cyrus-compat.ts";
import { describeStoreChoice } from "./store-default.ts";
import { DEPRECATED_OPTIONS, OPTIONS, isOptionName, type OptionName, type OptionSpec } from "./options.ts";
import { CYRUS_OPTION_NAMES, CYRUS_OPTION_PATTERNS } from "./cyrus-option-names.ts";

/**
 * `umask` (Cyrus's default 077, set in global.c:cyrus_init): every file we create — telemetry
 * logs that hold whole messages, proc files, caches — is private to the Cyrus user.
 */
export function umaskFromConfig(cfg: Config): number {
  const text = (cfg.str("umask") ?? "077").trim();
  if (!/^[0-7]{1,4}$/.test(text)) {
    throw new ConfigError(`${cfg.file}: umask: "${text}" is not an octal number like 077`, cfg.file, undefined, "umask");
  }
  return Number.parseInt(text, 8) & 0o777;
}

export interface StartupFacts {
  readonly compat: CyrusCompat;
  /** One info line each, logged once the logger is up. */
  readonly notes: readonly string[];
  /** Options that are set and have no effect, and keys nobody reads: one warning line each. */
  readonly warnings: readonly string[];
}

/**
 * Whether a key outside our option table is still read by someone: a Cyrus option, or any
 * service's `<service>_<option>` override of one. The rest are most likely typos, which Cyrus
 * ignores silently and an operator should hear about.
 */
export function isKnownKey(key: string): boolean {
  const known = (k: string) =>
    isOptionName(k) || Object.hasOwn(DEPRECATED_OPTIONS, k) || CYRUS_OPTION_NAMES.has(k) || CYRUS_OPTION_PATTERNS.some((p) => p.test(k));
  if (known(key)) return true;
  const underscore = key.indexOf("_");
  return underscore > 0 && known(key.slice(underscore + 1));
}

const QUIETLY_IGNORED: ReadonlySet<string> = new Set(["tls_session_timeout", "tls_sessions_db_path"]);

export function startupFacts(cfg: Config, compat: CyrusCompat = cyrusCompat(cfg), knownKey: (key: string) => boolean = isKnownKey): StartupFacts {
  const loaded = cfg instanceof LoadedConfig ? cfg : undefined;
  const store = describeStoreChoice(cfg.enumValue("pop3_mailstore"), loaded?.origin("pop3_mailstore"), loaded?.defaultContext());
  const warnings: string[] = [];
  for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, OptionSpec][]) {
    // TLS session caching only saves handshakes: Debian's stock imapd.conf sets it, and a warning
    // at every start would teach operators to ignore warnings (--help-config and --check-config say it)
    if (QUIETLY_IGNORED.has(name)) continue;
    if ((spec as { ignored?: boolean }).ignored && loaded?.isSet(name)) {
      warnings.push(`${loaded.origin(name)}: ${name}: accepted but ignored by pop3d (see pop3d --help-config)`);
    }
  }
  for (const entry of loaded?.overflowEntries() ?? []) {
    if (!knownKey(entry.key)) warnings.push(`${entry.file}:${entry.line}: ${entry.key}: unknown option, neither pop3d nor Cyrus reads it (a typo?)`);
  }
  return { compat, notes: [`${describeCompat(compat)}; ${store}`], warnings };
}
