/**
 * The Session engine without sockets: a fake SessionIO records every byte, the memory store records
 * every commit. Covers what the wire cannot reach in reasonable time (poptimeout, pop3d.c:cmdloop) and the
 * commit contract of QUIT / EOF (RFC 1939 section 6, pop3d.c:popd_reset).
 *
 * Input handed over in one receive() call is processed entirely in promise continuations (the fake
 * passdb and the memory store never wait on I/O), so a timer — even a 1 ms idle timer — cannot fire
 * before those commands are answered. No test measures time.
 */
import { describe, expect, jest, test } from "bun:test";
import { Session } from "../../../src/pop3/session.ts";
import type { SessionIO } from "../../../src/pop3/session-io.ts";
import type { SessionSettings } from "../../../src/pop3/settings.ts";
import type { PasswordDb } from "../../../src/auth/passdb/passdb.ts";
import { silentLog } from "../../../src/log/log.ts";
import { TEN_MINUTES_MS, testSettings } from "./session-fixture.ts";
import { MemoryStore, type MemoryStoreOptions } from "../../support/memory-store.ts";

class FakeIO implements SessionIO {
  readonly clientHost = "[192.0.2.7]";
  readonly tlsActive = false;
  private readonly chunks: Buffer[] = [];
  closed = false;
  writesAfterClose = 0;

  write(data: Uint8Array): boolean {
    if (this.closed) this.writesAfterClose++;
    this.chunks.push(Buffer.from(data));
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
  pauseInput(): void {}
  resumeInput(): void {}

  get text(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }

  /** Everything after the greeting line. */
  get replies(): string {
    const t = this.text;
    return t.slice(t.indexOf("\r\n") + 2);
  }
}

const passdb: PasswordDb = {
  checkPassword: async (user, password) => user === "alice" && password === "alice-pw",
  plaintextSecret: async (user) => (user === "alice" ? "alice-pw" : undefined),
};

const MESSAGES = [
  "Subject: one\r\n\r\nfirst\r\n",
  "Subject: two\n\n.dot line\nlast line without newline",
  "Subject: three\r\n\r\n.\r\n..\r\nend\r\n",
];

/** What RETR sends before stuffing: bare LF → CRLF, a final CRLF added (RFC 1939 section 5). */
function wireSize(message: string): number {
  let text = message.replace(/\r?\n/g, "\r\n");
  if (!text.endsWith("\r\n")) text += "\r\n";
  return Buffer.byteLength(text, "latin1");
}
const SIZES = MESSAGES.map(wireSize);

function harness(over: Partial<SessionSettings> = {}, storeOptions: MemoryStoreOptions = {}, store?: MemoryStore) {
  const io = new FakeIO();
  const mailStore = store ?? new MemoryStore({ alice: { uidValidity: 1700000000, messages: [...MESSAGES] } }, storeOptions);
  const session = new Session(io, { settings: testSettings(over), store: mailStore, passdb, log: silentLog });
  const done = session.start();
  return { io, store: mailStore, session, done };
}

const LOGIN = "USER alice\r\nPASS alice-pw\r\n";
const READY = /^\+OK Name is a valid mailbox\r\n\+OK Mailbox locked and ready SESSIONID=<[^>]+>\r\n/;

/** Replies after a successful USER/PASS (the SESSIONID differs per session). */
function afterLogin(io: FakeIO): string {
  const replies = io.replies;
  expect(replies).toMatch(READY);
  return replies.replace(READY, "");
}

/** Let promise continuations run until `io` has written `text` (never waits on a timer). */
async function until(io: FakeIO, text: string): Promise<void> {
  for (let i = 0; i < 10_000 && !io.text.includes(text); i++) await Promise.resolve();
  expect(io.text).toContain(text);
}

describe("poptimeout (pop3d.c:cmdloop): idle sessions end silently and commit nothing", () => {
  test("in TRANSACTION with a pending DELE: nothing written at the timeout, no commit, maildrop closed", async () => {
    const { io, store, session, done } = harness({ idleTimeoutMs: 1 });
    session.receive(Buffer.from(`${LOGIN}DELE 1\r\nSTAT\r\n`));
    expect(await done).toBe("idle");
    expect(afterLogin(io)).toBe(`+OK message deleted\r\n+OK 2 ${SIZES[1]! + SIZES[2]!}\r\n`);
    expect(io.closed).toBe(true);
    expect(io.writesAfterClose).toBe(0);
    expect(store.commits).toEqual([]);
    expect(store.uids("alice")).toEqual([1, 2, 3]);
    expect(store.closes).toBe(1);
  });

  test("in AUTHORIZATION with a USER pending: only the greeting and the USER reply", async () => {
    const { io, store, session, done } = harness({ idleTimeoutMs: 1 });
    session.receive(Buffer.from("USER alice\r\n"));
    expect(await done).toBe("idle");
    expect(io.text).toMatch(/^\+OK pop\.test pop3d \S+ server ready <\d+\.\d+@pop\.test>\r\n\+OK Name is a valid mailbox\r\n$/);
    expect(io.closed).toBe(true);
    expect(store.opens).toEqual([]);
  });

  test("every received chunk restarts the timer; silence for the full period ends the session", async () => {
    jest.useFakeTimers();
    try {
      const { io, store, session, done } = harness({ idleTimeoutMs: TEN_MINUTES_MS });
      let ended: string | undefined;
      void done.then((reason) => (ended = reason));
      session.receive(Buffer.from(`${LOGIN}DELE 2\r\n`));
      await until(io, "+OK message deleted\r\n");
      jest.advanceTimersByTime(TEN_MINUTES_MS - 1);
      await Promise.resolve();
      expect(ended).toBeUndefined();
      session.receive(Buffer.from("NOOP\r\n"));
      await until(io, "+OK message deleted\r\n+OK\r\n");
      jest.advanceTimersByTime(TEN_MINUTES_MS - 1);
      await Promise.resolve();
      expect(ended).toBeUndefined();
      const before = io.text;
      jest.advanceTimersByTime(1);
      expect(await done).toBe("idle");
      expect(io.text).toBe(before);
      expect(io.closed).toBe(true);
      expect(store.commits).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe("QUIT and EOF (RFC 1939 section 6, pop3d.c:popd_reset)", () => {
  test("QUIT commits the DELE'd messages and the RETR'd ones (not TOP), then closes", async () => {
    const { io, store, session, done } = harness();
    session.receive(Buffer.from(`${LOGIN}RETR 1\r\nDELE 2\r\nTOP 3 0\r\nQUIT\r\n`));
    expect(await done).toBe("quit");
    expect(io.text.endsWith(".\r\n+OK\r\n")).toBe(true);
    expect(store.commits).toEqual([{ user: "alice", folder: undefined, deleted: [1], retrieved: [0], expunged: 1 }]);
    expect(store.uids("alice")).toEqual([1, 3]);
    expect(io.closed).toBe(true);
  });

  test("RSET clears both the deleted and the retrieved marks", async () => {
    const { store, session, done } = harness();
    session.receive(Buffer.from(`${LOGIN}RETR 1\r\nDELE 2\r\nRSET\r\nDELE 3\r\nQUIT\r\n`));
    expect(await done).toBe("quit");
    expect(store.commits).toEqual([{ user: "alice", folder: undefined, deleted: [2], retrieved: [], expunged: 1 }]);
  });

  test("EOF after DELE commits nothing", async () => {
    const { io, store, session, done } = harness();
    session.receive(Buffer.from(`${LOGIN}DELE 1\r\nDELE 3\r\n`));
    session.receiveEnd();
    expect(await done).toBe("eof");
    expect(afterLogin(io)).toBe("+OK message deleted\r\n+OK message deleted\r\n");
    expect(store.commits).toEqual([]);
    expect(store.uids("alice")).toEqual([1, 2, 3]);
  });

  test("a last line without LF before EOF is executed (a final QUIT commits)", async () => {
    const { io, store, session, done } = harness();
    session.receive(Buffer.from(`${LOGIN}DELE 1\r\nQUIT`));
    session.receiveEnd();
    expect(await done).toBe("quit");
    expect(afterLogin(io)).toBe("+OK message deleted\r\n+OK\r\n");
    expect(store.commits.map((c) => c.deleted)).toEqual([[0]]);
  });

  test("QUIT in AUTHORIZATION: +OK, no maildrop opened, no commit", async () => {
    const { io, store, session, done } = harness();
    session.receive(Buffer.from("USER alice\r\nQUIT\r\n"));
    expect(await done).toBe("quit");
    expect(io.replies).toBe("+OK Name is a valid mailbox\r\n+OK\r\n");
    expect(store.opens).toEqual([]);
    expect(store.commits).toEqual([]);
  });
});

describe("framing and streaming do not depend on chunk boundaries", () => {
  const script = `${LOGIN}LIST\r\nRETR 2\r\nTOP 3 1\r\nUIDL 3\r\nSTAT \r\nQUIT\r\n`;
  const expected =
    `+OK scan listing follows\r\n1 ${SIZES[0]}\r\n2 ${SIZES[1]}\r\n3 ${SIZES[2]}\r\n.\r\n` +
    "+OK Message follows\r\nSubject: two\r\n\r\n..dot line\r\nlast line without newline\r\n.\r\n" +
    "+OK Message follows\r\nSubject: three\r\n\r\n..\r\n.\r\n" +
    "+OK 3 1700000000.3\r\n-ERR Syntax error\r\n+OK\r\n";

  test("whole script in one chunk, message read whole", async () => {
    const { io, session, done } = harness();
    session.receive(Buffer.from(script));
    expect(await done).toBe("quit");
    expect(afterLogin(io)).toBe(expected);
  });

  test("one byte per receive() and one byte per store read", async () => {
    const { io, session, done } = harness({}, { readChunk: 1 });
    for (const byte of Buffer.from(script)) session.receive(Uint8Array.of(byte));
    expect(await done).toBe("quit");
    expect(afterLogin(io)).toBe(expected);
  });

  test("lines of dots across store read boundaries are stuffed once each", async () => {
    const { io, session, done } = harness({}, { readChunk: 2 });
    session.receive(Buffer.from(`${LOGIN}RETR 3\r\nQUIT\r\n`));
    expect(await done).toBe("quit");
    expect(afterLogin(io)).toBe("+OK Message follows\r\nSubject: three\r\n\r\n..\r\n...\r\nend\r\n.\r\n+OK\r\n");
  });
});

describe("the login snapshot (RFC 1939 section 5, pop3d.c:openinbox)", () => {
  test("mail delivered during a session appears only in the next one", async () => {
    const first = harness();
    first.session.receive(Buffer.from(LOGIN));
    await until(first.io, "Mailbox locked");
    const late = "Subject: four\r\n\r\nlate\r\n";
    first.store.deliver("alice", late);
    first.session.receive(Buffer.from("STAT\r\nLIST 4\r\nQUIT\r\n"));
    expect(await first.done).toBe("quit");
    const total = SIZES.reduce((a, b) => a + b, 0);
    expect(afterLogin(first.io)).toBe(`+OK 3 ${total}\r\n-ERR No such message\r\n+OK\r\n`);

    const second = harness({}, {}, first.store);
    second.session.receive(Buffer.from(`${LOGIN}STAT\r\nUIDL 4\r\nQUIT\r\n`));
    expect(await second.done).toBe("quit");
    expect(afterLogin(second.io)).toBe(`+OK 4 ${total + wireSize(late)}\r\n+OK 4 1700000000.4\r\n+OK\r\n`);
  });

  test("a message removed by someone else: RETR/TOP answer [SYS/PERM] and the session continues", async () => {
    const { io, store, session, done } = harness();
    session.receive(Buffer.from(LOGIN));
    await until(io, "Mailbox locked");
    store.vanish("alice", 1);
    session.receive(Buffer.from("RETR 2\r\nTOP 2 0\r\nLIST 2\r\nNOOP\r\nQUIT\r\n"));
    expect(await done).toBe("quit");
    expect(afterLogin(io)).toBe(
      "-ERR [SYS/PERM] Could not read message file\r\n-ERR [SYS/PERM] Could not read message file\r\n" +
        `+OK 2 ${SIZES[1]}\r\n+OK\r\n+OK\r\n`,
    );
  });
});

describe("UIDL rendering (pop3d.c:uidl_msg)", () => {
  const cases: Array<[SessionSettings["uidlFormat"], boolean, string]> = [
    ["cyrus", true, "1700000000.2"],
    ["uidonly", true, "2"],
    ["dovecot", true, "000000026553f100"],
    ["courier", true, "1700000000-2"],
    ["dovecot", false, "2"],
  ];
  for (const [format, newUidl, want] of cases) {
    test(`${format}${newUidl ? "" : " on a legacy mailbox"} → ${want}`, async () => {
      const { io, session, done } = harness({ uidlFormat: format }, { newUidl });
      session.receive(Buffer.from(`${LOGIN}UIDL 2\r\nQUIT\r\n`));
      expect(await done).toBe("quit");
      expect(afterLogin(io)).toBe(`+OK 2 ${want}\r\n+OK\r\n`);
    });
  }
});
