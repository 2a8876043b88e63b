/** Client side of the raw socket copy reference (raw-copy-server.ts): bytes until close. */
import { join } from "node:path";
import { procStatusKb, sampleRss } from "../server.ts";

const SERVER_SCRIPT = join(import.meta.dir, "..", "raw-copy-server.ts");

export interface RawCopyResult {
  chunkBytes: number;
  medianMBps: number;
  bestMBps: number;
  rssPeakKb: number;
}

function receiveAll(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, chunk) => {
          bytes += chunk.length;
        },
        close: () => resolve(bytes),
        error: (_s, e) => reject(e),
      },
    }).catch(reject);
  });
}

export async function measureRawCopy(file: string, chunkBytes: number, repeats: number): Promise<RawCopyResult> {
  const proc = Bun.spawn([process.execPath, "run", SERVER_SCRIPT, file, String(chunkBytes)], { stdout: "pipe", stderr: "inherit" });
  try {
    const reader = proc.stdout.getReader();
    let text = "";
    while (!/listening on (\d+)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`raw-copy-server exited: ${text}`);
      text += new TextDecoder().decode(value);
    }
    const port = Number(/listening on (\d+)/.exec(text)![1]);
    const rates: number[] = [];
    let rssPeakKb = procStatusKb(proc.pid, "VmRSS");
    for (let r = 0; r < repeats; r++) {
      const sampler = sampleRss(proc.pid);
      const t0 = performance.now();
      const bytes = await receiveAll(port);
      rates.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
      rssPeakKb = Math.max(rssPeakKb, sampler.stop());
    }
    rates.sort((a, b) => a - b);
    return { chunkBytes, medianMBps: rates[Math.floor(rates.length / 2)]!, bestMBps: rates.at(-1)!, rssPeakKb };
  } finally {
    proc.kill();
    await proc.exited;
  }
}
