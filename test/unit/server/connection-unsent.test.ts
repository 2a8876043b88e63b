/**
 * A Connection on a real loopback TCP socket whose client does not read: the kernel pushes back
 * after about KERNEL_UNSENT_BYTES of unsent answers, not after the 4 MiB an autotuned send buffer
 * takes (net.ipv4.tcp_wmem), which the session would otherwise have to compute answers for first.
 */
import { afterAll, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { Connection } from "../../../src/server/connection.ts";
import { KERNEL_UNSENT_BYTES } from "../../../src/limits.ts";

const listeners: TCPSocketListener<undefined>[] = [];
afterAll(() => {
  for (const l of listeners) l.stop(true);
});

/** A connected pair: the server end, and a client that never reads. */
async function nonReadingClient(): Promise<{ server: Socket<undefined>; client: Socket<undefined> }> {
  let accepted!: (s: Socket<undefined>) => void;
  const serverSide = new Promise<Socket<undefined>>((resolve) => (accepted = resolve));
  const listener = Bun.listen<undefined>({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => accepted(s), data() {} } });
  listeners.push(listener);
  const client = await Bun.connect<undefined>({ hostname: "127.0.0.1", port: listener.port, socket: { data() {} } });
  client.pause();
  return { server: await serverSide, client };
}

test("to a client that reads nothing, the kernel takes far less than an autotuned send buffer before the connection holds", async () => {
  const { server, client } = await nonReadingClient();
  const conn = new Connection(server, "[127.0.0.1]");
  // small answers, as a pipelined STAT gets them, until the transport reports unsent bytes
  const answer = Buffer.from("+OK 7 1234567\r\n".repeat(256), "latin1");
  let accepted = 0;
  while (conn.write(answer)) {
    accepted += answer.length;
    // a loopback socket can take a few MiB; far beyond that something else is wrong
    if (accepted > 64 * 1024 * 1024) break;
  }
  // the client's receive buffer (it never reads, so it is not autotuned up) plus the unsent limit
  expect(accepted).toBeLessThan(4 * KERNEL_UNSENT_BYTES + 256 * 1024);
  conn.terminate();
  client.terminate();
});
