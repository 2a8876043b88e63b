/**
 * USAGE reports the session's own CPU time: in a process that runs many sessions, work done for
 * another session is not charged to this one.
 */
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Session } from "../../../src/pop3/session.ts";
import type { Log } from "../../../src/log/log.ts";
import { BackpressureIO, settle } from "./backpressure-io.ts";
import { LOGIN, configDirectory, testPassdb, testSettings, testStore } from "./session-fixture.ts";

afterAll(() => rmSync(configDirectory, { recursive: true, force: true }));

function usageLog(): { log: Log; usage: string[] } {
  const usage: string[] = [];
  const keep = (message: string) => {
    if (message.startsWith("USAGE ")) usage.push(message);
  };
  const log = { err: keep, warning: keep, notice: keep, info: keep, debug: keep } as unknown as Log;
  return { log, usage };
}

const micros = (line: string): number => {
  const m = /user: (\d+)\.(\d{6}) sys: (\d+)\.(\d{6})$/.exec(line);
  if (!m) throw new Error(`not a USAGE line: ${line}`);
  return (Number(m[1]) + Number(m[3])) * 1e6 + Number(m[2]) + Number(m[4]);
};

test("a light session's USAGE does not include a busy session's CPU in the same process", async () => {
  const { log, usage } = usageLog();
  const busyIo = new BackpressureIO(1 << 30);
  const busy = new Session(busyIo, { settings: testSettings(), store: testStore(2 * 1024 * 1024), passdb: testPassdb, log });
  void busy.start();
  const before = process.cpuUsage();
  // the busy session retrieves a 2 MiB message ten times and stays logged in
  busy.receive(Buffer.from(LOGIN + "RETR 3\r\n".repeat(10)));
  while ((busyIo.written.match(/\+OK Message follows/g)?.length ?? 0) < 10 || !busyIo.written.endsWith(".\r\n")) await settle(10);
  const busyWork = process.cpuUsage(before);
  const busyMicros = busyWork.user + busyWork.system;

  const lightIo = new BackpressureIO(1 << 20);
  const light = new Session(lightIo, { settings: testSettings(), store: testStore(), passdb: testPassdb, log });
  void light.start();
  light.receive(Buffer.from(LOGIN + "STAT\r\nQUIT\r\n"));
  expect(await light.done).toBe("quit");
  busy.receive(Buffer.from("QUIT\r\n"));
  expect(await busy.done).toBe("quit");

  expect(usage).toHaveLength(2);
  const [lightUsage, busyUsage] = usage as [string, string];
  expect(lightUsage).toStartWith("USAGE alice user: ");
  // the busy session is charged most of the work it caused; the light one only its own
  expect(micros(busyUsage)).toBeGreaterThan(busyMicros / 2);
  expect(micros(lightUsage)).toBeLessThan(busyMicros / 10);
});
