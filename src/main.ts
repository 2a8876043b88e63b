/** argv → start-up → pick the launch mode → run. Nothing else lives here. */
import { parseCommandLine, USAGE, UsageError, type CliOptions } from "./cli.ts";
import { DEFAULT_CONFIG_PATH } from "./config/index.ts";
import { IMPLEMENTATION, versionText } from "./version.ts";
import { log, installSink } from "./log/logger.ts";
import { earlySyslogSocket, syslogSink } from "./log/syslog.ts";
import { ProcessSignals } from "./server/signals.ts";
import { EX_SOFTWARE, EX_USAGE, fdIsSocket, startUp, type Launch, type Mode } from "./server/launch/startup.ts";

/*
 * Each launch mode, --check-config and --help-config are loaded only when chosen: the binary is
 * built with --splitting (Makefile), so a require()d module is a chunk of its own, and the code a
 * process never runs costs it neither memory nor start-up time. A master-forked process serving
 * one session then loads no standalone, systemd, worker or check-config code.
 */
const LAUNCHERS: Record<Mode, () => (launch: Launch) => Promise<number>> = {
  master: () => (require("./server/launch/master.ts") as typeof import("./server/launch/master.ts")).runMasterMode,
  inetd: () => (require("./server/launch/inetd.ts") as typeof import("./server/launch/inetd.ts")).runInetdMode,
  systemd: () => (require("./server/launch/systemd.ts") as typeof import("./server/launch/systemd.ts")).runSystemdMode,
  standalone: () => (require("./server/launch/standalone.ts") as typeof import("./server/launch/standalone.ts")).runStandaloneMode,
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
    const { describeOptions } = require("./config/describe.ts") as typeof import("./config/describe.ts");
    process.stdout.write(describeOptions());
    return 0;
  }
  if (cli.checkConfig) {
    const { checkConfig } = require("./check-config/index.ts") as typeof import("./check-config/index.ts");
    return checkConfig({
      configFile: cli.configFile ?? DEFAULT_CONFIG_PATH,
      service: cli.service ?? process.env.CYRUS_SERVICE ?? "pop3",
      user: cli.user,
      print: (line) => process.stdout.write(`${line}\n`),
    });
  }
  const launch = startUp(cli, signals);
  if (typeof launch === "number") return launch;
  return LAUNCHERS[launch.mode]()(launch);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    log.crit(`Fatal error: ${(error as Error)?.stack ?? error}`);
    process.exit(EX_SOFTWARE);
  },
);
