/**
 * RETR throughput for one large message: the client reads as fast as it can and only counts
 * bytes. Server RSS is sampled during each transfer so memory growth with message size shows.
 */
import { PopWire } from "../pop3-wire.ts";
import { cpuSeconds, procStatusKb, sampleRss } from "../server.ts";
import type { Credentials } from "../loadgen.ts";

export interface LargeRetrResult {
  runs: { seconds: number; wireBytes: number; mbps: number }[];
  medianMBps: number;
  bestMBps: number;
  /** Body bytes received vs the message size plus one byte per dot-led line. */
  bytesAsExpected: boolean;
  rssBeforeKb: number;
  rssPeakKb: number;
  /** Wire MB per second of server CPU time over all timed runs (steadier on a shared machine). */
  mbPerServerCpuSecond: number;
}

export async function measureLargeRetr(
  port: number,
  user: Credentials,
  expectedWireBytes: number,
  serverPid: number,
  repeats: number,
): Promise<LargeRetrResult> {
  const wire = await PopWire.connect("127.0.0.1", port);
  await wire.readLine();
  await wire.command(`USER ${user.name}`);
  await wire.command(`PASS ${user.password}`);
  await wire.command("STAT");
  await wire.multiline("RETR 1"); // warm-up: page cache, JIT, socket buffers
  const rssBeforeKb = procStatusKb(serverPid, "VmRSS");
  let rssPeakKb = rssBeforeKb;
  let bytesAsExpected = true;
  const runs: LargeRetrResult["runs"] = [];
  const cpuBefore = cpuSeconds(serverPid);
  for (let r = 0; r < repeats; r++) {
    const sampler = sampleRss(serverPid);
    const t0 = performance.now();
    const { bytes } = await wire.multiline("RETR 1");
    const seconds = (performance.now() - t0) / 1000;
    rssPeakKb = Math.max(rssPeakKb, sampler.stop());
    if (bytes !== expectedWireBytes) bytesAsExpected = false;
    runs.push({ seconds, wireBytes: bytes, mbps: bytes / 1e6 / seconds });
  }
  const serverCpu = cpuSeconds(serverPid) - cpuBefore;
  await wire.command("QUIT");
  wire.close();
  const rates = runs.map((r) => r.mbps).sort((a, b) => a - b);
  return {
    runs,
    medianMBps: rates[Math.floor(rates.length / 2)]!,
    bestMBps: rates.at(-1)!,
    bytesAsExpected,
    rssBeforeKb,
    rssPeakKb,
    mbPerServerCpuSecond: runs.reduce((sum, r) => sum + r.wireBytes, 0) / 1e6 / serverCpu,
  };
}
