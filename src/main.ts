/** argv → config → pick the launch mode → run. Nothing else lives here. */
import { fstatSync } from "node:fs";
import { parseCommandLine, USAGE, UsageError, type CliOptions } from "./cli.ts";
import { ConfigError, DEFAULT_CONFIG_PATH, describeOptions, loadConfig, type Config } from "./config/index.ts";
import { IMPLEMENTATION, versionText } from "./version.ts";
import { checkConfig } from "./check-config/index.ts";
import { log, installSink, installStderrSink, routeThroughTslog } from "./log/logger.ts";
import { syslogIdent, syslogSink } from "./log/syslog.ts";
import { buildServices } from "./server/services.ts";
import { parseListenAddress, runStandalone } from "./server/standalone.ts";
import { runStdio } from "./server/stdio.ts";
import { MasterService } from "./server/master-service.ts";
import { MAX_PROC_SLOTS, MemoryRegistry, ProcFileRegistry, procDirectory } from "./server/proc-registry.ts";
import { MultiMasterService } from "./server/master-multi.ts";
import { becomeServiceUser, runDebugCommand } from "./server/process-setup.ts";
import type { Session } from "./pop3/session.ts";
import { loadTlsSettings, starttlsOffered, starttlsWarning, tlsConfigured, type TlsSettings } from "./server/tls.ts";
import { startupFacts, umaskFromConfig, type StartupFacts } from "./config/startup.ts";
import { inNetworks, parseNetworks } from "./server/networks.ts";
import { ProcessSignals } from "./server/signals.ts";

/** sysexits.h codes Cyrus uses (§2.5). */
const EX_USAGE = 64;
const EX_SOFTWARE = 70;
const EX_TEMPFAIL = 75;
const EX_CONFIG = 78;

type Mode = "standalone" | "master" | "stdio";

function fdIsSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

/** Diagnostics before logging is set up: stderr only where it cannot be the client's socket. */
function complain(message: string, mode: Mode | undefined): void {
  if (mode === "standalone" || !fdIsSocket(2)) process.stderr.write(`pop3d: ${message}\n`);
  log.err(message);
}

function chooseMode(cli: CliOptions, cfg: Config | undefined): Mode {
  if (cli.listen.length > 0 || cli.listenTls.length > 0 || cli.listenProxy.length > 0) return "standalone";
  if (cli.stdio) return "stdio";
  // master(8) sets CYRUS_SERVICE and puts the listening socket on fd 4 (§2.1); an inetd-style
  // launcher such as socat may leave unrelated sockets on fd 4, so the variable decides
  if (process.env.CYRUS_SERVICE !== undefined) return "master";
  if (fdIsSocket(0)) return "stdio";
  if (cfg?.str("pop3_listen")) return "standalone";
  return "stdio";
}

async function main(argv: string[]): Promise<number> {
  const signals = new ProcessSignals();
  signals.install();
  let cli: CliOptions;
  try {
    cli = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // before the config is read, Cyrus syslogs under the program's name
    if (process.env.CYRUS_SERVICE !== undefined || fdIsSocket(0)) {
      installSink(syslogSink({ ident: process.env.CYRUS_SERVICE ?? "pop3d", facility: undefined, socketPath: "/dev/log" }));
    }
    log.err(error.message);
    if (!fdIsSocket(2)) process.stderr.write(`pop3d: ${error.message}\n${USAGE}\n`);
    return EX_USAGE;
  }
  if (cli.version) {
    process.stdout.write(versionText());
    return 0;
  }
  if (cli.help) {
    process.stdout.write(`${IMPLEMENTATION}: a POP3 server for Cyrus IMAP installations\n${USAGE}\n`);
    return 0;
  }
  if (cli.helpConfig) {
    process.stdout.write(describeOptions());
    return 0;
  }
  if (cli.checkConfig) {
    return checkConfig({
      configFile: cli.configFile ?? DEFAULT_CONFIG_PATH,
      service: cli.service ?? process.env.CYRUS_SERVICE ?? "pop3",
      user: cli.user,
      print: (line) => process.stdout.write(`${line}\n`),
    });
  }
  const preliminaryMode = chooseMode(cli, undefined);
  if (preliminaryMode === "standalone") installStderrSink();
  if (preliminaryMode === "master") {
    for (const name of ["CYRUS_SERVICE", "CYRUS_ID"]) {
      if (process.env[name] === undefined) {
        installSink(syslogSink({ ident: "pop3d", facility: undefined, socketPath: "/dev/log" }));
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
    if (preliminaryMode !== "standalone") {
      installSink(syslogSink({ ident: service, facility: undefined, socketPath: "/dev/log" }));
    }
    complain(error.message, preliminaryMode);
    return EX_CONFIG;
  }
  const mode = chooseMode(cli, cfg);
  if (mode === "standalone") {
    if (preliminaryMode !== "standalone") installStderrSink();
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
  if (cli.kerberosPop) log.warning("-k (MIT KPOP over Kerberos 4) is not supported; option ignored");

  // TLS (§7): certificates are read now so that a bad one stops start-up with exit 78
  let tlsSettings: TlsSettings | undefined;
  try {
    tlsSettings = loadTlsSettings(cfg, log);
  } catch (error) {
    if (mode === "standalone") {
      complain((error as Error).message, mode);
      return EX_CONFIG;
    }
    // under master or inetd a broken certificate fails TLS only, as Cyrus's tls_init_serverengine
    // does: plain POP3 keeps serving, pop3s connections are closed (master would otherwise
    // disable the whole service after a few exits)
    log.err(`${(error as Error).message}: TLS disabled, plain POP3 still served`);
  }
  const wantsImplicitTls = cli.implicitTls || cli.listenTls.length > 0;
  if (wantsImplicitTls && !tlsSettings && !(mode !== "standalone" && tlsConfigured(cfg))) {
    complain("pop3s: required OpenSSL options not present", mode);
    return EX_CONFIG;
  }
  const currentTls = () => tlsSettings;

  const starttlsOffer = starttlsOffered(cfg, tlsSettings, facts.compat.starttlsNeedsAllowStarttls);
  const noStls = starttlsWarning(cfg, starttlsOffer);
  if (noStls && tlsSettings) log.warning(noStls);

  let services;
  try {
    services = buildServices(
      cfg,
      { externalSsf: cli.externalSsf, starttlsAvailable: starttlsOffer },
      log,
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    complain(error.message, mode);
    return EX_CONFIG;
  }
  const configDirectory = cfg.str("configdirectory")!;

  if (mode === "standalone") {
    let addresses;
    let trusted;
    try {
      const words =
        cli.listen.length + cli.listenTls.length + cli.listenProxy.length > 0
          ? cli.listen
          : (cfg.str("pop3_listen") ?? "").split(/\s+/).filter(Boolean);
      addresses = [
        ...words.map((w) => ({ ...parseListenAddress(w), proxy: cli.haproxy, tls: cli.implicitTls })),
        ...cli.listenTls.map((w) => ({ ...parseListenAddress(w), proxy: cli.haproxy, tls: true })),
        ...cli.listenProxy.map((w) => ({ ...parseListenAddress(w), proxy: true, tls: cli.implicitTls })),
      ];
      trusted = parseNetworks(cfg.str("pop3_haproxy_trusted_networks") ?? "");
    } catch (error) {
      complain((error as Error).message, mode);
      return EX_USAGE;
    }
    return runStandalone({
      listen: addresses,
      deps: { ...services, log, registry: new MemoryRegistry() },
      log,
      tls: currentTls,
      reloadTls: () => {
        tlsSettings = loadTlsSettings(cfg, log) ?? tlsSettings;
      },
      proxyTrusted: (address) => inNetworks(address, trusted),
      signals,
      announce: (address) => {
        process.stdout.write(`pop3d: listening on ${address}\n`);
        log.info(`listening on ${address}`);
      },
      // standalone may bind privileged ports as root, then serve as the configured user
      afterListen: () => becomeServiceUser(cfg.str("pop3_run_as")!, log),
    });
  }

  if (!becomeServiceUser(cfg.str("pop3_run_as")!, log)) {
    complain("Fatal error: must run as the Cyrus user", mode);
    return EX_USAGE;
  }
  const deps = { ...services, log, registry: new ProcFileRegistry(procDirectory(configDirectory, cfg.str("proc_path"))) };

  if (mode === "master" && cfg.int("pop3_sessions_per_process") > 1) {
    const multi = new MultiMasterService({
      sessionsPerProcess: Math.min(cfg.int("pop3_sessions_per_process"), MAX_PROC_SLOTS),
      maxUses: cli.maxUses,
      reuseTimeout: cli.reuseTimeout,
      deps,
      log,
      tls: currentTls,
      implicitTls: cli.implicitTls,
      haproxy: cli.haproxy,
      sessionStarted: () => setTimeout(routeThroughTslog, 0),
    });
    signals.onTerminate(() => multi.onTerminate());
    signals.onHangup(() => multi.onHangup());
    return multi.run();
  }

  // §2.4: SIGTERM/SIGINT/SIGQUIT end the session without committing, exit 75
  let current: Session | undefined;
  let master: MasterService | undefined;
  signals.onTerminate(() => {
    log.notice("graceful shutdown");
    if (current) current.shutdown();
    else process.exit(EX_TEMPFAIL);
  });
  signals.onHangup(() => master?.onHangup());

  const sessionOptions = {
    deps,
    log,
    tls: currentTls,
    implicitTls: cli.implicitTls,
    haproxy: cli.haproxy,
    track: (s: Session | undefined) => {
      current = s;
      // the greeting is on its way: now tslog may load (see log/logger.ts)
      if (s) setTimeout(routeThroughTslog, 0);
    },
  };
  if (mode === "master") {
    master = new MasterService({
      service,
      id: process.env.CYRUS_ID!,
      configDirectory,
      maxUses: cli.maxUses,
      reuseTimeout: cli.reuseTimeout,
      session: sessionOptions,
      log,
    });
    if (signals.hangupPending) master.onHangup();
    return master.run();
  }
  return runStdio(sessionOptions);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    log.crit(`Fatal error: ${(error as Error)?.stack ?? error}`);
    process.exit(EX_SOFTWARE);
  },
);
