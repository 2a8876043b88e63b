/**
 * Cyrus master(8) mode: fd 4 is the listening socket, fd 3 the status pipe. One session a process
 * (service.c, the default) or up to `pop3_sessions_per_process` (service-thread.c's
 * CONNECTION_MULTI). See docs/launch-modes.md.
 */
import { routeThroughTslog } from "../../log/logger.ts";
import { EX_OSERR, MasterService, checkListenFd } from "../master-service.ts";
import { becomeServiceUser } from "../process-setup.ts";
import { MAX_PROC_SLOTS, ProcFileRegistry, procDirectory } from "../proc-registry.ts";
import { EX_USAGE, complain, type Launch } from "./startup.ts";
import { oneSessionOptions } from "./one-session.ts";

export async function runMasterMode(l: Launch): Promise<number> {
  if (!becomeServiceUser(l.cfg.str("pop3_run_as")!, l.log)) {
    complain("Fatal error: must run as the Cyrus user", l.mode);
    return EX_USAGE;
  }
  if (!checkListenFd(l.log)) return EX_OSERR;
  // slot 0 (the bare pid) is for one-session processes only
  const perProcess = Math.min(l.cfg.int("pop3_sessions_per_process"), MAX_PROC_SLOTS - 1);
  const registry = new ProcFileRegistry(procDirectory(l.configDirectory, l.cfg.str("proc_path")), perProcess > 1);
  const deps = { ...l.services, log: l.log, registry };

  if (perProcess > 1) {
    // required here, so that a one-session process never loads it (see main.ts)
    const { MultiMasterService } = require("../master-multi.ts") as typeof import("../master-multi.ts");
    const multi = new MultiMasterService({
      sessionsPerProcess: perProcess,
      maxUses: l.cli.maxUses,
      reuseTimeout: l.cli.reuseTimeout,
      deps,
      log: l.log,
      tls: l.tls,
      implicitTls: l.cli.implicitTls,
      haproxy: l.cli.haproxy,
      // the greeting is on its way: now tslog may load (see log/logger.ts)
      sessionStarted: () => setTimeout(routeThroughTslog, 0),
    });
    l.signals.onTerminate(() => multi.onTerminate());
    l.signals.onHangup(() => multi.onHangup());
    return multi.run();
  }

  const master = new MasterService({
    service: l.service,
    id: process.env.CYRUS_ID!,
    configDirectory: l.configDirectory,
    maxUses: l.cli.maxUses,
    reuseTimeout: l.cli.reuseTimeout,
    session: oneSessionOptions(l, deps),
    log: l.log,
  });
  l.signals.onHangup(() => master.onHangup());
  return master.run();
}
