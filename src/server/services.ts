/**
 * Turning the loaded config into the objects sessions use: the mail store, the password backend,
 * and the resolved session settings. Configuration mistakes surface here as ConfigError (exit 78).
 */
import { ConfigError, type Config } from "../config/index.ts";
import type { MailStore } from "../store/maildrop.ts";
import type { PasswordDb } from "../auth/passdb/passdb.ts";
import { passdbFromConfig } from "../auth/passdb/select.ts";
import { MaildirStore } from "../store/maildir/index.ts";
import { settingsFromConfig, type SessionSettings } from "../pop3/settings.ts";
import type { Log } from "../log/log.ts";
import { LoginDelayStore } from "../store/login-delay.ts";
import type { FromQuoting, MboxUidlSource } from "../store/mbox/index.ts";

// The mbox and Cyrus stores are evaluated only when the config selects them: loading them costs
// every inetd-spawned process several milliseconds before its greeting (bench/RESULTS.md).
const loadMboxStore = () => require("../store/mbox/index.ts") as typeof import("../store/mbox/index.ts");
const loadProxy = () => require("../proxy/connector.ts") as typeof import("../proxy/connector.ts");
const loadCyrusStore = () => require("../store/cyrus/index.ts") as typeof import("../store/cyrus/index.ts");
import { join } from "node:path";
import type { BackendConnector } from "../pop3/backend-link.ts";
import { userDenyFromConfig } from "./user-deny.ts";
import { cyrusCompat } from "../config/cyrus-compat.ts";
import { internalName, userMailboxName } from "../store/cyrus/mailbox-name.ts";

export interface Services {
  settings: SessionSettings;
  store: MailStore;
  passdb: PasswordDb;
  /** Murder frontend: only Cyrus mailboxes.db entries can name a remote backend. */
  backends?: BackendConnector;
}

export interface ServiceOptions {
  externalSsf: number;
  starttlsAvailable?: boolean;
}

export function buildServices(cfg: Config, options: ServiceOptions, log: Log): Services {
  const settings = settingsFromConfig(cfg, options.externalSsf, options.starttlsAvailable ?? false);
  let store = buildStore(cfg, log);
  // Cyrus mailboxes keep pop3_last_login in their index; other stores get a small state file
  if (cfg.enumValue("pop3_mailstore") !== "cyrus" && settings.popMinPollSeconds > 0) {
    store = new LoginDelayStore(store, {
      minPollSeconds: settings.popMinPollSeconds,
      padding: cfg.int("poppollpadding"),
      stateDirectory: join(settings.configDirectory, "pop3d", "lastlogin"),
    });
  }
  settings.loginLimitsAsCyrusBefore312 = cyrusCompat(cfg).loginLimitsCountEveryService;
  const naming = {
    unixHierarchySep: cfg.bool("unixhierarchysep"),
    virtDomains: cfg.enumValue("virtdomains") !== "off",
    defaultDomain: cfg.str("defaultdomain"),
  };
  settings.procMailbox = (userid, subfolder) => {
    try {
      return internalName(userMailboxName(userid, subfolder, naming));
    } catch {
      return userid;
    }
  };
  const deny = userDenyFromConfig(cfg, log);
  if (deny) {
    const service = settings.service;
    settings.userDeny = (user) => deny.check(user, service);
    const isDenied = (user: string) => {
      if (deny.check(user, service) === undefined) return false;
      log.err(`user '${user}' denied access to service '${service}'`);
      return true;
    };
    settings.sasl = { ...settings.sasl, policy: { ...settings.sasl.policy, isDenied, service } };
  }
  const backends = cfg.enumValue("pop3_mailstore") === "cyrus" ? loadProxy().createBackendConnector(cfg) : undefined;
  return { settings, store, passdb: passdbFromConfig(cfg, log), backends };
}

function buildStore(cfg: Config, log: Log): MailStore {
  const kind = cfg.enumValue("pop3_mailstore");
  switch (kind) {
    case "maildir":
      try {
        return new MaildirStore({
          pathTemplate: cfg.str("pop3_maildir_path")!,
          markSeen: cfg.bool("popuseimapflags"),
          warn: (m) => log.warning(m),
        });
      } catch (error) {
        throw new ConfigError(`${cfg.file}: pop3_maildir_path: ${(error as Error).message}`, cfg.file, undefined, "pop3_maildir_path");
      }
    case "mbox":
      try {
        const { MboxStore } = loadMboxStore();
        return new MboxStore({
          pathTemplate: cfg.str("pop3_mbox_path")!,
          quoting: cfg.enumValue("pop3_mbox_from_quoting") as FromQuoting,
          contentLength: cfg.bool("pop3_mbox_content_length"),
          uidls: cfg.enumValue("pop3_mbox_uidl") as MboxUidlSource,
        });
      } catch (error) {
        throw new ConfigError(`${cfg.file}: pop3_mbox_path: ${(error as Error).message}`, cfg.file, undefined, "pop3_mbox_path");
      }
    case "cyrus": {
      const { CyrusStore, cyrusStoreOptions } = loadCyrusStore();
      return new CyrusStore({ ...cyrusStoreOptions(cfg), warn: (m) => log.warning(m) });
    }
    default:
      throw new ConfigError(`${cfg.file}: pop3_mailstore: "${kind}" is not available in this build`, cfg.file, undefined, "pop3_mailstore");
  }
}
