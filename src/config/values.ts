/**
 * Parsers for imapd.conf value types (Cyrus's libconfig.c). Each returns a reason instead of throwing, so the
 * reader can wrap it with the file, line and key.
 */

export type DurationUnit = "d" | "h" | "m" | "s";

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** Cyrus stores ints and durations in an int32; anything larger is a config mistake. */
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/**
 * Only the first character counts, case-sensitively, as in Cyrus: "yes", "y", "true", "on", "1" are
 * true; "no", "false", "off", "0" are false. "Yes" or "ON" are errors there too.
 */
export function parseSwitch(text: string): Parsed<boolean> {
  const first = text[0];
  const second = text[1];
  if (first === "0" || first === "n" || first === "f" || (first === "o" && second === "f")) return ok(false);
  if (first === "1" || first === "y" || first === "t" || (first === "o" && second === "n")) return ok(true);
  return fail(`invalid switch ${JSON.stringify(text)} (use 1/yes/true/on or 0/no/false/off)`);
}

/** strtol(text, &end, 0) that must consume the whole value: "0x10" is 16, "010" is 8, "08" is junk. */
const STRTOL_BASE0 = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/;

export function parseInteger(text: string): Parsed<number> {
  const m = STRTOL_BASE0.exec(text);
  if (!m) return fail(`invalid integer ${JSON.stringify(text)}`);
  const [, sign, hex, octal, decimal] = m;
  const magnitude =
    hex !== undefined ? parseInt(hex, 16) : octal !== undefined ? parseInt(octal, 8) : parseInt(decimal!, 10);
  const value = sign === "-" ? -magnitude : magnitude;
  if (value > INT32_MAX || value < INT32_MIN) return fail(`integer ${JSON.stringify(text)} is out of range`);
  return ok(value === 0 ? 0 : value);
}

/** Cyrus rewrites these before matching any enum, so `virtdomains: yes` means `on` (libconfig.c:config_read). */
const ENUM_ON = new Set(["1", "yes", "t", "true"]);
const ENUM_OFF = new Set(["0", "no", "f", "false"]);

export function parseEnum(text: string, values: readonly string[]): Parsed<string> {
  const normalised = ENUM_ON.has(text) ? "on" : ENUM_OFF.has(text) ? "off" : text;
  if (values.includes(normalised)) return ok(normalised);
  return fail(`invalid value ${JSON.stringify(text)} (expected one of: ${values.join(", ")})`);
}

/** Cyrus STRINGLIST: one of a fixed set of words, matched exactly, without the on/off synonyms. */
export function parseStringList(text: string, values: readonly string[]): Parsed<string> {
  if (values.includes(text)) return ok(text);
  return fail(`invalid value ${JSON.stringify(text)} (expected one of: ${values.join(", ")})`);
}

const UNIT_SECONDS: Record<DurationUnit, number> = { d: 86400, h: 3600, m: 60, s: 1 };

/**
 * A duration in whole seconds: optional "-", then groups of digits each followed by d, h, m or s
 * ("1h30m"). A trailing group without a unit takes `defaultUnit`, so "90" with unit m is 90
 * minutes and "1h30" is 1h30m.
 */
export function parseDuration(text: string, defaultUnit: DurationUnit): Parsed<number> {
  const invalid = (why: string) => fail<number>(`invalid duration ${JSON.stringify(text)} (${why})`);
  if (text === "") return invalid("empty");
  let rest = text;
  let negative = false;
  if (rest.startsWith("-")) {
    negative = true;
    rest = rest.slice(1);
    if (!/^[0-9]/.test(rest)) return invalid("no digit after '-'");
  }
  if (/[0-9]$/.test(rest)) rest += defaultUnit;
  let total = 0;
  let digits = "";
  for (const ch of rest) {
    if (ch >= "0" && ch <= "9") {
      digits += ch;
      continue;
    }
    if (digits === "") return invalid(`no digit before '${ch}'`);
    const unit = UNIT_SECONDS[ch as DurationUnit];
    if (unit === undefined) return invalid(`bad unit '${ch}'`);
    total += Number(digits) * unit;
    if (total > INT32_MAX) return invalid("too large");
    digits = "";
  }
  return ok(negative ? -total : total);
}

const CONFIGDIRECTORY_TOKEN = "{configdirectory}";

/** Cyrus expands the token only at the start of a value and matches it case-insensitively (libconfig.c:config_read). */
export function expandConfigDirectory(text: string, configDirectory: string): string {
  if (text.slice(0, CONFIGDIRECTORY_TOKEN.length).toLowerCase() !== CONFIGDIRECTORY_TOKEN) return text;
  return configDirectory + text.slice(CONFIGDIRECTORY_TOKEN.length);
}
