/**
 * The session's flow control against a transport that applies backpressure (BackpressureIO):
 * a client that pipelines without reading gets its input paused and costs bounded memory, before
 * and after login; once it reads, every command is answered exactly once, in order. Also the
 * close paths (a deadline-bounded close, at once on shutdown) and the idle timer, which times out
 * reads, not transfers.
 */
import { afterAll, describe, expect, jest, test } from "bun:test";
import { rmSync } from "node:fs";
import { Session } from "../../../src/pop3/session.ts";
import { silentLog } from "../../../src/log/log.ts";
import { MAX_INPUT_WHILE_UNREAD, MAX_PENDING_INPUT, OUTPUT_THROTTLE_BYTES } from "../../../src/limits.ts";
import { BackpressureIO, settle } from "./backpressure-io.ts";
import { LOGIN, TEN_MINUTES_MS, configDirectory, testPassdb, testSettings, testStore } from "./session-fixture.ts";
import type { SessionSettings } from "../../../src/pop3/settings.ts";

afterAll(() => rmSync(configDirectory, { recursive: true, force: true }));

const WINDOW = 8 * 1024;
const CHUNK = 16 * 1024;

function start(over: Partial<SessionSettings> = {}, bigBytes?: number) {
  const io = new BackpressureIO(WINDOW);
  const store = testStore(bigBytes);
  const session = new Session(io, { settings: testSettings(over), store, passdb: testPassdb, log: silentLog });
  const done = session.start();
  return { io, store, session, done };
}

/** The client side of the connection: bytes are delivered in chunks, and only while the session reads. */
class ClientInput {
  delivered = 0;
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Deliver what the session will take now. */
  async pump(session: Session, io: BackpressureIO): Promise<void> {
    while (this.remaining > 0 && !io.paused) {
      const chunk = this.bytes.subarray(this.offset, this.offset + CHUNK);
      this.offset += chunk.length;
      this.delivered += chunk.length;
      session.receive(chunk);
      await settle();
    }
  }
}

/** The bound on what the transport may be asked to hold: the window, one throttle's worth, one answer. */
const HELD_BOUND = WINDOW + OUTPUT_THROTTLE_BYTES + 1024;

describe("a client that pipelines and never reads", () => {
  for (const phase of ["before login (CAPA)", "after login (STAT)"] as const) {
    test(`${phase}: input is paused, output and buffered input stay bounded; reading resumes it, every answer arrives in order`, async () => {
      const { io, session } = start();
      const command = phase.startsWith("before") ? "CAPA\r\n" : "STAT\r\n";
      const count = 50_000;
      const script = (phase.startsWith("after") ? LOGIN : "") + command.repeat(count) + "QUIT\r\n";
      const input = new ClientInput(Buffer.from(script, "latin1"));
      await input.pump(session, io);
      await settle();

      // the client has read nothing: the session stopped taking input long before the end
      expect(io.paused).toBe(true);
      expect(input.remaining).toBeGreaterThan(0);
      expect(input.delivered).toBeLessThanOrEqual(MAX_PENDING_INPUT + 2 * CHUNK);
      expect(io.maxUnread).toBeLessThanOrEqual(HELD_BOUND);
      expect(io.writtenWhileHeld).toBe(0);

      // now the client reads, and the session goes on until QUIT
      let guard = 0;
      while (!session.isOver) {
        io.clientReads();
        await settle();
        await input.pump(session, io);
        if (++guard > 100_000) throw new Error("the session made no progress");
      }
      io.clientReads();
      expect(io.maxUnread).toBeLessThanOrEqual(HELD_BOUND);
      expect(io.writtenWhileHeld).toBe(0);
      const text = io.text;
      const answer = phase.startsWith("before") ? /\+OK List of capabilities follows\r\n(?:[^\r\n]+\r\n)*?\.\r\n/g : /\+OK 3 \d+\r\n/g;
      expect(text.match(answer)?.length).toBe(count);
      expect(text.endsWith("+OK\r\n")).toBe(true);
      expect(await session.done).toBe("quit");
    });
  }

  test("one socket read far larger than the input limit, from a client that reads nothing: disconnected, not kept", async () => {
    const { io, session, done } = start();
    // a socket read can bring 512 KiB at once; the session cannot give it back
    session.receive(Buffer.from("CAPA\r\n".repeat(Math.ceil((2 * MAX_INPUT_WHILE_UNREAD) / 6)), "latin1"));
    expect(await done).toBe("fatal");
    expect(io.closedWith).toBe("drain");
    expect(io.maxUnread).toBeLessThanOrEqual(HELD_BOUND);
  });

  test("a read below that limit only pauses: once the client reads, every command is answered", async () => {
    const { io, session } = start();
    const count = Math.floor(MAX_INPUT_WHILE_UNREAD / 2 / 6);
    session.receive(Buffer.from("CAPA\r\n".repeat(count) + "QUIT\r\n", "latin1"));
    await settle();
    expect(session.isOver).toBe(false);
    while (!session.isOver) {
      io.clientReads();
      await settle();
    }
    io.clientReads();
    expect(io.text.match(/\+OK List of capabilities follows\r\n/g)?.length).toBe(count);
    expect(await session.done).toBe("quit");
  });

  test("a big RETR to a client that reads slowly: the transport never holds more than one piece", async () => {
    const { io, session } = start({}, 2 * 1024 * 1024);
    const input = new ClientInput(Buffer.from(`${LOGIN}RETR 3\r\nQUIT\r\n`, "latin1"));
    await input.pump(session, io);
    await settle();
    while (!session.isOver) {
      io.clientReads();
      await settle();
      await input.pump(session, io);
    }
    io.clientReads();
    expect(io.text).toContain("+OK Message follows\r\nSubject: big\r\n");
    expect(io.text.endsWith(".\r\n+OK\r\n")).toBe(true);
    // one stuffed read chunk beyond the window at most
    expect(io.writtenWhileHeld).toBe(0);
  });
});

describe("sessions that end must close", () => {
  test("an idle timeout with unread output closes with the bounded 'drain' close; SIGTERM closes at once", async () => {
    const idle = start({ idleTimeoutMs: 1 });
    idle.session.receive(Buffer.from(`${LOGIN}RETR 3\r\n`));
    expect(await idle.done).toBe("idle");
    expect(idle.io.closedWith).toBe("drain");

    const term = start();
    term.session.receive(Buffer.from(`${LOGIN}RETR 3\r\n`));
    await settle();
    expect(term.io.unread).toBeGreaterThan(WINDOW);
    term.session.shutdown();
    expect(await term.done).toBe("shutdown");
    expect(term.io.closedWith).toBe("now");
  });
});

describe("the idle timer times out reads, not transfers", () => {
  test("a RETR that takes longer than poptimeout goes on while the client keeps reading; silence after it ends the session", async () => {
    jest.useFakeTimers();
    try {
      const { io, session, done } = start({ idleTimeoutMs: TEN_MINUTES_MS }, 1024 * 1024);
      let ended: string | undefined;
      void done.then((reason) => (ended = reason));
      session.receive(Buffer.from(`${LOGIN}RETR 3\r\n`));
      await settle();
      // the client reads a little every 9 minutes: far longer than poptimeout in total
      for (let i = 0; i < 20 && !io.written.endsWith("\r\n.\r\n"); i++) {
        jest.advanceTimersByTime(TEN_MINUTES_MS - 60_000);
        await settle();
        expect(ended).toBeUndefined();
        io.clientReads();
        await settle();
      }
      // the whole message went out over more than two idle periods; the timer restarted when it did
      expect(io.written.endsWith("\r\n.\r\n")).toBe(true);
      jest.advanceTimersByTime(TEN_MINUTES_MS - 1);
      await settle();
      expect(ended).toBeUndefined();
      jest.advanceTimersByTime(1);
      expect(await done).toBe("idle");
    } finally {
      jest.useRealTimers();
    }
  });
});
