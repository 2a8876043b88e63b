/**
 * Everything the Cyrus store reads from imapd.conf, resolved once. Options that the option table
 * does not (yet) describe are read from the overflow table with Cyrus's defaults.
 */
import { dirname } from "node:path";
import { ConfigError, type Config } from "../../config/index.ts";
import { expandConfigDirectory, parseSwitch } from "../../config/values.ts";
import type { NamingOptions } from "./mailbox-name.ts";
import type { HashOptions, PartitionConfig } from "./spool-paths.ts";

export type ExpungeMode = "immediate" | "semidelayed" | "delayed";

export interface CyrusStoreOptions {
  readonly configDirectory: string;
  /** mailboxes.db (mboxlist_db_path). */
  readonly mailboxesDb: string;
  /** Root of the name lock files (mboxname_lockpath, default <configdirectory>/lock). */
  readonly lockRoot: string;
  readonly hash: HashOptions;
  readonly naming: NamingOptions;
  readonly partitions: PartitionConfig;
  /** Directory holding quota/ when quota_db is quotalegacy; undefined for other quota databases. */
  readonly quotaLegacyDir: string | undefined;
  readonly expungeMode: ExpungeMode;
  /** global_lock (3.12): writers hold the $GLOBAL name lock shared. */
  readonly globalLock: boolean;
  readonly popUseAcl: boolean;
  readonly popUseImapFlags: boolean;
  readonly popMinPollSeconds: number;
  readonly popPollPadding: number;
  /** sync_log channels to append "MAILBOX <name>" to; empty when sync_log is off. "" is the default channel. */
  readonly syncLogChannels: readonly string[];
  /** conversations: 1 needs conversations.db and counters updates we do not make: commits are refused. */
  readonly conversations: boolean;
  /** statuscache: 1 caches counts that a commit would have to invalidate. */
  readonly statusCache: boolean;
  readonly serverName: string | undefined;
  /** Seconds since the epoch; replaceable in tests. */
  readonly now?: () => number;
  /** Warnings a commit cannot turn into errors (lost quota update, stale status cache). */
  readonly warn?: (message: string) => void;
}

function switchOption(cfg: Config, key: string, fallback: boolean): boolean {
  const raw = cfg.raw(key);
  if (raw === undefined) return fallback;
  const parsed = parseSwitch(raw);
  if (!parsed.ok) throw new ConfigError(`${cfg.file}: ${key}: ${parsed.reason}`, cfg.file, undefined, key);
  return parsed.value;
}

function expandOptional(value: string | undefined, configDirectory: string): string | undefined {
  return value === undefined ? undefined : expandConfigDirectory(value, configDirectory);
}

function oneOf<T extends string>(cfg: Config, key: string, values: readonly T[], fallback: T): T {
  const raw = cfg.raw(key);
  if (raw === undefined) return fallback;
  const found = values.find((v) => v === raw);
  if (found === undefined) throw new ConfigError(`${cfg.file}: ${key}: "${raw}" is not one of ${values.join(", ")}`, cfg.file, undefined, key);
  return found;
}

/** The Cyrus store's settings from imapd.conf; ConfigError for values it cannot work with. */
export function cyrusStoreOptions(cfg: Config): CyrusStoreOptions {
  const configDirectory = cfg.str("configdirectory");
  if (!configDirectory) throw new ConfigError(`${cfg.file}: configdirectory is required with pop3_mailstore: cyrus`, cfg.file, undefined, "configdirectory");
  const path = (key: string, fallback: string): string => expandConfigDirectory(cfg.raw(key) ?? fallback, configDirectory);

  const mboxlistDb = cfg.raw("mboxlist_db") ?? "twoskip";
  if (mboxlistDb !== "twoskip") {
    throw new ConfigError(`${cfg.file}: mboxlist_db: "${mboxlistDb}" is not supported with pop3_mailstore: cyrus (only twoskip)`, cfg.file, undefined, "mboxlist_db");
  }
  const quotaDb = cfg.raw("quota_db") ?? "quotalegacy";
  const quotaDbPath = path("quota_db_path", `${configDirectory}/quotas.db`);
  const syncLog = switchOption(cfg, "sync_log", false);
  const channels = (cfg.raw("sync_log_channels") ?? '""').split(" ").filter(Boolean).map((c) => (c === '""' ? "" : c));
  const metaFiles = new Set((cfg.raw("metapartition_files") ?? "").split(/[\s,]+/).filter(Boolean));

  return {
    configDirectory,
    mailboxesDb: path("mboxlist_db_path", `${configDirectory}/mailboxes.db`),
    lockRoot: path("mboxname_lockpath", `${configDirectory}/lock`),
    hash: { hashImapSpool: switchOption(cfg, "hashimapspool", false), fullDirHash: switchOption(cfg, "fulldirhash", false) },
    naming: {
      unixHierarchySep: cfg.bool("unixhierarchysep"),
      virtDomains: cfg.enumValue("virtdomains") !== "off",
      defaultDomain: cfg.str("defaultdomain") || undefined,
    },
    partitions: { lookup: (key) => expandOptional(cfg.raw(key), configDirectory), metaFiles },
    quotaLegacyDir: quotaDb === "quotalegacy" ? dirname(quotaDbPath) : undefined,
    expungeMode: oneOf(cfg, "expunge_mode", ["immediate", "semidelayed", "delayed"] as const, "delayed"),
    globalLock: switchOption(cfg, "global_lock", true),
    popUseAcl: cfg.bool("popuseacl"),
    popUseImapFlags: cfg.bool("popuseimapflags"),
    popMinPollSeconds: Math.max(0, cfg.seconds("popminpoll")),
    popPollPadding: cfg.int("poppollpadding"),
    syncLogChannels: syncLog ? channels : [],
    conversations: switchOption(cfg, "conversations", false),
    statusCache: cfg.bool("statuscache"),
    serverName: cfg.str("servername"),
    warn: undefined,
  };
}

