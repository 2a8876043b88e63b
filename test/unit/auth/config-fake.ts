import type { Config } from "../../../src/config/config.ts";
import { OPTIONS, type OptionName } from "../../../src/config/options.ts";

/** A Config over a plain key/value table, with the option table's defaults for unset keys. */
export function fakeConfig(values: Record<string, string>): Config {
  const spec = (name: string) => OPTIONS[name as OptionName] as { default?: unknown } | undefined;
  const get = (name: string) => (Object.hasOwn(values, name) ? values[name] : undefined);
  return {
    service: "pop3",
    file: "/test/imapd.conf",
    bool: (name) => {
      const v = get(name);
      return v === undefined ? Boolean(spec(name)?.default) : /^(1|y|yes|t|true|on)$/i.test(v);
    },
    int: (name) => Number(get(name) ?? spec(name)?.default ?? 0),
    str: (name) => get(name) ?? (spec(name)?.default as string | undefined),
    enumValue: (name) => get(name) ?? String(spec(name)?.default),
    seconds: (name) => Number(get(name) ?? 0),
    raw: (key) => get(key),
  };
}
