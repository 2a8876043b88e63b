/**
 * PASS-to-end-of-LIST on a Maildir with many messages: the time from sending PASS (the server
 * authenticates, opens the Maildir and builds or reads its uid list) to the last byte of LIST.
 */
import { PopWire } from "../pop3-wire.ts";
import type { Credentials } from "../loadgen.ts";
import type { BenchSpool } from "../fixtures.ts";
import { textMessage } from "../messages.ts";
import { median } from "../stats.ts";

export interface ListTiming {
  passMs: number;
  listMs: number;
  totalMs: number;
  messages: number;
}

export async function timedLoginList(port: number, user: Credentials): Promise<ListTiming> {
  const wire = await PopWire.connect("127.0.0.1", port);
  try {
    await wire.readLine();
    await wire.command(`USER ${user.name}`);
    const t0 = performance.now();
    await wire.command(`PASS ${user.password}`);
    const t1 = performance.now();
    const { body } = await wire.multiline("LIST", true);
    const t2 = performance.now();
    let messages = 0;
    for (let at = body!.indexOf("\r\n"); at >= 0; at = body!.indexOf("\r\n", at + 2)) messages++;
    await wire.command("QUIT");
    return { passMs: t1 - t0, listMs: t2 - t1, totalMs: t2 - t0, messages };
  } finally {
    wire.close();
  }
}

/** Directory ctimes younger than this are not trusted by the server's uid-list cache; wait past it. */
const CTIME_SETTLE_MS = 2_500;

export interface BigListResult {
  first: ListTiming;
  later: ListTiming[];
  laterMedianMs: number;
  laterPassMedianMs: number;
  laterListMedianMs: number;
  laterMinMs: number;
  laterMaxMs: number;
  afterDelivery: ListTiming;
}

/**
 * First login (which has to build the uid list), then `laterLogins` ordinary ones, then one after
 * a message was delivered to new/ (the list must be brought up to date).
 */
export async function measureBigList(
  port: number,
  spool: BenchSpool,
  user: Credentials,
  spoolBuiltAt: number,
  laterLogins: number,
): Promise<BigListResult> {
  const wait = spoolBuiltAt + CTIME_SETTLE_MS - Date.now();
  if (wait > 0) await Bun.sleep(wait);
  const first = await timedLoginList(port, user);
  const later: ListTiming[] = [];
  for (let i = 0; i < laterLogins; i++) later.push(await timedLoginList(port, user));
  spool.deliver(user.name, textMessage(999_999, 2_000), "new");
  const afterDelivery = await timedLoginList(port, user);
  const totals = later.map((t) => t.totalMs);
  return {
    first,
    later,
    laterMedianMs: median(totals),
    laterPassMedianMs: median(later.map((t) => t.passMs)),
    laterListMedianMs: median(later.map((t) => t.listMs)),
    laterMinMs: Math.min(...totals),
    laterMaxMs: Math.max(...totals),
    afterDelivery,
  };
}
