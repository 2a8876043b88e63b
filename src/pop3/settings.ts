/**
 * Everything a session needs from imapd.conf and the command line, resolved once per process so
 * that no config lookups happen per command.
 */
import type { Config } from "../config/config.ts";
import type { CanonicalOptions } from "../auth/canonical.ts";
import { MIN_IDLE_TIMEOUT_SECONDS } from "../limits.ts";
import { saslSettingsFromConfig, type SaslSettings } from "../auth/sasl/sasl-config.ts";
import { shutdownFilePaths } from "./shutdown-file.ts";

export type UidlFormat = "cyrus" | "uidonly" | "dovecot" | "courier";

export interface SessionSettings {
  service: string;
  servername: string;
  /** sessionid.c: syslog_prefix when set, else servername (lib/sessionid.c:session_new_id). */
  sessionIdPrefix: string;
  serverinfo: "off" | "min" | "on";
  allowApop: boolean;
  allowPlaintext: boolean;
  allowAnonymous: boolean;
  tlsRequired: boolean;
  /** STLS can be offered (allowstarttls and a usable certificate), imap/tls.c:tls_init_serverengine. */
  starttlsAvailable: boolean;
  failedLoginPauseMs: number;
  plaintextLoginPauseMs: number;
  idleTimeoutMs: number;
  popMinPollSeconds: number;
  /** Negative means NEVER (pop3d.c:cmd_capa EXPIRE). */
  popExpireSeconds: number;
  uidlFormat: UidlFormat;
  canonical: CanonicalOptions;
  readOnly: boolean;
  /** `-p ssf`: an external security layer (master/service.c:main). */
  externalSsf: number;
  mechList: string | undefined;
  admins: ReadonlySet<string>;
  proxyServers: ReadonlySet<string>;
  chatty: boolean;
  /** loginrealms/admins/proxyservers policy, sasl_minimum_layer, SCRAM iterations (pop3d.c:popd_proxy_policy, imapd.conf(5) sasl_pwcheck_method). */
  sasl: SaslSettings;
  configDirectory: string;
  /** Shutdown files checked before every command (pop3d.c:cmdloop). */
  shutdownFiles: readonly string[];
  telemetryBySessionId: boolean;
  /**
   * This process may serve several sessions at once: each telemetry file is named by its session
   * id, since `<service>-<pid>` would mix their bytes (docs/launch-modes.md).
   */
  telemetryPerSession?: boolean;
  maxLoginsPerHost: number;
  maxLoginsPerUser: number;
  /** user_deny.db (auth/deny-db.ts): the message when the user is denied this service, checked before every command. */
  userDeny?: (user: string) => string | undefined;
  /** maxlogins_* counted as Cyrus before 3.12 did (every service; USER/PASS counts its own session). */
  loginLimitsAsCyrusBefore312?: boolean;
  /** The mailbox name proc files record for a logged-in user (Cyrus's internal name, user.alice). */
  procMailbox?: (userid: string, subfolder: string | undefined) => string;
}

const words = (value: string | undefined) => new Set((value ?? "").split(/[\s,]+/).filter(Boolean));

export function settingsFromConfig(cfg: Config, externalSsf: number, starttlsAvailable = false): SessionSettings {
  const configDirectory = cfg.str("configdirectory")!;
  return {
    service: cfg.service,
    servername: cfg.str("servername") ?? "localhost",
    sessionIdPrefix: cfg.str("syslog_prefix") ?? cfg.str("servername") ?? "localhost",
    serverinfo: cfg.enumValue("serverinfo") as SessionSettings["serverinfo"],
    allowApop: cfg.bool("allowapop"),
    allowPlaintext: cfg.bool("allowplaintext"),
    allowAnonymous: cfg.bool("allowanonymouslogin"),
    tlsRequired: cfg.bool("tls_required"),
    starttlsAvailable,
    failedLoginPauseMs: Math.max(0, cfg.seconds("failedloginpause")) * 1000,
    plaintextLoginPauseMs: Math.max(0, cfg.seconds("plaintextloginpause")) * 1000,
    // pop3d.c:cmdloop: clamped to RFC 1939's ten-minute minimum
    idleTimeoutMs: Math.max(cfg.seconds("poptimeout"), MIN_IDLE_TIMEOUT_SECONDS) * 1000,
    popMinPollSeconds: Math.max(0, cfg.seconds("popminpoll")),
    popExpireSeconds: cfg.seconds("popexpiretime"),
    uidlFormat: cfg.enumValue("uidl_format") as UidlFormat,
    canonical: {
      virtdomains: cfg.enumValue("virtdomains") as CanonicalOptions["virtdomains"],
      defaultDomain: cfg.str("defaultdomain") ?? "",
      toLower: cfg.bool("username_tolower"),
      popSubfolders: cfg.bool("popsubfolders"),
    },
    readOnly: cfg.bool("readonly"),
    externalSsf,
    mechList: cfg.str("sasl_mech_list"),
    admins: words(cfg.str("admins")),
    proxyServers: words(cfg.str("proxyservers")),
    chatty: cfg.bool("chatty"),
    sasl: saslSettingsFromConfig(cfg),
    configDirectory,
    shutdownFiles: shutdownFilePaths(configDirectory, cfg.service),
    telemetryBySessionId: cfg.bool("telemetry_bysessionid"),
    maxLoginsPerHost: Math.max(0, cfg.int("maxlogins_per_host")),
    maxLoginsPerUser: Math.max(0, cfg.int("maxlogins_per_user")),
  };
}

/** pop3d.c:uidl_msg UIDL rendering. */
export function formatUidl(format: UidlFormat, uidValidity: number, uid: number, newUidl: boolean): string {
  if (!newUidl) return String(uid);
  switch (format) {
    case "uidonly":
      return String(uid);
    case "dovecot":
      return uid.toString(16).padStart(8, "0") + uidValidity.toString(16).padStart(8, "0");
    case "courier":
      return `${uidValidity}-${uid}`;
    default:
      return `${uidValidity}.${uid}`;
  }
}
