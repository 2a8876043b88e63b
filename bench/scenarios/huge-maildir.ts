/**
 * UIDL and LIST on a 100,000-message Maildir (issue 6's figure, next to the Cyrus one in
 * bench/cyrus-uidl.ts): time from the command to the last byte of each full answer, on the first
 * login (which builds the uid list) and on later ones, plus the server's RSS.
 */
import { PopWire } from "../pop3-wire.ts";
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
  const wire = await PopWire.connect("127.0.0.1", port);
  try {
    await wire.readLine();
    await wire.command(`USER ${user.name}`);
    const t0 = performance.now();
    await wire.command(`PASS ${user.password}`);
    const t1 = performance.now();
    const { body } = await wire.multiline("UIDL", true);
    const t2 = performance.now();
    await wire.multiline("LIST", false);
    const t3 = performance.now();
    let lines = 0;
    for (let at = body!.indexOf("\r\n"); at >= 0; at = body!.indexOf("\r\n", at + 2)) lines++;
    await wire.command("QUIT");
    return { passMs: t1 - t0, uidlMs: t2 - t1, listMs: t3 - t2, lines };
  } finally {
    wire.close();
  }
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
