/** Renders the option table as text for `pop3d --help-config` and the README. */
import { DEPRECATED_OPTIONS, OPTION_GROUPS, type OptionSpec } from "./options.ts";

const UNIT_NAMES = { d: "days", h: "hours", m: "minutes", s: "seconds" } as const;

export function typeLabel(spec: OptionSpec): string {
  switch (spec.type) {
    case "enum":
    case "stringlist":
      return `one of ${spec.values.join("|")}`;
    case "duration":
      return `duration, bare number in ${UNIT_NAMES[spec.unit]}`;
    default:
      return spec.type;
  }
}

export function defaultLabel(spec: OptionSpec): string {
  switch (spec.type) {
    case "switch":
      return spec.default ? "1" : "0";
    case "int":
      return String(spec.default);
    case "string":
      if (spec.computedDefault) return spec.computedDefault.describe;
      if (spec.default === undefined) return "unset";
      return spec.default === "" ? '""' : spec.default;
    case "enum":
      return spec.computedDefault ? spec.computedDefault.describe : spec.default;
    default:
      return spec.default;
  }
}

export function describeOptions(): string {
  const out: string[] = [
    "imapd.conf options read by pop3d. Any option may be given as <service>_<option> to apply to",
    "one cyrus.conf service only; that form wins over the plain one wherever it appears.",
  ];
  for (const [group, options] of Object.entries(OPTION_GROUPS)) {
    out.push("", `${group}:`);
    for (const [name, spec] of Object.entries(options) as [string, OptionSpec][]) {
      out.push(`  ${name}  (${typeLabel(spec)}; default: ${defaultLabel(spec)})`, `      ${spec.doc}`);
    }
  }
  out.push("", "Deprecated names still accepted (the new name wins when both are set):");
  for (const [oldName, newName] of Object.entries(DEPRECATED_OPTIONS)) out.push(`  ${oldName} -> ${newName}`);
  return out.join("\n") + "\n";
}
