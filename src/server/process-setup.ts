/** Process-level start-up chores shared by the launch modes: -D's debug command and leaving root (imap/global.c: cyrus_init becomes the cyrus user). */
import type { Log } from "../log/log.ts";
import { dropPrivileges, effectiveUid, groupListOf, lookupUserByName } from "../sys/libc.ts";

/** -D: Cyrus runs `debug_command` through system() as a printf format of argv[0], pid and service. */
export function runDebugCommand(format: string | undefined, service: string, log: Log): void {
  if (!format) {
    log.err("-D given but no debug_command is configured");
    return;
  }
  const args: (string | number)[] = [process.argv0, process.pid, service];
  const command = format.replace(/%(%|s|d|u|i)/g, (_m, conv: string) => (conv === "%" ? "%" : String(args.shift() ?? "")));
  log.notice(`running debug command: ${command}`);
  const result = Bun.spawnSync(["/bin/sh", "-c", command], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  if (result.exitCode !== 0) log.err(`debug command exited with ${result.exitCode}`);
}

/**
 * Cyrus will not serve as root: it becomes the cyrus user, and gives up if it cannot. We do the
 * same with `pop3_run_as` (default "cyrus"); "root" keeps root deliberately. False means: refuse.
 */
export function becomeServiceUser(name: string, log: Log): boolean {
  if (effectiveUid() !== 0) return true;
  if (name === "root") {
    log.warning("running as root (pop3_run_as: root)");
    return true;
  }
  let user: { uid: number; gid: number } | undefined;
  let groups: number[];
  try {
    // NSS, not /etc/passwd: service accounts may live in LDAP or sssd
    user = lookupUserByName(name);
    groups = user ? groupListOf(name, user.gid) : [];
  } catch (error) {
    log.err(`pop3_run_as: cannot look up "${name}": ${(error as Error).message}`);
    return false;
  }
  if (!user) {
    log.err(`pop3_run_as: no such user "${name}"`);
    return false;
  }
  try {
    dropPrivileges(user.uid, user.gid, groups);
  } catch (error) {
    log.err(`cannot become ${name}: ${(error as Error).message}`);
    return false;
  }
  return effectiveUid() !== 0;
}
