/**
 * The short fuzz run of `make test`: a fixed seed (the same inputs every run) and one random seed
 * (new inputs every run, printed when it fails so the failure can be replayed with
 * `bun run test/fuzz/run.ts --seed N`). Bounded by a line count and a time budget; `make fuzz`
 * runs the long version. Memory must stay bounded over the run.
 */
import { expect, test } from "bun:test";
import { fuzz } from "./fuzz-engine.ts";

const LINES = 100_000;
const BUDGET_MS = 20_000;
/** Growth of this process's resident memory over a run; leaks per line would show far beyond it. */
const MEMORY_LIMIT_BYTES = 96 * 1024 * 1024;

async function run(seed: number): Promise<void> {
  Bun.gc(true);
  const before = process.memoryUsage().rss;
  let result;
  try {
    result = await fuzz(seed, LINES, BUDGET_MS);
  } catch (error) {
    throw new Error(`fuzz seed ${seed} failed (replay: bun run test/fuzz/run.ts --seed ${seed}): ${(error as Error).message}`);
  }
  Bun.gc(true);
  const grown = process.memoryUsage().rss - before;
  expect(result.lines).toBeGreaterThan(0);
  expect(grown).toBeLessThan(MEMORY_LIMIT_BYTES);
}

test("fixed seed: no crash, no hang, clean -ERR lines, bounded memory, a fresh session still works", async () => {
  await run(20251206);
}, 60_000);

test("one random seed (printed on failure)", async () => {
  const seed = (Math.random() * 0x100000000) >>> 0;
  await run(seed);
}, 60_000);
