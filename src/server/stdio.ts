/**
 * stdio mode: inetd/xinetd (fd 0 is the connected socket) and Cyrus's -X. One session, then exit.
 * Nothing but the session may appear on fds 1 and 2 (xinetd points fd 2 at the socket too).
 */
import { fstatSync } from "node:fs";
import type { Session, SessionDeps } from "../pop3/session.ts";
import { Session as PopSession } from "../pop3/session.ts";
import { exitCodeFor, type SessionIO } from "../pop3/session-io.ts";
import { sessionHandlers, type SocketData } from "./socket-session.ts";

export interface StdioOptions {
  deps: SessionDeps;
  /** Receives the running session so signal handlers can end it. */
  track(session: Session): void;
}

export function runStdio(options: StdioOptions): Promise<number> {
  let isSocket = false;
  try {
    isSocket = fstatSync(0).isSocket();
  } catch {
    isSocket = false;
  }
  return isSocket ? runOnSocket(options) : runOnPipes(options);
}

function runOnSocket(options: StdioOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    Bun.connect<SocketData>({
      fd: 0,
      allowHalfOpen: true,
      socket: sessionHandlers({
        deps: options.deps,
        track: options.track,
        closed: (_session, end) => resolve(exitCodeFor(end)),
      }),
    } as any).catch(reject);
  });
}

/** A pipe or tty on fd 0 (debugging, or -X under a pipe launcher): Bun.stdin / Bun.stdout. */
async function runOnPipes(options: StdioOptions): Promise<number> {
  const writer = Bun.stdout.writer();
  let pending: Promise<unknown> | undefined;
  let closed = false;
  const io: SessionIO = {
    clientHost: "[unix socket]",
    tlsActive: false,
    write(data) {
      if (closed) return true;
      writer.write(data);
      const flushed = writer.flush();
      if (flushed instanceof Promise) {
        pending = flushed;
        return false;
      }
      return true;
    },
    drained: async () => {
      await pending;
    },
    close() {
      closed = true;
    },
    pauseInput() {},
    resumeInput() {},
  };
  const session = new PopSession(io, options.deps);
  options.track(session);
  const done = session.start();
  const reader = Bun.stdin.stream().getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done: eof } = await reader.read();
        if (eof) break;
        session.receive(value);
      }
    } catch {
      // a read error is a dropped connection
    }
    session.receiveEnd();
  })();
  const end = await done;
  await writer.end();
  return exitCodeFor(end);
}
