/**
 * What the one-session launchers (master's default, inetd `wait = no`) share: how each session is
 * served, and SIGTERM ending the session at once (pop3d.c: shut_down).
 */
import type { Session, SessionDeps } from "../../pop3/session.ts";
import type { FdSessionOptions } from "../fd-session.ts";
import { EX_TEMPFAIL, type Launch } from "./startup.ts";

/** Session options for a process serving one session at a time; installs the SIGTERM handler. */
export function oneSessionOptions(l: Launch, deps: SessionDeps): FdSessionOptions {
  let current: Session | undefined;
  // SIGTERM/SIGINT/SIGQUIT end the session without committing and exit 75
  l.signals.onTerminate(() => {
    l.log.notice("graceful shutdown");
    current?.shutdown();
    // at once, as shut_down does: a client that does not read cannot keep the process alive
    setImmediate(() => process.exit(EX_TEMPFAIL));
  });
  return {
    deps,
    log: l.log,
    tls: l.tls,
    implicitTls: l.cli.implicitTls,
    haproxy: l.cli.haproxy,
    // tslog is not put in front of syslog here (multi-session modes do, log/logger.ts): in front
    // of the syslog transport it changes no line, and loading it would cost every one-session
    // process memory and CPU after its greeting
    track: (s: Session | undefined) => {
      current = s;
    },
  };
}
