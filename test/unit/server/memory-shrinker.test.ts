import { describe, expect, test } from "bun:test";
import { MemoryShrinker } from "../../../src/server/memory-shrinker.ts";

/** A process whose CPU clock, resident size and shrink calls the test drives; ticks are called by hand. */
function fakeProcess() {
  const p = { cpuMicros: 0, resident: 10 << 20, shrinks: 0 };
  const shrinker = new MemoryShrinker({
    tickMs: 500,
    quietCpuMs: 2,
    growthBytes: 2 << 20,
    cpuMicros: () => p.cpuMicros,
    residentBytes: () => p.resident,
    shrink: () => {
      p.shrinks++;
      p.resident -= 1 << 20;
    },
  });
  return { p, shrinker };
}

/** A fake process past its start-up shrink and the measuring tick after it: its baseline is set. */
function settledProcess() {
  const f = fakeProcess();
  f.shrinker.tick();
  f.shrinker.tick();
  return f;
}

describe("MemoryShrinker", () => {
  test("the first quiet tick gives back what start-up left; then the size after it is the baseline", () => {
    const { p, shrinker } = fakeProcess();
    expect(shrinker.tick()).toBe(true);
    expect(p.shrinks).toBe(1);
    // the tick after a shrink only measures
    expect(shrinker.tick()).toBe(false);
    expect(shrinker.tick()).toBe(false);
    expect(p.shrinks).toBe(1);
  });

  test("a process doing work is never shrunk, however much it grew", () => {
    const { p, shrinker } = settledProcess();
    p.resident += 50 << 20;
    for (let i = 0; i < 5; i++) {
      p.cpuMicros += 2_000;
      expect(shrinker.tick()).toBe(false);
    }
    expect(p.shrinks).toBe(1);
    // the burst is over: the next quiet tick shrinks
    expect(shrinker.tick()).toBe(true);
    expect(p.shrinks).toBe(2);
  });

  test("a quiet process that grew less than the threshold keeps its compiled code", () => {
    const { p, shrinker } = settledProcess();
    p.resident += (2 << 20) - 1;
    expect(shrinker.tick()).toBe(false);
    p.resident += 1;
    expect(shrinker.tick()).toBe(true);
  });

  test("the baseline is measured on the tick after a shrink even when that tick is busy", () => {
    const { p, shrinker } = fakeProcess();
    shrinker.tick();
    p.cpuMicros += 10_000;
    shrinker.tick();
    p.resident += 1 << 20;
    expect(shrinker.tick()).toBe(false);
  });

  test("a shrink that throws is swallowed and counts as done", () => {
    const shrinker = new MemoryShrinker({
      cpuMicros: () => 0,
      residentBytes: () => 1 << 20,
      shrink: () => {
        throw new Error("no such API");
      },
    });
    expect(shrinker.tick()).toBe(true);
    expect(shrinker.tick()).toBe(false);
  });

  test("the Bun this is built with has Bun.shrink (the fallback is only a full collection)", () => {
    expect(typeof (Bun as { shrink?: unknown }).shrink).toBe("function");
  });
});
