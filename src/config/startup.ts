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
}

export function startupFacts(cfg: Config, compat: CyrusCompat = cyrusCompat(cfg)): StartupFacts {
  const loaded = cfg instanceof LoadedConfig ? cfg : undefined;
  const store = describeStoreChoice(cfg.enumValue("pop3_mailstore"), loaded?.origin("pop3_mailstore"), loaded?.defaultContext());
  return { compat, notes: [`${describeCompat(compat)}; ${store}`] };
}
