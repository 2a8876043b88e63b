/**
 * stdio mode: inetd/xinetd (fd 0 is the connected socket) and Cyrus's -X. One session, then exit.
 * Nothing but the session may appear on fds 1 and 2 (xinetd points fd 2 at the socket too).
 */
import { fstatSync } from "node:fs";
import { Session as PopSession } from "../pop3/session.ts";
import { exitCodeFor, type SessionIO } from "../pop3/session-io.ts";
import { serveFd, type FdSessionOptions } from "./fd-session.ts";

export async function runStdio(options: FdSessionOptions): Promise<number> {
  let isSocket = false;
  try {
    isSocket = fstatSync(0).isSocket();
  } catch {
    isSocket = false;
  }
  if (!isSocket) return runOnPipes(options);
  const outcome = await serveFd(0, options);
  return "exitCode" in outcome ? outcome.exitCode : exitCodeFor(outcome.end);
}

/** A pipe or tty on fd 0 (debugging, or -X under a pipe launcher): Bun.stdin / Bun.stdout, no TLS. */
async function runOnPipes(options: FdSessionOptions): Promise<number> {
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
