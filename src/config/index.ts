/** The config module's public face: load imapd.conf once at startup, then read typed options. */
import { resolve } from "node:path";
import { LoadedConfig, buildConfig } from "./loaded-config.ts";
import { readConfigText, type Environment } from "./reader.ts";

export { ConfigError, type Config } from "./config.ts";
export { LoadedConfig } from "./loaded-config.ts";
export { OPTIONS, OPTION_GROUPS, DEPRECATED_OPTIONS, type OptionName, type OptionSpec } from "./options.ts";
export { describeOptions } from "./describe.ts";

/** Where Cyrus looks when -C is not given (SYSCONF_DIR/imapd.conf). */
export const DEFAULT_CONFIG_PATH = "/etc/imapd.conf";

/**
 * Reads and validates `path` (as Cyrus's libconfig.c:config_read does) for `service` (the cyrus.conf entry name, which selects
 * `<service>_<option>` overrides). Throws ConfigError naming file, line and key; startup turns it
 * into exit 78 (EX_CONFIG).
 */
export function loadConfig(path: string, service: string, env: Environment = process.env): LoadedConfig {
  const text = readConfigText(path, env);
  return buildConfig(text, service, resolve(text.file));
}
