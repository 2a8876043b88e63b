/**
 * Long store work (listing a 100,000-message Maildir, sizing its files, parsing its uid list or an
 * mbox) runs in slices, so that in a process serving many sessions none waits behind another's
 * login for longer than one slice. Work that the kernel can do off the JS thread (readdir, fsync)
 * uses the async fs calls instead.
 */

/**
 * Longest stretch of store work between two turns of the event loop. A few ms keeps a NOOP round
 * trip of every other session well under 20 ms; shorter slices cost more loop turns per login.
 */
export const STORE_SLICE_MS = 4;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class TimeSlicer {
  private sliceStart = performance.now();

  constructor(private readonly budgetMs = STORE_SLICE_MS) {}

  /** Whether this slice has used its budget; cheap enough to ask once per item. */
  due(): boolean {
    return performance.now() - this.sliceStart >= this.budgetMs;
  }

  /** Let the event loop run (other sessions, timers), then start a new slice. */
  async yield(): Promise<void> {
    await nextTurn();
    this.sliceStart = performance.now();
  }

  /** Yield only if the slice is used up: `await slicer.pause()` between items of a long loop. */
  async pause(): Promise<void> {
    if (this.due()) await this.yield();
  }
}

/** Items sorted in one go (natively) before the runs are merged in slices. */
const SORT_RUN = 1024;

/**
 * A stable sort of `items` in place that yields between slices: runs of SORT_RUN are sorted
 * natively, then merged bottom-up. Sorting 100,000 deliveries at once would hold the loop ~70 ms.
 */
export async function sortInSlices<T>(items: T[], compare: (a: T, b: T) => number, slicer: TimeSlicer): Promise<void> {
  const n = items.length;
  if (n <= SORT_RUN) {
    items.sort(compare);
    return;
  }
  for (let start = 0; start < n; start += SORT_RUN) {
    if (slicer.due()) await slicer.yield();
    const run = items.slice(start, start + SORT_RUN).sort(compare);
    for (let i = 0; i < run.length; i++) items[start + i] = run[i]!;
  }
  let from = items;
  let to: T[] = new Array<T>(n);
  for (let width = SORT_RUN; width < n; width *= 2) {
    for (let left = 0; left < n; left += 2 * width) {
      const mid = Math.min(left + width, n);
      const end = Math.min(left + 2 * width, n);
      let i = left;
      let j = mid;
      for (let k = left; k < end; k++) {
        if ((k & 1023) === 0 && slicer.due()) await slicer.yield();
        // `<= 0` takes from the left run on ties: stable.
        to[k] = i < mid && (j >= end || compare(from[i]!, from[j]!) <= 0) ? from[i++]! : from[j++]!;
      }
    }
    [from, to] = [to, from];
  }
  if (from !== items) for (let i = 0; i < n; i++) items[i] = from[i]!;
}
