/**
 * Standalone mode: `--listen`, `--listen-tls`, `--listen-proxy` or `pop3_listen`. With
 * `pop3_workers` > 1 this process binds every address, leaves root, and supervises that many
 * worker processes that share the sockets (see ../workers.ts); with 1 it serves them itself.
 */
import { availableParallelism } from "node:os";
import { routeThroughTslog } from "../../log/logger.ts";
import { inNetworks, parseNetworks } from "../networks.ts";
import { becomeServiceUser } from "../process-setup.ts";
import { MemoryRegistry, ProcFileRegistry, procDirectory } from "../proc-registry.ts";
import { parseListenAddress, runStandalone, type ListenAddress } from "../standalone.ts";
import { dieWithSupervisor, runSupervisor, workerListeners } from "../workers.ts";
import { EX_USAGE, complain, type Launch } from "./startup.ts";

/** pop3_workers: 0 means one per CPU. */
export function workerCount(configured: number): number {
  return configured > 0 ? configured : availableParallelism();
}

export async function runStandaloneMode(l: Launch): Promise<number> {
  const { cli, cfg } = l;
  let addresses: ListenAddress[];
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
    complain((error as Error).message, l.mode);
    return EX_USAGE;
  }
  const runAs = cfg.str("pop3_run_as")!;
  const inherited = workerListeners();
  const workers = inherited ? 1 : workerCount(cfg.int("pop3_workers"));
  if (workers > 1) {
    return runSupervisor({ addresses, workers, log: l.log, signals: l.signals });
  }
  // workers count logins across processes through the proc files, as master(8) services do
  const registry = inherited
    ? new ProcFileRegistry(procDirectory(l.configDirectory, cfg.str("proc_path")), true)
    : new MemoryRegistry();
  return runStandalone({
    listen: inherited ?? addresses,
    deps: { ...l.services, log: l.log, registry },
    log: l.log,
    tls: l.tls,
    reloadTls: l.reloadTls,
    proxyTrusted: (address) => inNetworks(address, trusted),
    signals: l.signals,
    announce: (address) => {
      if (inherited) return; // the supervisor announced the addresses
      process.stdout.write(`pop3d: listening on ${address}\n`);
      l.log.info(`listening on ${address}`);
    },
    sessionStarted: () => setTimeout(routeThroughTslog, 0),
    // standalone may bind privileged ports as root, then serve as the configured user
    afterListen: () => {
      if (!becomeServiceUser(runAs, l.log)) return false;
      if (inherited) dieWithSupervisor();
      return true;
    },
  });
}
