/**
 * Every imapd.conf option pop3d reads: type, default, unit and why it exists.
 * Defaults follow Cyrus 3.12 unless the doc says otherwise. Keys the table does not know go to
 * the overflow table (Config.raw).
 */
import { hostname } from "node:os";
import type { DurationUnit } from "./values.ts";
import { BUILD_SYSLOG_FACILITY } from "./build-defaults.ts";
import { mailstoreDefault, MAILSTORE_DEFAULT_RULE } from "./store-default.ts";

/** What a default computed from the rest of the file may look at. */
import type { DefaultContext } from "./default-context.ts";
export type { DefaultContext };

export interface SwitchSpec { readonly type: "switch"; readonly default: boolean; readonly doc: string }
export interface IntSpec { readonly type: "int"; readonly default: number; readonly doc: string }
export interface EnumSpec {
  readonly type: "enum";
  readonly values: readonly string[];
  readonly default: string;
  /** For defaults that depend on the rest of imapd.conf; computed at lookup. */
  readonly computedDefault?: { readonly describe: string; readonly compute: (ctx: DefaultContext) => string };
  readonly doc: string;
}
/** A Cyrus STRINGLIST: a string restricted to fixed words, without the enum on/off synonyms. */
export interface StringListSpec {
  readonly type: "stringlist";
  readonly values: readonly string[];
  readonly default: string;
  readonly doc: string;
}
/** `default` is written the way imapd.conf would say it; `unit` applies to bare numbers. */
export interface DurationSpec {
  readonly type: "duration";
  readonly default: string;
  readonly unit: DurationUnit;
  readonly doc: string;
}
export interface StringSpec {
  readonly type: "string";
  readonly default: string | undefined;
  /** For defaults that depend on the machine; computed at lookup. */
  readonly computedDefault?: { readonly describe: string; readonly compute: (ctx: DefaultContext) => string | undefined };
  readonly doc: string;
}
export type OptionSpec = SwitchSpec | IntSpec | EnumSpec | StringListSpec | DurationSpec | StringSpec;
export type OptionType = OptionSpec["type"];

const sw = (d: boolean, doc: string) => ({ type: "switch", default: d, doc }) as const;
const int = (d: number, doc: string) => ({ type: "int", default: d, doc }) as const;
const dur = (d: string, unit: DurationUnit, doc: string) => ({ type: "duration", default: d, unit, doc }) as const;
const str = (d: string | undefined, doc: string) => ({ type: "string", default: d, doc }) as const;
const oneOf = <V extends readonly string[]>(values: V, d: V[number], doc: string) =>
  ({ type: "enum", values, default: d, doc }) as const;
const listOf = <V extends readonly string[]>(values: V, d: V[number], doc: string) =>
  ({ type: "stringlist", values, default: d, doc }) as const;
/**
 * An option Cyrus has and we accept without acting on it: --help-config says so, and start-up
 * warns when imapd.conf sets it (config/startup.ts), so nothing is silently dropped.
 */
const ignored = <T extends { doc: string }>(spec: T, why: string) => ({ ...spec, doc: `${spec.doc} Ignored by pop3d: ${why}.`, ignored: true }) as const;

const POP = {
  popminpoll: dur("0", "m", "Minimum time between two logins of one user; 0 = no limit."),
  poppollpadding: int(1, "Logins allowed faster than popminpoll before it bites; one comes back every popminpoll."),
  poptimeout: dur("10m", "m", "Idle autologout timer; below 10m it is raised to 10m as RFC 1939 section 3 requires."),
  popexpiretime: dur("-1", "d", "Retention advertised by CAPA EXPIRE; negative = NEVER."),
  popuseacl: sw(false, "Enforce the owner's ACL rights r, t and s on the maildrop."),
  popuseimapflags: sw(false, "Hide \\Deleted messages and set \\Seen on retrieved ones."),
  popsubfolders: sw(false, "Let user+folder logins reach subfolders of INBOX."),
  uidl_format: oneOf(["cyrus", "uidonly", "dovecot", "courier"] as const, "cyrus",
    "UIDL shape: cyrus = UIDVALIDITY.UID, uidonly = UID, dovecot/courier = those servers' forms."),
} as const;

const AUTH = {
  allowapop: sw(true, "Offer APOP (a challenge in the greeting) when passwords allow it."),
  allowplaintext: sw(false, "Allow USER/PASS and PLAIN/LOGIN without TLS or an external layer (-p > 1)."),
  allowanonymouslogin: sw(false, "Accept user \"anonymous\" with any password, and SASL ANONYMOUS."),
  tls_required: sw(false, "Offer and allow no authentication at all before TLS."),
  failedloginpause: dur("3s", "s", "Pause before answering a failed login."),
  plaintextloginpause: dur("0", "s", "Pause after a successful plaintext login without TLS."),
  sasl_minimum_layer: int(0, "Minimum SASL security strength factor a client must reach."),
  sasl_maximum_layer: ignored(int(256, "Maximum SASL security strength factor offered."), "no SASL security layer is offered at all"),
  admins: str("", "Space-separated userids with admin rights; they may log in as other users."),
  proxyservers: str(undefined, "Space-separated userids allowed to log in as any other user."),
  loginrealms: str("", "Space-separated realms whose user@realm identities may log in."),
  virtdomains: oneOf(["off", "userid", "on"] as const, "off",
    "Virtual domains: off ignores them, userid takes user@domain, on also the server address."),
  defaultdomain: str("internal", "Domain that user@defaultdomain folds into when virtdomains is on."),
  username_tolower: sw(true, "Lowercase user names before authentication."),
  unixhierarchysep: sw(true, "Use '/' as mailbox separator, so user names may contain dots."),
  auth_mech: listOf(["unix", "pts", "krb5", "mboxgroups"] as const, "unix",
    "Identity and group mechanism; unix limits canonical names to 80 bytes."),
  userdeny_db: listOf(["flat", "skiplist", "sql", "twoskip", "zeroskip"] as const, "flat",
    "Database type of user_deny.db, the per-service deny list cyr_deny writes; we read flat and twoskip (others: a warning, and nobody is denied)."),
  userdeny_db_path: str("{configdirectory}/user_deny.db", "The user_deny.db file; checked at login and before every command, admins exempt."),
  sasl_pwcheck_method: str("auxprop",
    "How passwords are checked: space-separated saslauthd, auxprop, and our passwd-file."),
  sasl_auxprop_plugin: str(undefined, "Auxprop plugins for auxprop checks; we read sasldb (unset = all we have)."),
  sasl_mech_list: str(undefined, "Space-separated SASL mechanisms to offer (unset = every one we support)."),
  sasl_saslauthd_path: str("/var/run/saslauthd/mux", "saslauthd socket for sasl_pwcheck_method saslauthd (libsasl's default)."),
  sasl_sasldb_path: str("/etc/sasldb2", "sasldb file of the sasldb auxprop plugin (libsasl's default)."),
  pop3_passwd_file: str(undefined, "Our extension: passwd-file for sasl_pwcheck_method passwd-file, one user:hash line each."),
} as const;

const TLS = {
  allowstarttls: sw(false, "Offer STLS on plain connections; since 3.12.1 a certificate alone is not enough."),
  tls_server_cert: str(undefined, "PEM certificate chain; unset or \"disabled\" = no TLS. Two comma-separated files (RSA, EC) allowed."),
  tls_server_key: str(undefined, "PEM private key of tls_server_cert; unset = the key is inside tls_server_cert."),
  tls_server_ca_file: str(undefined, "PEM CA certificates Cyrus uses to verify servers when it is the TLS client."),
  tls_client_ca_file: str(undefined, "PEM CA certificates that verify client certificates."),
  tls_client_ca_dir: str(undefined, "Directory of hashed CA certificates that verify client certificates."),
  tls_client_certs: oneOf(["off", "optional", "require"] as const, "optional",
    "Ask clients for a certificate when a client CA loads: off, optional or require."),
  tls_versions: str("tls1_2 tls1_3",
    "TLS versions to allow. Our default drops tls1_0 and tls1_1, which Cyrus allows, because RFC 8996 deprecates them."),
  tls_ciphers: str("DEFAULT", "OpenSSL cipher list for TLS up to 1.2; DEFAULT = the TLS library's own list."),
  tls_prefer_server_ciphers: sw(false, "Choose the cipher by our order rather than the client's."),
  tls_eccurve: str("prime256v1", "Elliptic curve for ECDHE key exchange."),
  tls_crl_file: str(undefined, "PEM certificate revocation list checked against client certificates."),
  tls_session_timeout: ignored(dur("24h", "m", "How long a TLS session may be resumed; 0 disables resumption, at most 24h."), "TLS sessions are not cached between processes"),
  tls_sessions_db_path: ignored(str("{configdirectory}/tls_sessions.db", "Cyrus's TLS session cache database."), "TLS sessions are not cached between processes"),
} as const;

const IDENTITY_AND_LOGGING = {
  servername: {
    ...str(undefined, "Host name shown in the greeting and used in session ids."),
    computedDefault: { describe: "the host name (gethostname)", compute: () => hostname() },
  },
  serverinfo: oneOf(["off", "min", "on"] as const, "on", "How much of our name and version the greeting and CAPA show."),
  syslog_prefix: str(undefined, "Syslog ident becomes <prefix>/<service>; $CYRUS_SYSLOG_PREFIX takes precedence."),
  syslog_facility: str(BUILD_SYSLOG_FACILITY,
    "DAEMON, MAIL, NEWS, USER or LOCAL0-LOCAL7, any case; an unknown name keeps the built-in default, as Cyrus does. The default is fixed at build time (MAIL, like Debian's Cyrus)."),
  chatty: sw(false, "Syslog every command."),
  telemetry_bysessionid: sw(false, "Name telemetry files <service>-<sessionid> instead of <service>-<pid>."),
  auditlog: ignored(sw(false, "Syslog traffic byte counts at session end."), "not implemented"),
  iolog: ignored(sw(false, "Syslog \"POP session stats\" I/O byte counts at session end."), "not implemented"),
  debug_command: str(undefined, "printf format run by the shell for -D, given argv[0], pid and service."),
  fatals_abort: ignored(sw(false, "Abort with a core dump on fatal errors instead of exiting."), "fatal errors always end the session and are logged"),
  prometheus_enabled: ignored(sw(false, "Cyrus's Prometheus counters (stats files served by httpd's /metrics)."), "no counters are exported (docs/compatibility.md)"),
  umask: str("077", "Octal umask for every file and directory we create (telemetry logs, proc files, caches), as Cyrus's cyrus_init sets it."),
  pop3_cyrus_compat: str(undefined,
    "Our extension: which Cyrus release to behave like where releases differ (3.6, 3.8, 3.10, 3.12, or x.y.z); unset = the installed Cyrus, else 3.12. See docs/compatibility.md."),
} as const;

const LIMITS = {
  maxlogins_per_host: int(0, "Most logged-in sessions of this service per client host; 0 = no limit."),
  maxlogins_per_user: int(0, "Most logged-in sessions of this service per user; 0 = no limit."),
  readonly: sw(false, "Every session is read-only: DELE is refused."),
  statuscache: sw(false, "Update Cyrus's IMAP status cache when a session changes a mailbox."),
  disconnect_on_vanished_mailbox: ignored(sw(false, "Close the session if its maildrop is removed, instead of seeing it empty."), "not implemented"),
  tcp_keepalive: ignored(sw(false, "Enable TCP keepalive on client connections."), "not implemented; poptimeout ends idle sessions"),
  tcp_keepalive_cnt: ignored(int(0, "Keepalive probes before the connection is dropped; 0 = system default."), "see tcp_keepalive"),
  tcp_keepalive_idle: ignored(dur("0", "s", "Idle time before keepalive probes start; 0 = system default."), "see tcp_keepalive"),
  tcp_keepalive_intvl: ignored(dur("0", "s", "Time between keepalive probes; 0 = system default."), "see tcp_keepalive"),
  pop3_sessions_per_process: int(1,
    "Our extension: sessions one process serves at once under master(8) (MASTER_SERVICE_CONNECTION_MULTI); 1 = Cyrus's one session a process; at most 511 (docs/launch-modes.md)."),
  pop3_workers: int(0, "Our extension: standalone worker processes sharing the listeners (SO_REUSEPORT); 0 = one per CPU, 1 = a single process."),
} as const;

const PATHS_AND_STORES = {
  configdirectory: str(undefined, "Cyrus's state directory (telemetry logs, proc files, databases). Required, absolute, not /."),
  proc_path: str("{configdirectory}/proc", "Directory of per-process status files; absolute, not /."),
  defaultpartition: str(undefined, "Default Cyrus partition (alphanumeric); its partition-<name> is read with pop3_mailstore cyrus."),
  pop3_mailstore: {
    ...oneOf(["cyrus", "maildir", "mbox"] as const, "maildir",
      "Our extension: where mail lives: cyrus reads a Cyrus spool, maildir and mbox need no Cyrus databases."),
    computedDefault: { describe: MAILSTORE_DEFAULT_RULE, compute: mailstoreDefault },
  },
  pop3_maildir_path: str("/var/mail/%u/Maildir", "Our extension: Maildir template; %u user, %d domain, %n local part."),
  pop3_mbox_path: str("/var/mail/%u", "Our extension: mbox file template; %u user, %d domain, %n local part."),
  pop3_mbox_content_length: sw(false,
    "Our extension: trust Content-Length headers in mbox files (mboxcl2); off, so a forged header cannot hide mail."),
  pop3_mbox_from_quoting: oneOf(["mboxrd", "mboxo", "none"] as const, "mboxrd",
    "Our extension: >From unquoting; mboxrd drops one > from >+From lines (undoes mboxo and mboxrd writers), mboxo only from >From, none keeps them."),
  pop3_mbox_uidl: oneOf(["xuidl", "digest", "uid"] as const, "xuidl",
    "Our extension: mbox UIDLs; xuidl = a valid X-UIDL header, else a digest of stable headers; digest = always the digest; uid = uidl_format."),
  pop3_listen: str(undefined, "Our extension: standalone listen list, whitespace-separated [addr:]port, used without --listen."),
  pop3_run_as: str("cyrus",
    "Our extension: the user a process started as root becomes (Cyrus refuses to serve as root); \"root\" keeps root, with a warning."),
  pop3_syslog_socket: str("/dev/log", "Our extension: the unix datagram socket syslog lines are sent to."),
  pop3_haproxy_trusted_networks: str("127.0.0.0/8 ::1",
    "Our extension: standalone -H takes PROXY headers only from these networks (CIDR list); others are refused."),
} as const;

/** A Murder frontend's login to the backends (backend.c:backend_authenticate; docs/murder.md). */
const MURDER = {
  proxy_authname: str("proxy", "Murder frontend: the identity we log in to backends as, on behalf of each user (listed in the backends' proxyservers)."),
  proxy_password: str(undefined, "Murder frontend: the password of proxy_authname; <shorthost>_password overrides it per backend."),
  force_sasl_client_mech: str(undefined, "Murder frontend: SASL mechanisms allowed towards backends; <shorthost>_mechs overrides it. We speak PLAIN."),
  tls_client_cert: str(undefined, "Murder frontend: PEM client certificate shown to backends over TLS; <shorthost>_client_cert overrides it."),
  tls_client_key: str(undefined, "Murder frontend: PEM key of tls_client_cert; <shorthost>_client_key overrides it."),
  client_timeout: dur("10s", "s", "Murder frontend: how long connecting to a backend and each step of its login may take."),
} as const;

export const OPTION_GROUPS = {
  "POP behaviour": POP,
  Authentication: AUTH,
  TLS,
  "Identity and logging": IDENTITY_AND_LOGGING,
  "Limits and connections": LIMITS,
  "Paths and mail stores": PATHS_AND_STORES,
  "Murder frontend": MURDER,
} as const;

export const OPTIONS = {
  ...POP,
  ...AUTH,
  ...TLS,
  ...IDENTITY_AND_LOGGING,
  ...LIMITS,
  ...PATHS_AND_STORES,
  ...MURDER,
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/**
 * Old names Cyrus 3.12 still accepts (with a warning) for options in the table: their value is
 * used when the new name is not set.
 */
export const DEPRECATED_OPTIONS = {
  tls_cert_file: "tls_server_cert",
  tls_key_file: "tls_server_key",
  tls_ca_file: "tls_client_ca_file",
  tls_ca_path: "tls_client_ca_dir",
  tls_cipher_list: "tls_ciphers",
  tlscache_db_path: "tls_sessions_db_path",
} as const satisfies Record<string, OptionName>;

export function isOptionName(key: string): key is OptionName {
  return Object.hasOwn(OPTIONS, key);
}

export function optionSpec(name: OptionName): OptionSpec {
  return OPTIONS[name];
}
