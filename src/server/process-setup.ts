/** Process-level start-up chores shared by the launch modes: -D's debug command and leaving root (§1). */
import { readFileSync } from "node:fs";
import type { Log } from "../log/log.ts";
import { dropPrivileges, effectiveUid } from "../sys/libc.ts";

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

/** initgroups(3) by hand: every group of /etc/group that lists the user (Debian gives cyrus the
 *  sasl group this way, which sasldb and the saslauthd socket need). */
function supplementaryGroups(name: string): number[] {
  let text: string;
  try {
    text = readFileSync("/etc/group", "utf8");
  } catch {
    return [];
  }
  const groups: number[] = [];
  for (const line of text.split("\n")) {
    const [, , gid, members = ""] = line.split(":");
    if (gid !== undefined && members.split(",").includes(name)) groups.push(Number(gid));
  }
  return groups;
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  let passwd: string;
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    return undefined;
  }
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name && fields.length >= 4) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  return undefined;
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
  const user = lookupUser(name);
  if (!user) {
    log.err(`pop3_run_as: no such user "${name}"`);
    return false;
  }
  try {
    dropPrivileges(user.uid, user.gid, supplementaryGroups(name));
  } catch (error) {
    log.err(`cannot become ${name}: ${(error as Error).message}`);
    return false;
  }
  return effectiveUid() !== 0;
}
