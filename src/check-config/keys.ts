/**
 * Sorting the keys of an imapd.conf for `--check-config`: ours (read), `<service>_<key>` forms,
 * Cyrus options pop3d does not read (ignored), and names nobody reads (most likely a typo).
 */
import { DEPRECATED_OPTIONS, OPTIONS, isOptionName } from "../config/options.ts";
import type { ConfigEntry } from "../config/reader.ts";
import { CYRUS_OPTION_NAMES, CYRUS_OPTION_PATTERNS } from "./cyrus-option-names.ts";
import type { Findings } from "./findings.ts";

export type KeyKind = "read" | "ignored" | "cyrus-only" | "cyrus-store" | "unknown";

/**
 * Cyrus options outside our table that the code reads as they are (Config.raw): the Cyrus store
 * reads its spool layout (store/cyrus/cyrus-settings.ts, store/cyrus/spool-paths.ts), and SASL
 * SCRAM its iteration count. test/unit/check-config checks this list against src/.
 */
export const RAW_KEYS_CYRUS_STORE: ReadonlySet<string> = new Set([
  "conversations",
  "expunge_mode",
  "fulldirhash",
  "global_lock",
  "hashimapspool",
  "mboxlist_db",
  "mboxlist_db_path",
  "mboxname_lockpath",
  "metapartition_files",
  "quota_db",
  "quota_db_path",
  "sync_log",
  "sync_log_channels",
]);
const RAW_PATTERNS_CYRUS_STORE: readonly RegExp[] = [/^(archive|meta)?partition-[a-z0-9]+$/, /^metadir-[a-z]+-[a-z0-9]+$/];
export const RAW_KEYS_ALWAYS: ReadonlySet<string> = new Set(["sasl_scram_iteration_counter"]);

const isDeprecated = (key: string): boolean => Object.hasOwn(DEPRECATED_OPTIONS, key);
const isCyrusOption = (key: string): boolean =>
  CYRUS_OPTION_NAMES.has(key) || CYRUS_OPTION_PATTERNS.some((pattern) => pattern.test(key));

/** An option of ours the table marks as accepted but without effect. */
function ignoredByUs(key: string): boolean {
  if (!isOptionName(key)) return false;
  return (OPTIONS[key] as { ignored?: unknown }).ignored === true;
}

/** Why the table marks an option ignored: the doc's "Ignored by pop3d: <why>." sentence. */
function ignoredReason(key: string, service: string): string {
  const svc = `${service.toLowerCase()}_`;
  const bare = isOptionName(key) ? key : key.startsWith(svc) ? key.slice(svc.length) : key;
  const doc = isOptionName(bare) ? OPTIONS[bare].doc : "";
  return /Ignored by pop3d: (.*?)\.?$/.exec(doc)?.[1] ?? "see pop3d --help-config";
}

function kindOfBare(key: string): KeyKind {
  if (isOptionName(key) || isDeprecated(key)) return ignoredByUs(key) ? "ignored" : "read";
  if (RAW_KEYS_ALWAYS.has(key)) return "read";
  if (RAW_KEYS_CYRUS_STORE.has(key) || RAW_PATTERNS_CYRUS_STORE.some((p) => p.test(key))) return "cyrus-store";
  if (isCyrusOption(key)) return "cyrus-only";
  return "unknown";
}

/**
 * How pop3d treats `key` for `service`: `<service>_<option>` counts as the option, and
 * `<other>_<option>` belongs to another cyrus.conf service (it is that service's business).
 */
export function classifyKey(key: string, service: string): KeyKind | "other-service" {
  const svc = service.toLowerCase();
  if (svc && key.startsWith(`${svc}_`)) {
    const kind = kindOfBare(key.slice(svc.length + 1));
    if (kind !== "unknown") return kind;
  }
  const bare = kindOfBare(key);
  if (bare !== "unknown") return bare;
  const underscore = key.indexOf("_");
  if (underscore > 0 && kindOfBare(key.slice(underscore + 1)) !== "unknown") return "other-service";
  return "unknown";
}

/** `store` is the pop3_mailstore in effect, undefined when the config did not load. */
export function checkKeys(entries: readonly ConfigEntry[], service: string, store: string | undefined, findings: Findings): void {
  for (const entry of entries) {
    const where = `${entry.file}:${entry.line}: ${entry.key}`;
    switch (classifyKey(entry.key, service)) {
      case "cyrus-store":
        if (store !== undefined && store !== "cyrus") {
          findings.warning(`${where}: read only with pop3_mailstore: cyrus (this config uses ${store}; ignored)`);
        }
        break;
      case "ignored":
        findings.warning(`${where}: accepted but ignored by pop3d: ${ignoredReason(entry.key, service)}`);
        break;
      case "cyrus-only":
        findings.warning(`${where}: a Cyrus option pop3d does not read (ignored)`);
        break;
      case "unknown":
        findings.warning(`${where}: unknown option: neither pop3d nor Cyrus reads it (a typo?)`);
        break;
      default:
        break;
    }
  }
}
