/**
 * Reference point for RETR throughput: a bare Bun.listen server that sends a file to each
 * connection (readSync into one reused buffer, write with backpressure) and closes. No protocol,
 * no dot-stuffing: what the runtime's socket path can do on this machine.
 *   bun run bench/raw-copy-server.ts FILE CHUNK_BYTES   → prints "raw-copy: listening on PORT"
 */
import { closeSync, openSync, readSync } from "node:fs";
import type { Socket } from "bun";

interface Copy {
  fd: number;
  pending: Buffer | undefined;
}

const [file, chunkText] = Bun.argv.slice(2);
if (!file || !chunkText) {
  console.error("usage: bun run bench/raw-copy-server.ts FILE CHUNK_BYTES");
  process.exit(64);
}
const buffer = Buffer.allocUnsafe(Number(chunkText));

function pump(s: Socket<Copy>): void {
  const st = s.data;
  for (;;) {
    if (!st.pending) {
      const n = readSync(st.fd, buffer, 0, buffer.length, null);
      if (n === 0) {
        s.end();
        return;
      }
      st.pending = buffer.subarray(0, n);
    }
    const sent = s.write(st.pending);
    if (sent < st.pending.length) {
      st.pending = st.pending.subarray(Math.max(sent, 0));
      return;
    }
    st.pending = undefined;
  }
}

const listener = Bun.listen<Copy>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(s) {
      s.data = { fd: openSync(file, "r"), pending: undefined };
      pump(s);
    },
    drain: pump,
    close(s) {
      closeSync(s.data.fd);
    },
    data() {},
  },
});
console.log(`raw-copy: listening on ${listener.port}`);
