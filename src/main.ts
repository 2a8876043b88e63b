/** argv → start-up → pick the launch mode → run. Nothing else lives here. */
import { parseCommandLine, USAGE, UsageError, type CliOptions } from "./cli.ts";
import { DEFAULT_CONFIG_PATH, describeOptions } from "./config/index.ts";
import { checkConfig } from "./check-config/index.ts";
import { IMPLEMENTATION, versionText } from "./version.ts";
import { log, installSink } from "./log/logger.ts";
import { earlySyslogSocket, syslogSink } from "./log/syslog.ts";
import { ProcessSignals } from "./server/signals.ts";
import { EX_SOFTWARE, EX_USAGE, fdIsSocket, startUp, type Launch, type Mode } from "./server/launch/startup.ts";
import { runMasterMode } from "./server/launch/master.ts";
import { runInetdMode } from "./server/launch/inetd.ts";
import { runSystemdMode } from "./server/launch/systemd.ts";
import { runStandaloneMode } from "./server/launch/standalone.ts";

const LAUNCHERS: Record<Mode, (launch: Launch) => Promise<number>> = {
  master: runMasterMode,
  inetd: runInetdMode,
  systemd: runSystemdMode,
  standalone: runStandaloneMode,
};

async function main(argv: string[]): Promise<number> {
  // first thing: a signal that arrives while we start up is acted on, not fatal
  const signals = new ProcessSignals();
  signals.install();
  let cli: CliOptions;
  try {
    cli = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // before the config is read, Cyrus syslogs under the program's name
    if (process.env.CYRUS_SERVICE !== undefined || fdIsSocket(0)) {
      installSink(syslogSink({ ident: process.env.CYRUS_SERVICE ?? "pop3d", facility: undefined, socketPath: earlySyslogSocket() }));
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
  const launch = startUp(cli, signals);
  if (typeof launch === "number") return launch;
  return LAUNCHERS[launch.mode](launch);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    log.crit(`Fatal error: ${(error as Error)?.stack ?? error}`);
    process.exit(EX_SOFTWARE);
  },
);
