/**
 * `make fuzz`: the long fuzz run. Usage: bun run test/fuzz/run.ts [--lines N] [--seed S]
 * Prints the volume, the time and the memory figures; exits 1 with the seed on the first failure.
 */
import { fuzz } from "./fuzz-engine.ts";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const lines = option("--lines", 1_000_000);
const seed = option("--seed", (Math.random() * 0x100000000) >>> 0);
Bun.gc(true);
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
try {
  const result = await fuzz(seed, lines);
  Bun.gc(true);
  const seconds = (performance.now() - started) / 1000;
  const grownMb = (process.memoryUsage().rss - rssBefore) / 1048576;
  console.log(
    `fuzz: seed ${seed}: ${result.lines} command lines in ${result.episodes} sessions and ${result.proxyHeaders} PROXY headers, ` +
      `${seconds.toFixed(1)} s, no crash, no hang; RSS growth ${grownMb.toFixed(1)} MB; a fresh session still works`,
  );
} catch (error) {
  console.error(`fuzz: seed ${seed} FAILED: ${(error as Error).message}`);
  process.exit(1);
}
