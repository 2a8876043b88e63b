import { statSync } from "node:fs";
import { maildirStoreError } from "./store-errors.ts";
import { UNKNOWN_CTIMES, type DirectoryCtimes } from "./uid-list.ts";

/**
 * A directory's ctime proves "nothing was added, removed or renamed since" only once it is older
 * than the filesystem's timestamp granularity (a jiffy locally, coarser on network filesystems):
 * two changes within one tick share a ctime, and a scan between them must not be trusted later.
 */
const CTIME_SETTLE_NS = 2_000_000_000n;

/** Also the existence check: a Maildir without new/ or cur/ "does not exist" (§5.1). */
export function directoryCtimes(dir: string): DirectoryCtimes {
  try {
    const newDir = statSync(`${dir}/new`, { bigint: true });
    const curDir = statSync(`${dir}/cur`, { bigint: true });
    if (!newDir.isDirectory() || !curDir.isDirectory()) throw Object.assign(new Error(`${dir}/new or cur is not a directory`), { code: "ENOTDIR" });
    return { newDir: newDir.ctimeNs, curDir: curDir.ctimeNs };
  } catch (error) {
    throw maildirStoreError(error, `cannot open maildir ${dir}`);
  }
}

/** The ctimes worth recording for a scan that started after they were read. */
export function settledCtimes(ctimes: DirectoryCtimes, nowMs = Date.now()): DirectoryCtimes {
  const limit = BigInt(nowMs) * 1_000_000n - CTIME_SETTLE_NS;
  return ctimes.newDir <= limit && ctimes.curDir <= limit ? ctimes : UNKNOWN_CTIMES;
}

export function sameCtimes(a: DirectoryCtimes, b: DirectoryCtimes): boolean {
  return a.newDir === b.newDir && a.curDir === b.curDir;
}

/** Whether a list recorded with `recorded` still describes directories now at `current`. */
export function listIsCurrent(recorded: DirectoryCtimes, current: DirectoryCtimes): boolean {
  return recorded.newDir !== 0n && recorded.curDir !== 0n && sameCtimes(recorded, current);
}
