/**
 * What every launch mode does before it serves: read imapd.conf for the service, point the log at
 * syslog (or stderr in standalone mode), run -D's debug command, read the TLS certificates, and
 * build the store and password backend. A mistake here ends start-up with Cyrus's sysexits code.
 */
import { fstatSync } from "node:fs";
import type { CliOptions } from "../../cli.ts";
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, type Config } from "../../config/index.ts";
import { log, installSink, installStderrSink } from "../../log/logger.ts";
import type { Log } from "../../log/log.ts";
import { earlySyslogSocket, syslogIdent, syslogSink } from "../../log/syslog.ts";
import { buildServices, type Services } from "../services.ts";
import { runDebugCommand } from "../process-setup.ts";
import { loadTlsSettings, starttlsOffered, starttlsWarning, tlsConfigured, type TlsSettings } from "../tls.ts";
import { startupFacts, umaskFromConfig, type StartupFacts } from "../../config/startup.ts";
import type { ProcessSignals } from "../signals.ts";

/** sysexits.h codes Cyrus uses (imap/pop3d.c, master/service.c). */
export const EX_USAGE = 64;
export const EX_SOFTWARE = 70;
export const EX_OSERR = 71;
export const EX_TEMPFAIL = 75;
export const EX_CONFIG = 78;

/** How the process was started; decides where logs go and how connections arrive. */
export type Mode = "standalone" | "master" | "inetd" | "systemd";

export function fdIsSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

/** systemd's sd_listen_fds(3) test: the fds are ours only if LISTEN_PID names this process. */
export function systemdListenFds(): number {
  const env = process.env;
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== process.pid) return 0;
  const count = Number(env.LISTEN_FDS ?? "0");
  return Number.isInteger(count) && count > 0 ? count : 0;
}

/** The launch mode from the command line and environment; `cfg` only adds `pop3_listen`. */
export function chooseMode(cli: CliOptions, cfg: Config | undefined): Mode {
  if (cli.listen.length > 0 || cli.listenTls.length > 0 || cli.listenProxy.length > 0) return "standalone";
  if (cli.stdio) return "inetd";
  // master(8) sets CYRUS_SERVICE and puts the listening socket on fd 4; an inetd-style launcher
  // such as socat may leave unrelated sockets on fd 4, so the variable decides
  if (process.env.CYRUS_SERVICE !== undefined) return "master";
  if (systemdListenFds() > 0) return "systemd";
  if (fdIsSocket(0)) return "inetd";
  if (cfg?.str("pop3_listen")) return "standalone";
  return "inetd";
}

/** Diagnostics before logging is set up: stderr only where it cannot be the client's socket. */
export function complain(message: string, mode: Mode | undefined): void {
  if (mode === "standalone" || mode === "systemd" || !fdIsSocket(2)) process.stderr.write(`pop3d: ${message}\n`);
  log.err(message);
}

/** Everything a launcher needs once start-up has succeeded. */
export interface Launch {
  cli: CliOptions;
  cfg: Config;
  mode: Mode;
  service: string;
  log: Log;
  signals: ProcessSignals;
  services: Services;
  configDirectory: string;
  /** The TLS settings now (SIGHUP may reload them). */
  tls: () => TlsSettings | undefined;
  /** Re-read the certificates; throws (keeping the old ones) when the new ones are unusable. */
  reloadTls(): void;
}

/** Reads the config and prepares logging, TLS and the services; a number is the exit code. */
export function startUp(cli: CliOptions, signals: ProcessSignals): Launch | number {
  const preliminaryMode = chooseMode(cli, undefined);
  if (preliminaryMode === "standalone" || preliminaryMode === "systemd") installStderrSink();
  if (preliminaryMode === "master") {
    for (const name of ["CYRUS_SERVICE", "CYRUS_ID"]) {
      if (process.env[name] === undefined) {
        installSink(syslogSink({ ident: "pop3d", facility: undefined, socketPath: earlySyslogSocket() }));
        log.err(`could not getenv(${name}); exiting`);
        return EX_SOFTWARE;
      }
    }
  }
  const service = process.env.CYRUS_SERVICE || "pop3";

  let cfg: Config;
  try {
    cfg = loadConfig(cli.configFile ?? DEFAULT_CONFIG_PATH, service);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (preliminaryMode === "master" || preliminaryMode === "inetd") {
      installSink(syslogSink({ ident: service, facility: undefined, socketPath: earlySyslogSocket() }));
    }
    complain(error.message, preliminaryMode);
    return EX_CONFIG;
  }
  const mode = chooseMode(cli, cfg);
  if (mode === "standalone" || mode === "systemd") {
    if (preliminaryMode !== mode) installStderrSink();
  } else {
    installSink(
      syslogSink({
        ident: syslogIdent(service, process.env.CYRUS_SYSLOG_PREFIX ?? cfg.str("syslog_prefix")),
        facility: cfg.str("syslog_facility"),
        socketPath: cfg.str("pop3_syslog_socket")!,
      }),
    );
  }
  if (cli.debugCommand) runDebugCommand(cfg.str("debug_command"), service, log);

  // umask before anything is created; which Cyrus we imitate (docs/compatibility.md)
  let facts: StartupFacts;
  try {
    process.umask(umaskFromConfig(cfg));
    facts = startupFacts(cfg);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    complain(error.message, mode);
    return EX_CONFIG;
  }
  for (const note of facts.notes) log.info(note);
  for (const warning of facts.warnings) log.warning(warning);
  if (cli.kerberosPop) log.warning("-k (MIT KPOP over Kerberos 4) is not supported; option ignored");

  // certificates are read now so that a bad one stops a daemon's start-up with exit 78
  const daemon = mode === "standalone" || mode === "systemd";
  let tlsSettings: TlsSettings | undefined;
  try {
    tlsSettings = loadTlsSettings(cfg, log);
  } catch (error) {
    if (daemon) {
      complain((error as Error).message, mode);
      return EX_CONFIG;
    }
    // under master or inetd a broken certificate fails TLS only, as Cyrus's tls_init_serverengine
    // does: plain POP3 keeps serving, pop3s connections are closed (master would otherwise
    // disable the whole service after a few exits)
    log.err(`${(error as Error).message}: TLS disabled, plain POP3 still served`);
  }
  const wantsImplicitTls = cli.implicitTls || cli.listenTls.length > 0;
  if (wantsImplicitTls && !tlsSettings && !(!daemon && tlsConfigured(cfg))) {
    complain("pop3s: required OpenSSL options not present", mode);
    return EX_CONFIG;
  }

  const starttlsOffer = starttlsOffered(cfg, tlsSettings, facts.compat.starttlsNeedsAllowStarttls);
  const noStls = starttlsWarning(cfg, starttlsOffer);
  if (noStls && tlsSettings) log.warning(noStls);

  let services: Services;
  try {
    services = buildServices(cfg, { externalSsf: cli.externalSsf, starttlsAvailable: starttlsOffer }, log);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    complain(error.message, mode);
    return EX_CONFIG;
  }
  return {
    cli,
    cfg,
    mode,
    service,
    log,
    signals,
    services,
    configDirectory: cfg.str("configdirectory")!,
    tls: () => tlsSettings,
    reloadTls: () => {
      tlsSettings = loadTlsSettings(cfg, log) ?? tlsSettings;
    },
  };
}
