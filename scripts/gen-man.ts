/**
 * Writes pop3d(8) to stdout: the template (argument 1) with @VERSION@ (argument 2) and @DATE@
 * filled in, and its @CONFIGURATION@ line replaced by the option table that `pop3d --help-config`
 * prints (src/config/options.ts through the same labels), so the two never disagree.
 *
 * usage: bun run scripts/gen-man.ts man/pop3d.8.in <version>
 */
import { readFileSync } from "node:fs";
import { DEPRECATED_OPTIONS, OPTION_GROUPS, type OptionSpec } from "../src/config/index.ts";
import { defaultLabel, typeLabel } from "../src/config/describe.ts";

/** Text for a roff body line: backslashes escaped, non-ASCII as \\[uXXXX], and a leading . or ' kept from being a request. */
export function roffText(text: string): string {
  const escaped = text
    .replaceAll("\\", "\\e")
    // roff input is ASCII: other characters as named Unicode escapes
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`);
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

/** A literal word (option name) in which "-" must stay a minus sign when copied from the page. */
function roffWord(word: string): string {
  return roffText(word).replaceAll("-", "\\-");
}

export function configurationSection(): string {
  const out: string[] = [];
  for (const [group, options] of Object.entries(OPTION_GROUPS)) {
    out.push(`.SS ${roffText(group)}`);
    for (const [name, spec] of Object.entries(options) as [string, OptionSpec][]) {
      out.push(".TP", `.B ${roffWord(name)}`, roffText(`(${typeLabel(spec)}; default: ${defaultLabel(spec)})`), ".br", roffText(spec.doc));
    }
  }
  out.push(".SS Deprecated names", "Still accepted; the new name wins when both are set.", ".RS 4n", ".nf");
  for (const [oldName, newName] of Object.entries(DEPRECATED_OPTIONS)) out.push(`${roffWord(oldName)} \\(-> ${roffWord(newName)}`);
  out.push(".fi", ".RE");
  return out.join("\n");
}

/** The last commit's date keeps the page reproducible; outside git, today. */
function pageDate(): string {
  const git = Bun.spawnSync(["git", "log", "-1", "--format=%cs"], { stderr: "ignore" });
  const date = git.exitCode === 0 ? git.stdout.toString().trim() : "";
  return date || new Date().toISOString().slice(0, 10);
}

/** Longest input line in bytes; fill mode joins lines, so breaking text lines at spaces changes nothing. */
const MAX_LINE = 80;
const bytes = (text: string): number => Buffer.byteLength(text, "utf8");

/** Breaks text lines (not requests, not inside .nf) at spaces, so `mandoc -T lint` finds no long line. */
export function wrapTextLines(page: string): string {
  let noFill = false;
  const out: string[] = [];
  for (const line of page.split("\n")) {
    if (line === ".nf") noFill = true;
    if (line === ".fi") noFill = false;
    if (noFill || line.startsWith(".") || bytes(line) <= MAX_LINE) {
      out.push(line);
      continue;
    }
    let rest = line;
    while (bytes(rest) > MAX_LINE) {
      // the last space within MAX_LINE bytes (characters may take several)
      let cut = rest.lastIndexOf(" ", MAX_LINE);
      while (cut > 0 && bytes(rest.slice(0, cut)) > MAX_LINE) cut = rest.lastIndexOf(" ", cut - 1);
      if (cut <= 0) break;
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut + 1);
    }
    // a continuation line must not start like a request
    out.push(/^[.']/.test(rest) ? `\\&${rest}` : rest);
  }
  return out.join("\n");
}

export function renderManPage(template: string, version: string, date: string): string {
  return wrapTextLines(
    template
      .replaceAll("@VERSION@", version)
      .replaceAll("@DATE@", date)
      .replace(/^@CONFIGURATION@$/m, () => configurationSection()),
  );
}

if (import.meta.main) {
  const [templatePath, version] = process.argv.slice(2);
  if (!templatePath || !version) {
    process.stderr.write("usage: bun run scripts/gen-man.ts <template> <version>\n");
    process.exit(64);
  }
  process.stdout.write(renderManPage(readFileSync(templatePath, "utf8"), version, pageDate()));
}
