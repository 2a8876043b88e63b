import { statSync } from "node:fs";
import { MAILDIR_SUBDIRS, type MaildirSubdir } from "./maildir-scan.ts";
import { storeErrorFrom } from "../fs/errors.ts";

/**
 * The ctime of new/ and of cur/ in nanoseconds; 0 stands for "not known". A directory's ctime
 * changes whenever an entry is added, removed or renamed in it, so an unchanged ctime means an
 * unchanged listing.
 */
export type DirectoryCtimes = Readonly<Record<MaildirSubdir, bigint>>;

export const UNKNOWN_CTIMES: DirectoryCtimes = { new: 0n, cur: 0n };

/**
 * A ctime vouches for a listing only if the listing began in a later clock tick: the kernel stamps
 * changes from a coarse clock (one jiffy, at most 10 ms), so two changes within one tick share a
 * ctime, and a listing taken between them must not be trusted later. Ten ticks of margin; network
 * filesystems with skewed clocks get no guarantee from any margin, as with every ctime- or
 * mtime-based Maildir cache.
 */
const CTIME_SETTLE_NS = 100_000_000n;

/** Also the existence check: a Maildir without new/ or cur/ "does not exist" (Cyrus pop3d.c openinbox wording). */
export function directoryCtimes(dir: string): DirectoryCtimes {
  try {
    const newDir = statSync(`${dir}/new`, { bigint: true });
    const curDir = statSync(`${dir}/cur`, { bigint: true });
    if (!newDir.isDirectory() || !curDir.isDirectory()) {
      throw Object.assign(new Error(`${dir}/new or ${dir}/cur is not a directory`), { code: "ENOTDIR" });
    }
    return { new: newDir.ctimeNs, cur: curDir.ctimeNs };
  } catch (error) {
    throw storeErrorFrom(error, `cannot open maildir ${dir} (pop3_maildir_path)`);
  }
}

/** The ctimes worth recording for a listing that starts now: 0 for a directory changed too recently. */
export function settledCtimes(ctimes: DirectoryCtimes, nowMs: number): DirectoryCtimes {
  const limit = BigInt(nowMs) * 1_000_000n - CTIME_SETTLE_NS;
  const settle = (ctime: bigint) => (ctime <= limit ? ctime : 0n);
  return { new: settle(ctimes.new), cur: settle(ctimes.cur) };
}

export function sameCtimes(a: DirectoryCtimes, b: DirectoryCtimes): boolean {
  return a.new === b.new && a.cur === b.cur;
}

/** The directories whose listing is still the one a list recorded with `recorded` describes. */
export function unchangedSubdirs(recorded: DirectoryCtimes, current: DirectoryCtimes): MaildirSubdir[] {
  return MAILDIR_SUBDIRS.filter((subdir) => recorded[subdir] !== 0n && recorded[subdir] === current[subdir]);
}
