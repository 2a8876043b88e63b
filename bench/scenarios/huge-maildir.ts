/**
 * UIDL and LIST on a 100,000-message Maildir (issue 6's figure, next to the Cyrus one in
 * bench/cyrus-uidl.ts): time from the command to the last byte of each full answer, on the first
 * login (which builds the uid list) and on later ones, plus the server's RSS.
 */
import { timedSession } from "./big-list.ts";
import type { Credentials } from "../loadgen.ts";
import { procStatusKb } from "../server.ts";
import { median } from "../stats.ts";

export interface HugeMaildirSession {
  passMs: number;
  uidlMs: number;
  listMs: number;
  lines: number;
}

export interface HugeMaildirResult {
  first: HugeMaildirSession;
  later: HugeMaildirSession[];
  laterPassMedianMs: number;
  laterUidlMedianMs: number;
  laterListMedianMs: number;
  rssAfterKb: number;
  rssPeakKb: number;
}

async function session(port: number, user: Credentials): Promise<HugeMaildirSession> {
  const s = await timedSession(port, user, ["UIDL", "LIST"]);
  return { passMs: s.passMs, uidlMs: s.commandMs[0]!, listMs: s.commandMs[1]!, lines: s.lines };
}

/** Directory ctimes younger than this are not trusted by the server's uid-list cache; wait past it. */
const CTIME_SETTLE_MS = 2_500;

export async function measureHugeMaildir(port: number, pid: number, user: Credentials, builtAt: number, laterLogins: number): Promise<HugeMaildirResult> {
  const wait = builtAt + CTIME_SETTLE_MS - Date.now();
  if (wait > 0) await Bun.sleep(wait);
  const first = await session(port, user);
  const later: HugeMaildirSession[] = [];
  for (let i = 0; i < laterLogins; i++) later.push(await session(port, user));
  return {
    first,
    later,
    laterPassMedianMs: median(later.map((s) => s.passMs)),
    laterUidlMedianMs: median(later.map((s) => s.uidlMs)),
    laterListMedianMs: median(later.map((s) => s.listMs)),
    rssAfterKb: procStatusKb(pid, "VmRSS"),
    rssPeakKb: procStatusKb(pid, "VmHWM"),
  };
}
