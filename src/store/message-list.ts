/**
 * `Maildrop.messages` for the file and Cyrus stores: a real array (the session indexes it in tight
 * loops — STAT sums 100,000 sizes — where any lazy view costs tens of ms), of objects small enough
 * that with the stores' compact tables a snapshot stays well under 150 bytes a message.
 */
import type { MessageInfo } from "./maildrop.ts";
import { TimeSlicer } from "./fs/time-slice.ts";

/**
 * One listed message: two numbers, nothing else. JSC gives a class instance with two fields 32
 * bytes, plus 8 for its array slot (measured with Bun.gc and heapUsed on 100,000 of them).
 */
export class ListedMessage implements MessageInfo {
  constructor(
    readonly uid: number,
    readonly size: number,
  ) {}
}

/** Heap bytes one ListedMessage costs in its array (see above). */
export const LISTED_MESSAGE_BYTES = 40;

/** The list of `count` messages, built in time slices (100,000 objects take a few ms). */
export async function buildMessageList(
  count: number,
  uidAt: (i: number) => number,
  sizeAt: (i: number) => number,
  slicer = new TimeSlicer(),
): Promise<ListedMessage[]> {
  const list = new Array<ListedMessage>(count);
  for (let i = 0; i < count; i++) {
    if ((i & 1023) === 0 && slicer.due()) await slicer.yield();
    list[i] = new ListedMessage(uidAt(i), sizeAt(i));
  }
  return list;
}
