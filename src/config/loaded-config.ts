/**
 * Turns the entries of imapd.conf into the typed Config (Cyrus's libconfig.c:config_read): service overrides, duplicate
 * detection, value validation, the overflow table and the configdirectory rules. Every value is
 * checked here, at load, so a bad line is one startup error naming file, line and key.
 */
import { ConfigError, type Config } from "./config.ts";
import { DEPRECATED_OPTIONS, OPTIONS, isOptionName, type DefaultContext, type OptionName, type OptionSpec, type OptionType } from "./options.ts";
import type { ConfigEntry, ConfigText } from "./reader.ts";
import {
  expandConfigDirectory,
  parseDuration,
  parseEnum,
  parseInteger,
  parseStringList,
  parseSwitch,
  type Parsed,
} from "./values.ts";

type Value = boolean | number | string;

interface Setting {
  readonly value: Value;
  readonly entry: ConfigEntry;
  readonly serviceSpecific: boolean;
}

type DeprecatedName = keyof typeof DEPRECATED_OPTIONS;
type KnownName = OptionName | DeprecatedName;

function isDeprecatedName(key: string): key is DeprecatedName {
  return Object.hasOwn(DEPRECATED_OPTIONS, key);
}

function specOf(name: KnownName): OptionSpec {
  return OPTIONS[isDeprecatedName(name) ? DEPRECATED_OPTIONS[name] : name];
}

export class LoadedConfig implements Config {
  private readonly computedDefaults = new Map<OptionName, Value>();

  constructor(
    readonly service: string,
    readonly file: string,
    private readonly settings: ReadonlyMap<OptionName, Setting>,
    private readonly overflow: ReadonlyMap<string, ConfigEntry>,
    private readonly configDirectory: string,
    /** Deprecated option names that were used; the caller logs them once the logger is up. */
    readonly warnings: readonly string[],
  ) {}

  bool(name: OptionName): boolean {
    return this.lookup(name, "bool", ["switch"]) as boolean;
  }

  int(name: OptionName): number {
    return this.lookup(name, "int", ["int"]) as number;
  }

  str(name: OptionName): string | undefined {
    return this.lookup(name, "str", ["string", "stringlist"]) as string | undefined;
  }

  enumValue(name: OptionName): string {
    return this.lookup(name, "enumValue", ["enum"]) as string;
  }

  seconds(name: OptionName): number {
    return this.lookup(name, "seconds", ["duration"]) as number;
  }

  raw(key: string): string | undefined {
    const k = key.toLowerCase();
    if (isOptionName(k)) return this.settings.get(k)?.entry.value;
    const specific = this.service ? this.overflow.get(`${this.service.toLowerCase()}_${k}`) : undefined;
    return (specific ?? this.overflow.get(k))?.value;
  }

  /** Whether the file sets the option (plain or `<service>_` form). */
  isSet(name: OptionName): boolean {
    return this.settings.has(name);
  }

  /** The overflow table's lines (keys outside the option table), with file and line. */
  overflowEntries(): Iterable<ConfigEntry> {
    return this.overflow.values();
  }

  /** Every key of the overflow table, as written in the file. */
  overflowKeys(): Iterable<string> {
    return this.overflow.keys();
  }

  /** Where an option was set, for error messages of its consumers ("/etc/imapd.conf:12"). */
  origin(name: OptionName): string | undefined {
    const entry = this.settings.get(name)?.entry;
    return entry ? `${entry.file}:${entry.line}` : undefined;
  }

  private lookup(name: OptionName, accessor: string, types: readonly OptionType[]): Value | undefined {
    if (!isOptionName(name)) throw new TypeError(`${name} is not in the option table; read it with raw()`);
    const spec: OptionSpec = OPTIONS[name];
    if (!types.includes(spec.type)) {
      throw new TypeError(`config option ${name} is of type ${spec.type} and cannot be read with ${accessor}()`);
    }
    const set = this.settings.get(name);
    if (set) return set.value;
    const cached = this.computedDefaults.get(name);
    if (cached !== undefined) return cached;
    const value = this.defaultOf(name, spec);
    if (value !== undefined) this.computedDefaults.set(name, value);
    return value;
  }

  /** What computed defaults see: the rest of the file. */
  defaultContext(): DefaultContext {
    return {
      configDirectory: this.configDirectory,
      isSet: (name) => isOptionName(name) && this.settings.has(name),
      overflowKeys: () => this.overflow.keys(),
      raw: (key) => this.raw(key),
    };
  }

  private defaultOf(name: OptionName, spec: OptionSpec): Value | undefined {
    switch (spec.type) {
      case "duration":
        return mustParse(parseDuration(spec.default, spec.unit), name);
      case "string":
        if (spec.computedDefault) return spec.computedDefault.compute(this.defaultContext());
        return spec.default === undefined ? undefined : expandConfigDirectory(spec.default, this.configDirectory);
      case "enum":
        return spec.computedDefault ? spec.computedDefault.compute(this.defaultContext()) : spec.default;
      default:
        return spec.default;
    }
  }
}

function mustParse<T>(parsed: Parsed<T>, name: string): T {
  if (!parsed.ok) throw new TypeError(`built-in default of ${name} is broken: ${parsed.reason}`);
  return parsed.value;
}

export function buildConfig(text: ConfigText, service: string, mainFile: string): LoadedConfig {
  const svc = service.toLowerCase();
  const settings = new Map<KnownName, Setting>();
  const overflow = new Map<string, ConfigEntry>();

  for (const entry of text.entries) {
    const target = classify(entry.key, svc);
    if (target === undefined) {
      addOverflow(overflow, entry);
      continue;
    }
    const { name, serviceSpecific } = target;
    const previous = settings.get(name);
    if (previous && previous.serviceSpecific === serviceSpecific) throw duplicate(entry, previous.entry);
    const value = parseValue(specOf(name), entry);
    // A generic line after `<service>_<option>` is skipped silently, whatever the order (libconfig.c:config_read).
    if (previous?.serviceSpecific) continue;
    settings.set(name, { value, entry, serviceSpecific });
    // Cyrus also keeps a deprecated option's text in the overflow table under the name used.
    if (isDeprecatedName(name)) addOverflow(overflow, entry);
  }

  const warnings = applyDeprecated(settings);
  const typed = settings as Map<OptionName, Setting>;
  const configDirectory = checkConfigDirectory(typed.get("configdirectory"), mainFile);
  expandStrings(typed, configDirectory);
  checkDefaultPartition(typed);
  checkProcPath(typed);
  return new LoadedConfig(service, mainFile, typed, overflow, configDirectory, warnings);
}

function classify(key: string, service: string): { name: KnownName; serviceSpecific: boolean } | undefined {
  if (service && key.startsWith(`${service}_`)) {
    const unprefixed = key.slice(service.length + 1);
    if (isOptionName(unprefixed) || isDeprecatedName(unprefixed)) return { name: unprefixed, serviceSpecific: true };
  }
  if (isOptionName(key) || isDeprecatedName(key)) return { name: key, serviceSpecific: false };
  return undefined;
}

function addOverflow(overflow: Map<string, ConfigEntry>, entry: ConfigEntry): void {
  const previous = overflow.get(entry.key);
  if (previous) throw duplicate(entry, previous);
  overflow.set(entry.key, entry);
}

function duplicate(entry: ConfigEntry, first: ConfigEntry): ConfigError {
  return fault(entry, `option specified twice (first at ${first.file}:${first.line})`);
}

function fault(entry: ConfigEntry, reason: string): ConfigError {
  return new ConfigError(`${entry.file}:${entry.line}: ${entry.key}: ${reason}`, entry.file, entry.line, entry.key);
}

function parseValue(spec: OptionSpec, entry: ConfigEntry): Value {
  const parsed = parseByType(spec, entry.value);
  if (!parsed.ok) throw fault(entry, parsed.reason);
  return parsed.value;
}

function parseByType(spec: OptionSpec, text: string): Parsed<Value> {
  switch (spec.type) {
    case "switch":
      return parseSwitch(text);
    case "int":
      return parseInteger(text);
    case "enum":
      return parseEnum(text, spec.values);
    case "stringlist":
      return parseStringList(text, spec.values);
    case "duration":
      return parseDuration(text, spec.unit);
    case "string":
      return { ok: true, value: text };
  }
}

/** Cyrus 3.12 still honours these names (with a warning) unless the new name is set too. */
function applyDeprecated(settings: Map<KnownName, Setting>): string[] {
  const warnings: string[] = [];
  for (const [oldName, newName] of Object.entries(DEPRECATED_OPTIONS) as [DeprecatedName, OptionName][]) {
    const old = settings.get(oldName);
    if (!old) continue;
    settings.delete(oldName);
    warnings.push(
      `${old.entry.file}:${old.entry.line}: option '${oldName}' is deprecated in favor of '${newName}'`,
    );
    if (!settings.has(newName)) settings.set(newName, old);
  }
  return warnings;
}

function checkConfigDirectory(setting: Setting | undefined, mainFile: string): string {
  if (!setting) {
    throw new ConfigError(`${mainFile}: configdirectory option not specified in configuration file`, mainFile);
  }
  const dir = setting.value as string;
  if (!dir.startsWith("/")) throw fault(setting.entry, `must be an absolute path, not ${JSON.stringify(dir)}`);
  if (dir === "/") throw fault(setting.entry, "must not be '/'");
  return dir;
}

/** `{configdirectory}` is expanded in table string options only, never in the overflow (libconfig.c:config_read). */
function expandStrings(settings: Map<OptionName, Setting>, configDirectory: string): void {
  for (const [name, setting] of settings) {
    if (name === "configdirectory" || OPTIONS[name].type !== "string") continue;
    const expanded = expandConfigDirectory(setting.value as string, configDirectory);
    if (expanded !== setting.value) settings.set(name, { ...setting, value: expanded });
  }
}

/** Cyrus refuses a non-alphanumeric defaultpartition and lowercases it (global.c). */
function checkDefaultPartition(settings: Map<OptionName, Setting>): void {
  const setting = settings.get("defaultpartition");
  if (!setting) return;
  const name = setting.value as string;
  if (!/^[A-Za-z0-9]+$/.test(name)) throw fault(setting.entry, `contains a non-alphanumeric character: ${JSON.stringify(name)}`);
  settings.set("defaultpartition", { ...setting, value: name.toLowerCase() });
}

/** Cyrus checks these when it first writes a proc file; we check at load so the error names the line. */
function checkProcPath(settings: Map<OptionName, Setting>): void {
  const setting = settings.get("proc_path");
  if (!setting) return;
  const path = setting.value as string;
  if (!path.startsWith("/")) throw fault(setting.entry, `must be an absolute path, not ${JSON.stringify(path)}`);
  if (path.length < 2) throw fault(setting.entry, "must not be '/'");
}
