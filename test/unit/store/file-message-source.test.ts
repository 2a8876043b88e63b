import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, openSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileMessageSource } from "../../../src/store/file-message-source.ts";

let dir: string;
let path: string;
const content = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pop3d-source-"));
  path = join(dir, "message");
  writeFileSync(path, content);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(source: FileMessageSource, chunk: number, pauseMs: (i: number) => number): Promise<Buffer> {
  const parts: Buffer[] = [];
  const buffer = Buffer.alloc(chunk);
  for (let i = 0; ; i++) {
    const n = source.read(buffer);
    if (n === 0) break;
    parts.push(Buffer.from(buffer.subarray(0, n)));
    const ms = pauseMs(i);
    if (ms > 0) await Bun.sleep(ms);
  }
  source.close();
  return Buffer.concat(parts);
}

test("a fast reader, a slow reader and one that changes pace all get the exact bytes", async () => {
  for (const [chunk, pace] of [
    [256 * 1024, () => 0],
    [256 * 1024, () => 3],
    [10_000, () => 2],
    [100_000, (i: number) => (i % 3 === 0 ? 3 : 0)],
  ] as Array<[number, (i: number) => number]>) {
    const source = new FileMessageSource(openSync(path, "r"), path, () => undefined);
    expect((await readAll(source, chunk, pace)).equals(content)).toBe(true);
  }
});

test("closing while a read ahead is in flight closes the descriptor once it lands", async () => {
  const fd = openSync(path, "r");
  let closedCallbacks = 0;
  const source = new FileMessageSource(fd, path, () => closedCallbacks++);
  const buffer = Buffer.alloc(4096);
  source.read(buffer);
  await Bun.sleep(3);
  source.read(buffer); // a slow reader: this starts a read ahead
  source.close();
  expect(closedCallbacks).toBe(1);
  expect(source.read(buffer)).toBe(0);
  // The descriptor goes once the read ahead is back (then the fd no longer names the message).
  const stillOurs = (): boolean => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  };
  while (stillOurs()) await Bun.sleep(1);
  expect(stillOurs()).toBe(false);
});
