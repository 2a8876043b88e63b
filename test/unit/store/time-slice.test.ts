import { describe, expect, test } from "bun:test";
import { sortInSlices, TimeSlicer } from "../../../src/store/fs/time-slice.ts";
import { buildMessageList, ListedMessage } from "../../../src/store/message-list.ts";

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

describe("buildMessageList", () => {
  test("lists every message's uid and size, in order, in an ordinary array", async () => {
    const list = await buildMessageList(5_000, (i) => i + 10, (i) => i * 3, new TimeSlicer(0));
    expect(Array.isArray(list)).toBe(true);
    expect(list.length).toBe(5_000);
    expect(list[0]).toEqual(new ListedMessage(10, 0));
    expect(list.at(-1)).toEqual(new ListedMessage(5_009, 14_997));
  });
});
