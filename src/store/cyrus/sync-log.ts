/**
 * Replication log entries (imap/sync_log.c): with `sync_log: 1`, every committed mailbox change
 * appends "MAILBOX <name>" to `<configdirectory>/sync[/<channel>]/log`, under the file's lock.
 */
import { closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { fcntlSetLock } from "../../sys/libc.ts";

const LOG_MODE = 0o640;
const ATTEMPTS = 3;
const LOCK_WAIT_MS = 10_000;

/** Appends of this process take turns: POSIX locks would not keep two of our sessions apart. */
let queue: Promise<void> = Promise.resolve();

/** sync_quote_name: quoted, with \ " { } escaped, when the name has characters an atom cannot. */
export function syncQuoteName(name: string): string {
  let needQuote = false;
  let out = "";
  for (const c of name) {
    if (c === "\\" || c === '"' || c === "{" || c === "}") {
      needQuote = true;
      out += "\\";
    } else if (c === " " || c === "\t" || c === "(" || c === ")") {
      needQuote = true;
    }
    out += c;
  }
  return needQuote ? `"${out}"` : out;
}

function logPath(configDirectory: string, channel: string): string {
  return channel === "" ? `${configDirectory}/sync/log` : `${configDirectory}/sync/${channel}/log`;
}

function openLog(path: string): number {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
  try {
    return openSync(path, flags, LOG_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    return openSync(path, flags, LOG_MODE);
  }
}

/**
 * Appends one line to each channel's log. sync_client renames the log while it works on it, so
 * the descriptor must still be the file at the path once locked. Failures only cost a replication
 * hint, as in Cyrus, and are reported to `warn`.
 */
export function appendSyncLog(configDirectory: string, channels: readonly string[], line: string, warn: (m: string) => void): Promise<void> {
  const run = queue.then(() => appendAll(configDirectory, channels, line, warn));
  queue = run.catch(() => undefined);
  return run;
}

async function appendAll(configDirectory: string, channels: readonly string[], line: string, warn: (m: string) => void): Promise<void> {
  for (const channel of channels) {
    const path = logPath(configDirectory, channel);
    try {
      for (let attempt = 1; ; attempt++) {
        const fd = openLog(path);
        try {
          let delay = 1;
          const deadline = Date.now() + LOCK_WAIT_MS;
          while (!fcntlSetLock(fd, "write")) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for its lock`);
            await Bun.sleep(delay);
            delay = Math.min(delay * 2, 50);
          }
          if (fstatSync(fd).ino === statSync(path).ino) {
            writeSync(fd, Buffer.from(line, "utf8"));
            fsyncSync(fd);
            break;
          }
          if (attempt >= ATTEMPTS) throw new Error(`${path} kept being replaced`);
        } finally {
          closeSync(fd);
        }
      }
    } catch (error) {
      warn(`sync_log: cannot append to ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
