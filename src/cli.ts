/**
 * Command line, with Cyrus's getopt rules (master/service.c:main): options and their values are separate words
 * (`-U30` is refused), unknown options are a usage error. Our long options select standalone mode.
 */
export interface CliOptions {
  configFile: string | undefined;
  /** -U: sessions per process in master mode (0 or 1 = one). */
  maxUses: number;
  /** -T: reuse timeout in seconds (0 = none). */
  reuseTimeout: number;
  /** -D: run debug_command before init. */
  debugCommand: boolean;
  /** -X: serve one session on stdin/stdout. */
  stdio: boolean;
  /** -H: expect a HAProxy PROXY header. */
  haproxy: boolean;
  /** -s: implicit TLS. */
  implicitTls: boolean;
  /** -k: Cyrus up to 3.10's MIT KPOP switch; accepted and ignored with a warning. */
  kerberosPop: boolean;
  /** -p: external security strength factor. */
  externalSsf: number;
  listen: string[];
  listenTls: string[];
  /** Standalone listeners that expect a PROXY header (like -H, for one listener). */
  listenProxy: string[];
  help: boolean;
  version: boolean;
  helpConfig: boolean;
  /** --check-config: check the config and the files it names, then exit (src/check-config/). */
  checkConfig: boolean;
  /** --service, --user: the cyrus.conf service and a sample user for --check-config. */
  service: string | undefined;
  user: string | undefined;
}

export class UsageError extends Error {}

export const USAGE =
  "usage: pop3d [-C config-file] [-U uses] [-T timeout] [-D] [-X] [-H] [-s] [-p ssf]\n" +
  "             [--listen [addr:]port]... [--listen-tls [addr:]port]... [--listen-proxy [addr:]port]...\n" +
  "             [--help] [--help-config] [--version]\n" +
  "       pop3d --check-config [-C config-file] [--service name] [--user name]";

/** C atoi(): leading digits with an optional sign; anything else is 0. */
function atoi(text: string): number {
  const m = /^\s*([+-]?\d+)/.exec(text);
  return m ? Number.parseInt(m[1]!, 10) : 0;
}

export function parseCommandLine(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    configFile: undefined,
    maxUses: 250,
    reuseTimeout: 60,
    debugCommand: false,
    stdio: false,
    haproxy: false,
    implicitTls: false,
    externalSsf: 0,
    kerberosPop: false,
    listen: [],
    listenTls: [],
    listenProxy: [],
    help: false,
    version: false,
    helpConfig: false,
    checkConfig: false,
    service: undefined,
    user: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    const value = (name: string): string => {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option ${name} requires an argument`);
      i++;
      return next;
    };
    if (word.startsWith("--")) {
      const [name, inline] = word.split("=", 2) as [string, string | undefined];
      const longValue = () => inline ?? value(name);
      switch (name) {
        case "--listen":
          o.listen.push(longValue());
          break;
        case "--listen-tls":
          o.listenTls.push(longValue());
          break;
        case "--listen-proxy":
          o.listenProxy.push(longValue());
          break;
        case "--help":
          o.help = true;
          break;
        case "--help-config":
          o.helpConfig = true;
          break;
        case "--version":
          o.version = true;
          break;
        case "--check-config":
          o.checkConfig = true;
          break;
        case "--service":
          o.service = longValue();
          break;
        case "--user":
          o.user = longValue();
          break;
        default:
          throw new UsageError(`unknown option ${name}`);
      }
      continue;
    }
    if (!word.startsWith("-") || word === "-") throw new UsageError(`unexpected argument "${word}"`);
    // service.c: "-U30" or "-sH" are refused
    if (word.length > 2) throw new UsageError("options and arguments MUST be separated by whitespace");
    switch (word) {
      case "-C":
        o.configFile = value(word);
        break;
      case "-U":
        o.maxUses = Math.max(0, atoi(value(word)));
        break;
      case "-T":
        o.reuseTimeout = Math.max(0, atoi(value(word)));
        break;
      case "-D":
        o.debugCommand = true;
        break;
      case "-X":
        o.stdio = true;
        break;
      case "-H":
        o.haproxy = true;
        break;
      case "-s":
        o.implicitTls = true;
        break;
      case "-k":
        o.kerberosPop = true;
        break;
      case "-p":
        // Cyrus stores atoi()'s result in an unsigned ssf, so "-1" becomes 4294967295
        o.externalSsf = atoi(value(word)) >>> 0;
        break;
      default:
        throw new UsageError(`unknown option ${word}`);
    }
  }
  return o;
}
