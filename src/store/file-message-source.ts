import { closeSync, read, readSync } from "node:fs";
import { StoreError, type MessageSource } from "./maildrop.ts";

/**
 * Bytes read ahead off the JS thread while the session waits for a slow client. Small, because a
 * process may have hundreds of sessions in RETR; the read-ahead buffer exists only while one runs.
 */
const READ_AHEAD_BYTES = 64 * 1024;
/** A read() this long after the previous one means the client is slow enough to read ahead for. */
const SLOW_READER_GAP_MS = 1;

/**
 * The raw bytes of one message file on an open descriptor; the session turns them into CRLF and
 * dot-stuffs them. The descriptor keeps the file readable even if it is renamed or unlinked meanwhile.
 *
 * MessageSource.read is synchronous, so a session in a many-session process would do its disk
 * reads on the JS thread. For a client that reads slowly (the session waits for the socket to
 * drain between chunks), the next chunk is read ahead in libuv's thread pool and read() is served
 * from memory. A client that keeps up gets plain short preads (page-cache copies), since a read
 * ahead would only be thrown away.
 */
export class FileMessageSource implements MessageSource {
  private position = 0;
  private ahead: { buffer: Buffer; position: number; length: number; state: "pending" | "ready" | "failed" } | undefined;
  private lastRead = 0;
  private closing = false;

  constructor(
    private fd: number,
    private readonly path: string,
    private readonly onClose: (source: FileMessageSource) => void,
  ) {}

  read(into: Buffer): number {
    if (this.fd < 0 || this.closing) return 0;
    const now = performance.now();
    const slowReader = this.lastRead !== 0 && now - this.lastRead >= SLOW_READER_GAP_MS;
    this.lastRead = now;
    let n = this.takeAhead(into);
    if (n < 0) {
      try {
        n = readSync(this.fd, into, 0, into.length, this.position);
      } catch (error) {
        throw new StoreError("perm", "Could not read message file", `${this.path}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.position += n;
    if (n > 0 && slowReader && this.ahead?.state !== "pending") this.readAhead();
    return n;
  }

  close(): void {
    if (this.fd < 0 || this.closing) return;
    this.closing = true;
    this.onClose(this);
    // A read ahead still in the thread pool must not find its descriptor closed (or reused).
    if (this.ahead?.state !== "pending") this.closeNow();
  }

  /** Bytes from a finished read ahead at the current position, or -1 when there are none. */
  private takeAhead(into: Buffer): number {
    const ahead = this.ahead;
    if (ahead === undefined || ahead.state === "pending") return -1;
    this.ahead = undefined;
    if (ahead.state === "failed" || ahead.position !== this.position) return -1;
    const n = Math.min(into.length, ahead.length);
    ahead.buffer.copy(into, 0, 0, n);
    if (n < ahead.length) {
      // The caller's buffer was smaller: keep the rest for the next read().
      this.ahead = { buffer: ahead.buffer.subarray(n), position: ahead.position + n, length: ahead.length - n, state: "ready" };
    }
    return n;
  }

  private readAhead(): void {
    const ahead = { buffer: Buffer.allocUnsafe(READ_AHEAD_BYTES), position: this.position, length: 0, state: "pending" as "pending" | "ready" | "failed" };
    this.ahead = ahead;
    read(this.fd, ahead.buffer, 0, READ_AHEAD_BYTES, ahead.position, (error, n) => {
      ahead.state = error ? "failed" : "ready";
      ahead.length = error ? 0 : n;
      if (this.closing) this.closeNow();
    });
  }

  private closeNow(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.ahead = undefined;
    closeSync(fd);
  }
}
