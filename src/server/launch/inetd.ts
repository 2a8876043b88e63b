/**
 * inetd/xinetd mode. `wait = no` (and Cyrus's -X): fd 0 is the client's connected socket, one
 * session, then exit. `wait = yes`: fd 0 is the listening socket itself (SO_ACCEPTCONN); we accept
 * and serve many sessions, and exit after -T seconds without one, so inetd takes the socket back.
 */
import { routeThroughTslog } from "../../log/logger.ts";
import { becomeServiceUser } from "../process-setup.ts";
import { ProcFileRegistry, procDirectory } from "../proc-registry.ts";
import { runStdio } from "../stdio.ts";
import { isListeningSocket } from "../../sys/libc.ts";
import { EX_USAGE, complain, fdIsSocket, type Launch } from "./startup.ts";
import { oneSessionOptions } from "./one-session.ts";

export async function runInetdMode(l: Launch): Promise<number> {
  if (!becomeServiceUser(l.cfg.str("pop3_run_as")!, l.log)) {
    complain("Fatal error: must run as the Cyrus user", l.mode);
    return EX_USAGE;
  }
  const listening = !l.cli.stdio && fdIsSocket(0) && isListeningSocket(0);
  const registry = new ProcFileRegistry(procDirectory(l.configDirectory, l.cfg.str("proc_path")), listening);
  const deps = { ...l.services, log: l.log, registry };
  if (listening) {
    // required here, so that a `wait = no` process never loads it (see main.ts)
    const { runStandalone } = require("../standalone.ts") as typeof import("../standalone.ts");
    return runStandalone({
      listen: [{ hostname: "", port: 0, fd: 0, tls: l.cli.implicitTls, proxy: l.cli.haproxy }],
      deps,
      log: l.log,
      tls: l.tls,
      reloadTls: l.reloadTls,
      // inetd's -H: whoever inetd lets in speaks PROXY first
      proxyTrusted: () => true,
      signals: l.signals,
      announce: () => {},
      sessionStarted: () => setTimeout(routeThroughTslog, 0),
      idleExitSeconds: l.cli.reuseTimeout > 0 ? l.cli.reuseTimeout : undefined,
    });
  }

  return runStdio(oneSessionOptions(l, deps));
}
