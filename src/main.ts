/** argv → config → pick the launch mode → run. Nothing else lives here. */
import { fstatSync } from "node:fs";
import { parseCommandLine, USAGE, UsageError, type CliOptions } from "./cli.ts";
import { ConfigError, DEFAULT_CONFIG_PATH, describeOptions, loadConfig, type Config } from "./config/index.ts";
import { IMPLEMENTATION } from "./version.ts";
import { log, installStderrSink } from "./log/logger.ts";
import { buildServices } from "./server/services.ts";
import { parseListenAddress, runStandalone } from "./server/standalone.ts";
import { runStdio } from "./server/stdio.ts";
import type { Session } from "./pop3/session.ts";

/** sysexits.h codes Cyrus uses (§2.5). */
const EX_USAGE = 64;
const EX_CONFIG = 78;
const EX_TEMPFAIL = 75;

type Mode = "standalone" | "stdio";

function fdIsSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

/** Where diagnostics may go before logging is set up: never the client's socket. */
function complain(message: string, mode: Mode | undefined): void {
  if (mode === "standalone" || !fdIsSocket(2)) process.stderr.write(`pop3d: ${message}\n`);
  log.err(message);
}

function chooseMode(cli: CliOptions, cfg: Config | undefined): Mode {
  if (cli.listen.length > 0 || cli.listenTls.length > 0) return "standalone";
  if (cli.stdio || fdIsSocket(0)) return "stdio";
  if (cfg?.str("pop3_listen")) return "standalone";
  return "stdio";
}

async function main(argv: string[]): Promise<number> {
  let cli: CliOptions;
  try {
    cli = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    complain(`${error.message}\n${USAGE}`, undefined);
    return EX_USAGE;
  }
  if (cli.version) {
    process.stdout.write(`${IMPLEMENTATION}\n`);
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
  const service = process.env.CYRUS_SERVICE || "pop3";
  const preliminaryMode = chooseMode(cli, undefined);
  if (preliminaryMode === "standalone") await installStderrSink();

  let cfg: Config;
  try {
    cfg = loadConfig(cli.configFile ?? DEFAULT_CONFIG_PATH, service);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    complain(error.message, preliminaryMode);
    return EX_CONFIG;
  }
  const mode = chooseMode(cli, cfg);
  if (mode === "standalone" && preliminaryMode !== "standalone") await installStderrSink();

  let services;
  try {
    services = buildServices(cfg, { externalSsf: cli.externalSsf }, log);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    complain(error.message, mode);
    return EX_CONFIG;
  }
  const deps = { ...services, log };

  if (mode === "standalone") {
    let addresses;
    try {
      const words = cli.listen.length > 0 ? cli.listen : (cfg.str("pop3_listen") ?? "").split(/\s+/).filter(Boolean);
      addresses = words.map(parseListenAddress);
    } catch (error) {
      complain((error as Error).message, mode);
      return EX_USAGE;
    }
    return runStandalone({
      listen: addresses,
      deps,
      log,
      announce: (address) => {
        process.stdout.write(`pop3d: listening on ${address}\n`);
        log.info(`listening on ${address}`);
      },
    });
  }

  let current: Session | undefined;
  const stop = () => {
    log.notice("graceful shutdown");
    if (current) current.shutdown();
    else process.exit(EX_TEMPFAIL);
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) process.on(signal, stop);
  return runStdio({ deps, track: (s) => (current = s) });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    log.crit(`Fatal error: ${(error as Error)?.stack ?? error}`);
    process.exit(70);
  },
);
