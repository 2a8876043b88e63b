/**
 * The typed view of imapd.conf that the rest of the server uses.
 * The reader (reader.ts) and the option table (options.ts) implement it; nothing else parses config.
 */
import type { OptionName } from "./options.ts";

export interface Config {
  /** Service name (CYRUS_SERVICE, or "pop3" standalone): drives `<service>_<option>` overrides. */
  readonly service: string;
  /** Absolute path of the main config file. */
  readonly file: string;
  /** Switch options (Cyrus's libconfig.c: 1/y/t/on true, 0/n/f/off false). */
  bool(name: OptionName): boolean;
  /** Integer options (strtol base 0 semantics). */
  int(name: OptionName): number;
  /** String options; undefined when unset and the option has no default. `{configdirectory}` expanded. */
  str(name: OptionName): string | undefined;
  /** Enum options: one of the option's listed values. */
  enumValue(name: OptionName): string;
  /** Duration options, converted to whole seconds (a bare number takes the option's unit). */
  seconds(name: OptionName): number;
  /**
   * Lookup in the overflow table of keys the option table does not know (sasl_*, partition-*,
   * our extensions if not in the table): tries `<service>_<key>` first, then `<key>`.
   */
  raw(key: string): string | undefined;
}

/** A bad config file: the message names file, line and key. Startup turns it into exit 78. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly key?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}
