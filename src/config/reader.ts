/**
 * imapd.conf syntax (Cyrus's libconfig.c:config_read): `key: value` lines, `\` continuations, `#` comment lines and
 * `@include`. Produces the entries in file order, includes expanded in place; what the keys mean
 * is decided elsewhere (loaded-config.ts).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "./config.ts";

export interface ConfigEntry {
  /** Lowercased key as written, service prefix included. */
  readonly key: string;
  /** Trimmed, never empty. */
  readonly value: string;
  /** The file the entry is in, as opened. */
  readonly file: string;
  /** Physical line the entry starts on (1-based). */
  readonly line: number;
}

export interface ConfigText {
  /** Path of the main file as opened (after CYRUS_PREFIX). */
  readonly file: string;
  readonly entries: readonly ConfigEntry[];
}

/** The key grammar of lib/libconfig.c: optional "@" for directives, then [A-Za-z0-9_-], then ":". */
const KEY = /^(@?[A-Za-z0-9_-]+):/;
/** C isspace(): leading/trailing blanks around values and before keys. */
const SPACE = /[ \t\n\v\f\r]/;

export type Environment = Record<string, string | undefined>;

export function readConfigText(path: string, env: Environment): ConfigText {
  const entries: ConfigEntry[] = [];
  const seenFiles = new Set<string>();
  const file = readOne(path, env, entries, seenFiles, undefined);
  return { file, entries };
}

interface IncludeSite { readonly file: string; readonly line: number }

function readOne(
  path: string,
  env: Environment,
  out: ConfigEntry[],
  seenFiles: Set<string>,
  site: IncludeSite | undefined,
): string {
  const { opened, text } = openConfigFile(path, env, site);
  const identity = resolve(opened);
  if (seenFiles.has(identity)) {
    throw new ConfigError(`${where(site)}configuration file ${path} included twice`, site?.file, site?.line);
  }
  seenFiles.add(identity);

  for (const { text: logical, line } of logicalLines(text)) {
    const entry = parseLine(logical, opened, line);
    if (entry === undefined) continue;
    if (entry.key.startsWith("@")) {
      if (entry.key !== "@include") {
        throw new ConfigError(`${opened}:${line}: invalid directive ${entry.key}`, opened, line, entry.key);
      }
      readOne(entry.value, env, out, seenFiles, { file: opened, line });
      continue;
    }
    out.push(entry);
  }
  return opened;
}

/** Cyrus tries `$CYRUS_PREFIX<path>` first, for the main file and every include alike. */
function openConfigFile(path: string, env: Environment, site: IncludeSite | undefined) {
  const prefix = env.CYRUS_PREFIX;
  if (prefix) {
    const prefixed = prefix + path;
    try {
      return { opened: prefixed, text: readFileSync(prefixed, "utf8") };
    } catch {
      // fall through to the plain path, as Cyrus does
    }
  }
  try {
    return { opened: path, text: readFileSync(path, "utf8") };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`${where(site)}cannot open configuration file ${path}: ${code}`, site?.file ?? path, site?.line);
  }
}

function where(site: IncludeSite | undefined): string {
  return site ? `${site.file}:${site.line}: ` : "";
}

/** Joins `\`-continued physical lines; a continued `#` line swallows the next one, as in Cyrus. */
function* logicalLines(text: string): Generator<{ text: string; line: number }> {
  const physical = text.split("\n");
  if (physical.length > 0 && physical[physical.length - 1] === "") physical.pop();
  let pending = "";
  let startLine = 0;
  for (let i = 0; i < physical.length; i++) {
    let part = physical[i]!;
    if (part.endsWith("\r")) part = part.slice(0, -1);
    if (startLine === 0) startLine = i + 1;
    if (part.endsWith("\\")) {
      pending += part.slice(0, -1);
      continue;
    }
    yield { text: pending + part, line: startLine };
    pending = "";
    startLine = 0;
  }
  if (startLine !== 0) yield { text: pending, line: startLine };
}

function parseLine(logical: string, file: string, line: number): ConfigEntry | undefined {
  let start = 0;
  while (start < logical.length && SPACE.test(logical[start]!)) start++;
  if (start === logical.length || logical[start] === "#") return undefined;

  const rest = logical.slice(start);
  const m = KEY.exec(rest);
  if (!m) {
    throw new ConfigError(
      `${file}:${line}: invalid option name on line ${line} (a key is [A-Za-z0-9_-] followed immediately by ":")`,
      file,
      line,
    );
  }
  const key = m[1]!.toLowerCase();
  const value = trimSpace(rest.slice(m[0].length));
  if (value === "") throw new ConfigError(`${file}:${line}: ${key}: empty option value`, file, line, key);
  return { key, value, file, line };
}

function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && SPACE.test(s[a]!)) a++;
  while (b > a && SPACE.test(s[b - 1]!)) b--;
  return s.slice(a, b);
}
