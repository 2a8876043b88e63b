/**
 * Where Cyrus releases differ in a way an operator notices, we follow the Cyrus that is
 * installed (or the one `pop3_cyrus_compat` names). Each switch below names the release that
 * changed it; docs/compatibility.md explains them.
 */
import { join } from "node:path";
import { ConfigError, type Config } from "./config.ts";
import {
  COMPAT_SERIES,
  NEWEST,
  atLeast,
  detectInstalledCyrus,
  formatVersion,
  parseCyrusVersion,
  seriesOf,
  type CyrusVersion,
  type InstalledCyrus,
} from "./cyrus-version.ts";

export interface CyrusCompat {
  readonly version: CyrusVersion;
  readonly series: (typeof COMPAT_SERIES)[number];
  /** For the start-up log: why this version. */
  readonly reason: string;
  /**
   * STLS needs `allowstarttls` as well as a certificate: since 3.8.6, 3.10.2 and 3.12.1
   * (pop3d.c:capa_response uses tls_starttls_enabled()). Before, a certificate alone offers STLS.
   */
  readonly starttlsNeedsAllowStarttls: boolean;
  /**
   * maxlogins_per_host/user count the logged-in sessions of every service before 3.12.0
   * (proc.c:procusage_cb has no service filter), and the own process counts once USER has named
   * the user, so USER/PASS gets one session fewer than AUTH or APOP.
   */
  readonly loginLimitsCountEveryService: boolean;
  /** `-k` (MIT KPOP) is a valid option up to 3.10; 3.12 removed it. */
  readonly acceptsKpopOption: boolean;
}

const COMPAT_KEY = "pop3_cyrus_compat";

function forced(cfg: Config): CyrusVersion | undefined {
  const text = cfg.str("pop3_cyrus_compat");
  if (text === undefined || text.trim() === "" || text.trim().toLowerCase() === "auto") return undefined;
  const trimmed = text.trim();
  const version = /^3\.(6|8|10|12)(\.\d+)?$/.test(trimmed) ? parseCyrusVersion(trimmed) : undefined;
  if (!version) {
    throw new ConfigError(
      `${cfg.file}: ${COMPAT_KEY}: "${text}" is not one of ${COMPAT_SERIES.join(", ")} (or x.y.z within them)`,
      cfg.file,
      undefined,
      COMPAT_KEY,
    );
  }
  return version;
}

export function compatFor(version: CyrusVersion, reason: string): CyrusCompat {
  const allowstarttls =
    atLeast(version, 3, 12, 1) ||
    (version.minor === 10 && atLeast(version, 3, 10, 2)) ||
    (version.minor === 8 && atLeast(version, 3, 8, 6));
  return {
    version,
    series: seriesOf(version),
    reason,
    starttlsNeedsAllowStarttls: allowstarttls,
    loginLimitsCountEveryService: !atLeast(version, 3, 12, 0),
    acceptsKpopOption: !atLeast(version, 3, 12, 0),
  };
}

/**
 * Reads `pop3_cyrus_compat`, or detects the installed Cyrus. Throws ConfigError for a value that
 * names no release we imitate.
 */
export function cyrusCompat(
  cfg: Config,
  detect: () => InstalledCyrus | undefined = () =>
    detectInstalledCyrus({ execPath: process.execPath, cacheFile: cacheFileOf(cfg) }),
): CyrusCompat {
  const version = forced(cfg);
  if (version) return compatFor(version, `${COMPAT_KEY}: ${cfg.str("pop3_cyrus_compat")}`);
  const installed = detect();
  if (installed) return compatFor(installed.version, `installed Cyrus ${installed.text} (${installed.source})`);
  return compatFor(NEWEST, "no installed Cyrus found");
}

function cacheFileOf(cfg: Config): string | undefined {
  const dir = cfg.str("configdirectory");
  return dir ? join(dir, "pop3d", "cyrus-version") : undefined;
}

/** The one start-up line that says which Cyrus we imitate and why. */
export function describeCompat(compat: CyrusCompat): string {
  return `behaving as Cyrus ${formatVersion(compat.version)} (${compat.reason})`;
}
