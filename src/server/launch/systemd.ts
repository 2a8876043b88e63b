/**
 * systemd socket activation (sd_listen_fds(3), `Accept=no`): the listening sockets are fds 3 … 3+n−1,
 * LISTEN_PID names us, and LISTEN_FDNAMES (`FileDescriptorName=` in the .socket unit) tells plain
 * POP3 from pop3s: a name that ends in "pop3s" starts TLS at once, one that contains "proxy" expects
 * a PROXY header. Many sessions in this one process. Example units: examples/systemd/.
 */
import { routeThroughTslog } from "../../log/logger.ts";
import { inNetworks, parseNetworks } from "../networks.ts";
import { becomeServiceUser } from "../process-setup.ts";
import { ProcFileRegistry, procDirectory } from "../proc-registry.ts";
import { runStandalone, type ListenAddress } from "../standalone.ts";
import { EX_USAGE, complain, systemdListenFds, type Launch } from "./startup.ts";

/** sd_listen_fds(3): the first passed fd. */
const SD_LISTEN_FDS_START = 3;

export function systemdListeners(count: number, names: string | undefined, implicitTls: boolean, haproxy: boolean): ListenAddress[] {
  const nameList = (names ?? "").split(":");
  return Array.from({ length: count }, (_, i) => {
    const name = nameList[i] ?? "";
    return {
      hostname: "",
      port: 0,
      fd: SD_LISTEN_FDS_START + i,
      tls: implicitTls || /pop3s$/i.test(name),
      proxy: haproxy || /proxy/i.test(name),
    };
  });
}

export async function runSystemdMode(l: Launch): Promise<number> {
  const listen = systemdListeners(systemdListenFds(), process.env.LISTEN_FDNAMES, l.cli.implicitTls, l.cli.haproxy);
  // the fds are ours alone: children (the -D command, workers) must not take them for theirs
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  if (listen.some((a) => a.tls) && !l.tls()) {
    complain("pop3s: required OpenSSL options not present", l.mode);
    return 78;
  }
  let trusted;
  try {
    trusted = parseNetworks(l.cfg.str("pop3_haproxy_trusted_networks") ?? "");
  } catch (error) {
    complain((error as Error).message, l.mode);
    return EX_USAGE;
  }
  return runStandalone({
    listen,
    deps: { ...l.services, log: l.log, registry: new ProcFileRegistry(procDirectory(l.configDirectory, l.cfg.str("proc_path")), true) },
    log: l.log,
    tls: l.tls,
    reloadTls: l.reloadTls,
    proxyTrusted: (address) => inNetworks(address, trusted),
    signals: l.signals,
    announce: (address) => l.log.info(`listening on ${address}`),
    sessionStarted: () => setTimeout(routeThroughTslog, 0),
    afterListen: () => becomeServiceUser(l.cfg.str("pop3_run_as")!, l.log),
  });
}
