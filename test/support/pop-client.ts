/**
 * A raw POP3 client for tests: exact bytes out, exact lines in. It never interprets responses,
 * so tests see what the server really sent (including any framing mistakes).
 */
import type { Socket } from "bun";
import { ByteQueue } from "./byte-queue.ts";

/** Where outgoing bytes go: a TCP/unix socket, or a child's stdin pipe. */
interface Outlet {
  write(bytes: Buffer): void;
  end(): void;
  abort(): void;
}

export interface Multiline {
  /** Dot-unstuffed lines, without CRLF, without the terminating ".". */
  lines: string[];
  /** Dot-unstuffed bytes exactly as received (CRLF kept), without the final ".\r\n". */
  body: Buffer;
}

type SocketHandlers = Parameters<typeof Bun.connect<undefined>>[0]["socket"];

export class PopClient {
  greeting = "";
  private readonly inbox = new ByteQueue();
  private wake: (() => void) | null = null;
  private isClosed = false;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;
  private outlet!: Outlet;
  private onDrain: () => void = () => {};
  private socket: Socket<undefined> | undefined;

  private constructor() {
    this.closedPromise = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** Connects over TCP and reads the greeting. */
  static async connect(port: number, host = "127.0.0.1"): Promise<PopClient> {
    const client = new PopClient();
    const socket = await Bun.connect({ hostname: host, port, socket: client.socketHandlers() });
    client.useSocket(socket);
    client.greeting = await client.readLine();
    return client;
  }

  /** Adopts a connected socket fd (one end of a socketpair) and reads the greeting. */
  static async adopt(fd: number): Promise<PopClient> {
    const client = new PopClient();
    const socket = await Bun.connect({ fd, socket: client.socketHandlers() });
    client.useSocket(socket);
    client.greeting = await client.readLine();
    return client;
  }

  /** Talks over a child's stdout/stdin pipes and reads the greeting. */
  static async overPipes(stdout: ReadableStream<Uint8Array>, stdin: Bun.FileSink): Promise<PopClient> {
    const client = new PopClient();
    client.outlet = {
      write(bytes) {
        stdin.write(bytes);
        void stdin.flush();
      },
      end() {
        void stdin.end();
      },
      abort() {
        void stdin.end();
      },
    };
    void (async () => {
      try {
        for await (const chunk of stdout) client.receive(chunk);
      } finally {
        client.receiveEnd();
      }
    })();
    client.greeting = await client.readLine();
    return client;
  }

  /** Raw bytes; the caller adds CRLF. */
  send(raw: string | Uint8Array): void {
    this.outlet.write(typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.from(raw));
  }

  /** One line without its CRLF (a bare LF terminator is tolerated here and visible via readRawLine). */
  async readLine(): Promise<string> {
    return stripEol(await this.readRawLine()).toString("utf8");
  }

  /** One line exactly as received, terminator included. Rejects if the connection ends first. */
  async readRawLine(): Promise<Buffer> {
    for (;;) {
      const line = this.inbox.takeLine();
      if (line) return line;
      if (this.isClosed) {
        const partial = this.inbox.takeAll();
        throw new Error(`connection closed before a complete line (partial: ${JSON.stringify(partial.toString("latin1").slice(0, 200))})`);
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The lines of a multi-line response up to its "." terminator (the status line must be read first). */
  async readMultiline(): Promise<Multiline> {
    const lines: string[] = [];
    const parts: Buffer[] = [];
    for (;;) {
      const raw = await this.readRawLine();
      if (raw.length === 3 && raw[0] === 0x2e && raw[1] === 0x0d && raw[2] === 0x0a) break;
      const unstuffed = raw[0] === 0x2e ? raw.subarray(1) : raw;
      parts.push(unstuffed);
      lines.push(stripEol(unstuffed).toString("utf8"));
    }
    return { lines, body: Buffer.concat(parts) };
  }

  /** Sends `line` + CRLF and returns the first response line. */
  async cmd(line: string): Promise<string> {
    this.send(line + "\r\n");
    return this.readLine();
  }

  /** Resolves when the server has closed the connection. */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Whatever arrived and was not read yet (useful after close to prove nothing extra was sent). */
  unread(): Buffer {
    return this.inbox.takeAll();
  }

  /** Orderly close (FIN). */
  close(): void {
    this.outlet.end();
  }

  /** Abrupt close (RST where the transport allows it). */
  abort(): void {
    this.outlet.abort();
  }

  private receive(chunk: Uint8Array): void {
    this.inbox.push(chunk);
    this.wakeReader();
  }

  private receiveEnd(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.markClosed();
    this.wakeReader();
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Stop reading from the socket: what the server sends piles up in the kernel (a client that never reads). */
  pauseReading(): void {
    this.socket?.pause();
  }

  /** The local TCP port (to find this connection in /proc/net/tcp). */
  get localPort(): number {
    return this.socket?.localPort ?? 0;
  }

  private useSocket(socket: Socket<undefined>): void {
    this.socket = socket;
    const { outlet, flush } = socketOutlet(socket);
    this.outlet = outlet;
    this.onDrain = flush;
  }

  private socketHandlers(): SocketHandlers {
    return {
      data: (_socket, chunk) => this.receive(chunk),
      drain: () => this.onDrain(),
      end: () => this.receiveEnd(),
      close: () => this.receiveEnd(),
      error: () => this.receiveEnd(),
    };
  }
}

/** Bun sockets drop what write() does not accept: keep the tail and resume on drain. */
function socketOutlet(socket: Socket<undefined>): { outlet: Outlet; flush: () => void } {
  const pending: Buffer[] = [];
  const flush = (): void => {
    while (pending.length > 0) {
      const head = pending[0]!;
      const n = socket.write(head);
      if (n < 0) {
        pending.length = 0;
        return;
      }
      if (n < head.length) {
        pending[0] = head.subarray(n);
        return;
      }
      pending.shift();
    }
  };
  const outlet: Outlet = {
    write(bytes) {
      pending.push(bytes);
      if (pending.length === 1) flush();
    },
    end() {
      socket.end();
    },
    abort() {
      socket.terminate();
    },
  };
  return { outlet, flush };
}

function stripEol(line: Buffer): Buffer {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) end--;
  if (end > 0 && line[end - 1] === 0x0d) end--;
  return line.subarray(0, end);
}
