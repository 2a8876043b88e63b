/**
 * The password backends chosen from imapd.conf the way libsasl chooses them for Cyrus (libsasl's sasl_pwcheck_method and auxprop plugins):
 * `sasl_pwcheck_method` lists how plain passwords are checked (saslauthd, auxprop, and our
 * passwd-file), tried in order; `sasl_auxprop_plugin` lists where secrets come from (sasldb, and our
 * passwd-file). Unusable settings are a ConfigError at startup.
 */
import { existsSync } from "node:fs";
import { ConfigError, type Config } from "../../config/config.ts";
import type { Log } from "../../log/log.ts";
import type { PasswordDb } from "./passdb.ts";
import { PasswdFileDb } from "./passwd-file.ts";
import { AuxpropChain, PwcheckChain } from "./pwcheck-chain.ts";
import { DEFAULT_SASLAUTHD_PATH, SaslauthdDb } from "./saslauthd.ts";
import { DEFAULT_SASLDB_PATH, SasldbDb } from "./sasldb.ts";

const PWCHECK_METHODS = ["saslauthd", "auxprop", "passwd-file"] as const;
const AUXPROP_PLUGINS = ["sasldb", "passwd-file"] as const;
/** libsasl's default sasl_pwcheck_method. */
const DEFAULT_PWCHECK = "auxprop";

type PwcheckMethod = (typeof PWCHECK_METHODS)[number];
type AuxpropPlugin = (typeof AUXPROP_PLUGINS)[number];

const words = (value: string | undefined): string[] =>
  (value ?? "").split(/\s+/).filter((w) => w !== "").map((w) => w.toLowerCase());

function configError(cfg: Config, key: string, message: string): ConfigError {
  return new ConfigError(`${cfg.file}: ${key}: ${message}`, cfg.file, undefined, key);
}

function pick<T extends string>(cfg: Config, key: string, list: string[], known: readonly T[], hint: string): T[] {
  for (const w of list) {
    if (!(known as readonly string[]).includes(w)) {
      throw configError(cfg, key, `"${w}" is not available in this build (${hint})`);
    }
  }
  return [...new Set(list)] as T[];
}

export function passdbFromConfig(cfg: Config, log: Log): PasswordDb {
  const methodList = words(cfg.str("sasl_pwcheck_method") ?? DEFAULT_PWCHECK);
  if (methodList.length === 0) throw configError(cfg, "sasl_pwcheck_method", "is empty (use saslauthd, auxprop or passwd-file)");
  const methods = pick<PwcheckMethod>(cfg, "sasl_pwcheck_method", methodList, PWCHECK_METHODS, "use saslauthd, auxprop or passwd-file");

  const passwdPath = cfg.str("pop3_passwd_file");
  let passwdFile: PasswdFileDb | undefined;
  const passwdFileDb = (key: string): PasswdFileDb => {
    if (!passwdPath) throw configError(cfg, key, "passwd-file needs pop3_passwd_file to name the file");
    passwdFile ??= new PasswdFileDb(passwdPath, { warn: (m) => log.warning(m) });
    return passwdFile;
  };

  // libsasl loads every auxprop plugin it has when none is named: here the passwd-file if one is
  // configured, otherwise sasldb, the only auxprop plugin of a stock Debian Cyrus.
  const pluginList = words(cfg.str("sasl_auxprop_plugin"));
  const plugins = pluginList.length > 0
    ? pick<AuxpropPlugin>(cfg, "sasl_auxprop_plugin", pluginList, AUXPROP_PLUGINS, "use sasldb or passwd-file")
    : [passwdPath ? "passwd-file" : "sasldb"] as AuxpropPlugin[];
  const sources = plugins.map((p): PasswordDb => {
    if (p === "passwd-file") return passwdFileDb("sasl_auxprop_plugin");
    const path = cfg.str("sasl_sasldb_path") || DEFAULT_SASLDB_PATH;
    // Without auxprop among the pwcheck methods a missing sasldb only disables the secret-based
    // mechanisms, which is how a saslauthd-only Cyrus runs: no need to warn then.
    if (methods.includes("auxprop") && !existsSync(path)) {
      log.warning(`sasldb ${path} does not exist: no user can log in through it until saslpasswd2 creates it`);
    }
    return new SasldbDb(path, {
      defaultRealm: cfg.str("servername") ?? "",
      warn: (m) => log.warning(m),
    });
  });
  const secrets = sources.length === 1 ? sources[0]! : new AuxpropChain(sources);

  const checkers = methods.map((m): PasswordDb => {
    switch (m) {
      case "auxprop":
        return secrets;
      case "passwd-file":
        return passwdFileDb("sasl_pwcheck_method");
      case "saslauthd": {
        const path = cfg.str("sasl_saslauthd_path") || DEFAULT_SASLAUTHD_PATH;
        if (!existsSync(path)) log.warning(`saslauthd socket ${path} does not exist yet: is saslauthd running?`);
        return new SaslauthdDb(path);
      }
    }
  });
  if (checkers.length === 1 && checkers[0] === secrets) return secrets;
  return new PwcheckChain(checkers, secrets);
}
