/**
 * What start-up settles from imapd.conf before any session: the umask, which Cyrus we imitate,
 * and the lines that tell the operator about both and about the mail store.
 */
import { ConfigError, type Config } from "./config.ts";
import { LoadedConfig } from "./loaded-config.ts";
import { cyrusCompat, describeCompat, type CyrusCompat } from "./cyrus-compat.ts";
import { describeStoreChoice } from "./store-default.ts";

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
 * `isKnownKey` says whether a key outside our option table is still read by someone (a Cyrus
 * option, another service's override); the rest are most likely typos, which Cyrus ignores
 * silently and an operator should hear about.
 */
export function startupFacts(
  cfg: Config,
  compat: CyrusCompat = cyrusCompat(cfg),
  isKnownKey: (key: string) => boolean = () => true,
): StartupFacts {
  const loaded = cfg instanceof LoadedConfig ? cfg : undefined;
  const store = describeStoreChoice(cfg.enumValue("pop3_mailstore"), loaded?.origin("pop3_mailstore"), loaded?.defaultContext());
  const warnings: string[] = [];
  if (cfg.bool("prometheus_enabled")) warnings.push("prometheus_enabled: pop3d exports no Prometheus counters; ignored (docs/compatibility.md)");
  for (const entry of loaded?.overflowEntries() ?? []) {
    if (!isKnownKey(entry.key)) warnings.push(`${entry.file}:${entry.line}: ${entry.key}: unknown option, neither pop3d nor Cyrus reads it (a typo?)`);
  }
  return { compat, notes: [`${describeCompat(compat)}; ${store}`], warnings };
}
