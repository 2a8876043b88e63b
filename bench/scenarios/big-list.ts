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

export interface TimedSession {
  passMs: number;
  /** Per listing command: time from sending it to the last byte of its answer. */
  commandMs: number[];
  /** Lines in the first listing. */
  lines: number;
}

/** Log in, then time PASS and each multi-line listing command in turn. */
export async function timedSession(port: number, user: Credentials, listings: string[]): Promise<TimedSession> {
  const wire = await PopWire.connect("127.0.0.1", port);
  try {
    await wire.readLine();
    await wire.command(`USER ${user.name}`);
    const t0 = performance.now();
    await wire.command(`PASS ${user.password}`);
    let last = performance.now();
    const passMs = last - t0;
    const commandMs: number[] = [];
    let lines = -1;
    for (const command of listings) {
      const { body } = await wire.multiline(command, lines < 0);
      const now = performance.now();
      commandMs.push(now - last);
      last = now;
      if (lines < 0) {
        lines = 0;
        for (let at = body!.indexOf("\r\n"); at >= 0; at = body!.indexOf("\r\n", at + 2)) lines++;
      }
    }
    await wire.command("QUIT");
    return { passMs, commandMs, lines };
  } finally {
    wire.close();
  }
}

export async function timedLoginList(port: number, user: Credentials): Promise<ListTiming> {
  const s = await timedSession(port, user, ["LIST"]);
  return { passMs: s.passMs, listMs: s.commandMs[0]!, totalMs: s.passMs + s.commandMs[0]!, messages: s.lines };
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
