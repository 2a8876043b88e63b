/**
 * Connection, the one writer between a session and a Bun socket, against a fake socket that takes
 * only what the test lets it: the unsent tail is kept and sent on drain, never more than
 * MAX_QUEUED_OUTPUT is held, and a close gives a client that does not read only the deadline.
 */
import { afterEach, expect, jest, test } from "bun:test";
import { Connection } from "../../../src/server/connection.ts";
import { CLOSE_DRAIN_DEADLINE_MS, MAX_QUEUED_OUTPUT } from "../../../src/limits.ts";

class FakeSocket {
  /** Bytes the "kernel" still takes. */
  room = 0;
  sent = 0;
  ended = false;
  terminated = false;
  write(data: Uint8Array): number {
    if (this.ended || this.terminated) return -1;
    const n = Math.min(this.room, data.length);
    this.room -= n;
    this.sent += n;
    return n;
  }
  end(): void {
    this.ended = true;
  }
  terminate(): void {
    this.terminated = true;
  }
  pause(): void {}
  resume(): void {}
}

function connection(room: number) {
  const socket = new FakeSocket();
  socket.room = room;
  const conn = new Connection(socket as any, "[192.0.2.7]");
  return { socket, conn };
}

afterEach(() => jest.useRealTimers());

test("the unsent tail is kept and goes out on drain; drained() waits for it", async () => {
  const { socket, conn } = connection(10);
  expect(conn.write(Buffer.alloc(25, 1))).toBe(false);
  expect(conn.pendingBytes).toBe(15);
  let drained = false;
  void conn.drained().then(() => (drained = true));
  socket.room = 100;
  conn.onDrain();
  await Promise.resolve();
  expect(drained).toBe(true);
  expect(socket.sent).toBe(25);
  expect(conn.pendingBytes).toBe(0);
});

test("a writer that ignores backpressure cannot make the connection hold more than MAX_QUEUED_OUTPUT: it is dropped", () => {
  const { socket, conn } = connection(0);
  const piece = Buffer.alloc(64 * 1024);
  for (let i = 0; i * piece.length <= MAX_QUEUED_OUTPUT + piece.length; i++) conn.write(piece);
  expect(socket.terminated).toBe(true);
  expect(conn.isClosed).toBe(true);
  expect(conn.pendingBytes).toBe(0);
});

test("close('drain') with output the client never reads: the socket is cut at the deadline", () => {
  jest.useFakeTimers();
  const { socket, conn } = connection(0);
  conn.write(Buffer.alloc(1000));
  conn.close();
  expect(socket.ended).toBe(false);
  jest.advanceTimersByTime(CLOSE_DRAIN_DEADLINE_MS - 1);
  expect(socket.terminated).toBe(false);
  jest.advanceTimersByTime(1);
  expect(socket.terminated).toBe(true);
});

test("close('drain') with everything sent ends the socket; close('now') cuts it at once", () => {
  const a = connection(100);
  a.conn.write(Buffer.alloc(10));
  a.conn.close();
  expect(a.socket.ended).toBe(true);
  const b = connection(0);
  b.conn.write(Buffer.alloc(10));
  b.conn.close("now");
  expect(b.socket.terminated).toBe(true);
});
