/**
 * The session's turns: against a transport that never reports backpressure (on loopback the kernel
 * takes megabytes of answers before it does), a session still lets the rest of its process run —
 * other sessions' I/O, new connections, timers — every COMMANDS_PER_TURN commands and every
 * OUTPUT_BYTES_PER_TURN bytes of answers, and still answers every command exactly once, in order.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Session } from "../../../src/pop3/session.ts";
import { silentLog } from "../../../src/log/log.ts";
import { COMMANDS_PER_TURN, OUTPUT_BYTES_PER_TURN } from "../../../src/limits.ts";
import { BackpressureIO } from "./backpressure-io.ts";
import { LOGIN, configDirectory, testPassdb, testSettings, testStore } from "./session-fixture.ts";
import { MemoryStore } from "../../support/memory-store.ts";
import type { MailStore } from "../../../src/store/maildrop.ts";

afterAll(() => rmSync(configDirectory, { recursive: true, force: true }));

/** A session whose transport takes everything at once and never holds bytes. */
function start(store: MailStore = testStore()) {
  const io = new BackpressureIO(Number.POSITIVE_INFINITY);
  const session = new Session(io, { settings: testSettings(), store, passdb: testPassdb, log: silentLog });
  const done = session.start();
  return { io, session, done };
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

describe("a client pipelining to a transport that never reports backpressure", () => {
  test("50,000 pipelined STATs are answered in turns: another macrotask runs after the first turn, a timer before the end; every answer arrives", async () => {
    const { io, session, done } = start();
    const commands = 50_000;
    const stat = /\+OK 3 \d+\r\n/g;
    session.receive(Buffer.from(LOGIN + "STAT\r\n".repeat(commands) + "QUIT\r\n", "latin1"));
    // queued now, before the session's first turn runs: they get to run right after it
    let answeredWhenOtherTaskRan: number | undefined;
    setImmediate(() => (answeredWhenOtherTaskRan = count(io.written, stat)));
    let overWhenTimerRan: boolean | undefined;
    setTimeout(() => (overWhenTimerRan = session.isOver), 0);

    expect(await done).toBe("quit");
    expect(answeredWhenOtherTaskRan).toBeDefined();
    expect(answeredWhenOtherTaskRan!).toBeLessThanOrEqual(COMMANDS_PER_TURN);
    expect(overWhenTimerRan).toBe(false);
    const text = io.written;
    expect(count(text, stat)).toBe(commands);
    expect(text.endsWith("+OK 3 ")).toBe(false);
    expect(text.endsWith("\r\n+OK\r\n")).toBe(true);
  });

  test("pipelined RETRs of a big message: the process gets its turn after each answer beyond the byte budget", async () => {
    const messageBytes = 4 * OUTPUT_BYTES_PER_TURN;
    const { io, session, done } = start(testStore(messageBytes));
    const retrs = 20;
    const answer = /\+OK Message follows\r\nSubject: big\r\n/g;
    session.receive(Buffer.from(LOGIN + "RETR 3\r\n".repeat(retrs) + "QUIT\r\n", "latin1"));
    let answeredWhenOtherTaskRan: number | undefined;
    setImmediate(() => (answeredWhenOtherTaskRan = count(io.written, answer)));

    expect(await done).toBe("quit");
    // one message is four turns' worth of bytes: no second one before the others ran
    expect(answeredWhenOtherTaskRan!).toBeLessThanOrEqual(1);
    expect(count(io.written, answer)).toBe(retrs);
  });

  test("a listing longer than the byte budget is written over several turns, and arrives whole", async () => {
    const messages = Array.from({ length: 20_000 }, (_, i) => `Subject: ${i}\r\n\r\nbody\r\n`);
    const { io, session, done } = start(new MemoryStore({ alice: { uidValidity: 1700000000, messages } }));
    session.receive(Buffer.from(`${LOGIN}UIDL\r\nQUIT\r\n`, "latin1"));
    let writtenWhenOtherTaskRan: string | undefined;
    setImmediate(() => (writtenWhenOtherTaskRan = io.written));

    expect(await done).toBe("quit");
    // the listing had begun, and was not finished, when the other task ran
    expect(writtenWhenOtherTaskRan).toContain("+OK unique-id listing follows\r\n1 ");
    expect(writtenWhenOtherTaskRan!.endsWith("\r\n.\r\n")).toBe(false);
    expect(writtenWhenOtherTaskRan!.length).toBeLessThan(io.written.length);
    const listing = io.written.split("+OK unique-id listing follows\r\n")[1]!.split("\r\n.\r\n")[0]!.split("\r\n");
    expect(listing.length).toBe(messages.length);
    expect(listing.at(-1)!.startsWith(`${messages.length} `)).toBe(true);
  });
});
