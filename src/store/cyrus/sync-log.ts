/**
 * Replication log entries (imap/sync_log.c): with `sync_log: 1`, every committed mailbox change
 * appends "MAILBOX <name>" to `<configdirectory>/sync[/<channel>]/log`, under the file's lock.
 */
import { constants, writeSync } from "node:fs";
import { fsyncAsync } from "../fs/durable.ts";
import { lockFile } from "../../sys/file-lock.ts";

const LOG_MODE = 0o640;
const LOG_DIR_MODE = 0o755;
const LOCK_WAIT_MS = 10_000;

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

/**
 * Appends one line to each channel's log. sync_client renames the log while it works on it, so
 * the descriptor must still be the file at the path once locked (lockFile's mayBeReplaced).
 * Sessions of this process take turns through the in-process lock table. Failures only cost a
 * replication hint, as in Cyrus, and are reported to `warn`.
 */
export async function appendSyncLog(configDirectory: string, channels: readonly string[], line: string, warn: (m: string) => void): Promise<void> {
  for (const channel of channels) {
    const path = logPath(configDirectory, channel);
    try {
      const lock = await lockFile(path, "write", {
        create: { mode: LOG_MODE, dirMode: LOG_DIR_MODE },
        extraFlags: constants.O_APPEND,
        mayBeReplaced: true,
        followSymlink: true,
        timeoutMs: LOCK_WAIT_MS,
      });
      try {
        const bytes = Buffer.from(line, "utf8");
        let written = 0;
        while (written < bytes.length) written += writeSync(lock.fd, bytes, written, bytes.length - written);
        await fsyncAsync(lock.fd);
      } finally {
        lock.release();
      }
    } catch (error) {
      warn(`sync_log: cannot append to ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
