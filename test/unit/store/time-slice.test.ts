import { describe, expect, test } from "bun:test";
import { sortInSlices, TimeSlicer } from "../../../src/store/fs/time-slice.ts";
import { messageListView } from "../../../src/store/message-list-view.ts";

describe("sortInSlices", () => {
  test("sorts like Array.prototype.sort, stably, at every size around the run length", async () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (const n of [0, 1, 2, 1023, 1024, 1025, 2048, 5000, 20_000]) {
      const items = Array.from({ length: n }, (_, i) => ({ key: Math.floor(random() * 100), order: i }));
      const expected = [...items].sort((a, b) => a.key - b.key);
      // A slicer whose slices are always used up: every chance to yield is taken.
      await sortInSlices(items, (a, b) => a.key - b.key, new TimeSlicer(0));
      expect(items).toEqual(expected);
    }
  });
});

describe("messageListView", () => {
  const view = messageListView(3, (i) => ({ uid: i + 10, size: i * 100 }));

  test("reads like the array it stands for", () => {
    expect(Array.isArray(view)).toBe(true);
    expect(view.length).toBe(3);
    expect(view[1]).toEqual({ uid: 11, size: 100 });
    expect(view[3]).toBeUndefined();
    expect(view.map((m) => m.uid)).toEqual([10, 11, 12]);
    expect([...view].map((m) => m.size)).toEqual([0, 100, 200]);
    expect(view.at(-1)?.uid).toBe(12);
    expect(1 in view).toBe(true);
    expect(3 in view).toBe(false);
    expect(JSON.stringify(view)).toBe(JSON.stringify([{ uid: 10, size: 0 }, { uid: 11, size: 100 }, { uid: 12, size: 200 }]));
  });

  test("is read-only", () => {
    expect(() => {
      (view as Array<{ uid: number; size: number }>)[0] = { uid: 1, size: 1 };
    }).toThrow();
    expect(view[0]).toEqual({ uid: 10, size: 0 });
  });
});
