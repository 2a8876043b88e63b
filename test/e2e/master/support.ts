/**
 * Shared pieces of the master(8) tests: fixture helpers for files the service user must be able to
 * write, a fixture whose syslog goes to a test receiver, and the POP3 steps every file uses.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeFixture, type Fixture, type FixtureOptions, type PopClient } from "../../support/harness.ts";
import { SyslogReceiver } from "./syslog-receiver.ts";

export { ALREADY_SENT_MS } from "./json-lines.ts";
export { AVAILABLE, CONNECTION, FakeMaster, UNAVAILABLE, holdsPosixWriteLock, type MasterEvent } from "./fake-master.ts";
export { SyslogReceiver, parseSyslog, type SyslogLine } from "./syslog-receiver.ts";

/** The account the binary serves as when the tests run as root (the harness picks it). */
export function serviceAccount(fx: Fixture): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = /^pop3_run_as: (.*)$/m.exec(readFileSync(fx.confPath, "utf8"))?.[1] ?? "cyrus";
  if (name === "root") return undefined;
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[0] === name);
  if (!entry) throw new Error(`no account ${name}`);
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** mkdir -p, each created directory owned by the service account. */
export function serviceDir(fx: Fixture, path: string): string {
  const account = serviceAccount(fx);
  const parts = path.split("/");
  for (let i = 2; i <= parts.length; i++) {
    const p = parts.slice(0, i).join("/");
    if (existsSync(p)) continue;
    mkdirSync(p);
    if (account) chownSync(p, account.uid, account.gid);
  }
  return path;
}

/** Sets imapd.conf keys, replacing existing lines of the same key (duplicates are fatal). */
export function setConfig(fx: Fixture, settings: Record<string, string>): void {
  const keep = readFileSync(fx.confPath, "utf8")
    .split("\n")
    .filter((line) => line !== "" && !Object.keys(settings).some((k) => line.startsWith(`${k}:`)));
  writeFileSync(fx.confPath, [...keep, ...Object.entries(settings).map(([k, v]) => `${k}: ${v}`)].join("\n") + "\n");
}

export interface MasterFixture {
  fx: Fixture;
  syslog: SyslogReceiver;
  configDirectory: string;
}

/** A harness fixture whose syslog goes to a test receiver (pop3_syslog_socket). */
export async function masterFixture(opts: FixtureOptions = {}): Promise<MasterFixture> {
  const fx = makeFixture(opts);
  const socketPath = join(fx.dir, "syslog.sock");
  setConfig(fx, { pop3_syslog_socket: socketPath });
  const syslog = await SyslogReceiver.start(socketPath);
  return { fx, syslog, configDirectory: join(fx.dir, "conf") };
}

export const MAILBOX_READY = /^\+OK Mailbox locked and ready SESSIONID=<([^>]+)>$/;

/** The pid field of a session id (lib/sessionid.c:session_new_id: <prefix>-<time>-<pid>-<n>-<u64>). */
export function pidOfSessionId(id: string): number {
  const parts = id.split("-");
  return Number(parts[parts.length - 3]);
}

// ---- POP3 steps ---------------------------------------------------------------------------------

/** USER/PASS; returns the session id of the "+OK Mailbox locked and ready" reply. */
export async function login(c: PopClient, user = "alice", password = `${user}-pw`): Promise<string> {
  const userReply = await c.cmd(`USER ${user}`);
  if (userReply !== "+OK Name is a valid mailbox") throw new Error(`USER ${user}: ${userReply}`);
  const reply = await c.cmd(`PASS ${password}`);
  const m = MAILBOX_READY.exec(reply);
  if (!m) throw new Error(`PASS for ${user}: ${reply}`);
  return m[1]!;
}

export async function quit(c: PopClient): Promise<void> {
  const reply = await c.cmd("QUIT");
  if (reply !== "+OK") throw new Error(`QUIT: ${reply}`);
  await c.closed();
}
