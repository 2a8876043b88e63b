/**
 * inetd/xinetd mode. `wait = no` (and Cyrus's -X): fd 0 is the client's connected socket, one
 * session, then exit. `wait = yes`: fd 0 is the listening socket itself (SO_ACCEPTCONN); we accept
 * and serve many sessions, and exit after -T seconds without one, so inetd takes the socket back.
 */
import { routeThroughTslog } from "../../log/logger.ts";
import { becomeServiceUser } from "../process-setup.ts";
import { ProcFileRegistry, procDirectory } from "../proc-registry.ts";
import { runStandalone } from "../standalone.ts";
import { runStdio } from "../stdio.ts";
import type { Session } from "../../pop3/session.ts";
import { isListeningSocket } from "../../sys/libc.ts";
import { EX_TEMPFAIL, EX_USAGE, complain, fdIsSocket, type Launch } from "./startup.ts";

export async function runInetdMode(l: Launch): Promise<number> {
  if (!becomeServiceUser(l.cfg.str("pop3_run_as")!, l.log)) {
    complain("Fatal error: must run as the Cyrus user", l.mode);
    return EX_USAGE;
  }
  const listening = !l.cli.stdio && fdIsSocket(0) && isListeningSocket(0);
  const registry = new ProcFileRegistry(procDirectory(l.configDirectory, l.cfg.str("proc_path")), listening);
  const deps = { ...l.services, log: l.log, registry };
  if (listening) {
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

  // one session: SIGTERM ends it without committing and exits 75 (pop3d.c: shut_down)
  let current: Session | undefined;
  l.signals.onTerminate(() => {
    l.log.notice("graceful shutdown");
    current?.shutdown();
    // at once, as shut_down does: a client that does not read cannot keep the process alive
    setImmediate(() => process.exit(EX_TEMPFAIL));
  });
  return runStdio({
    deps,
    log: l.log,
    tls: l.tls,
    implicitTls: l.cli.implicitTls,
    haproxy: l.cli.haproxy,
    track: (s: Session | undefined) => {
      current = s;
      if (s) setTimeout(routeThroughTslog, 0);
    },
  });
}
