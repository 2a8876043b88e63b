/**
 * RETR/TOP body streaming (pop3d.c:cmd_retr): file → DotStuffer → socket, one chunk at a time, waiting for
 * the socket to drain whenever it holds unsent bytes. The read and encode buffers are shared by
 * every session in the process: a chunk is encoded and handed to the transport (which copies
 * whatever it cannot send at once) before any other session can run.
 */
import type { SessionContext } from "../session-context.ts";
import type { Transaction } from "../session-state.ts";
import type { MessageSource } from "../../store/maildrop.ts";
import { DotStuffer, stuffedCapacity } from "../dotstuff.ts";
import { E, R } from "../responses.ts";
import { STREAM_READ_CHUNK } from "../../limits.ts";

/** Allocated at the first RETR/TOP (~768 KiB together), not when the module loads: a process
 *  that only greets, or serves sessions that never fetch, does not carry them. */
let buffers: { read: Buffer; encode: Buffer } | undefined;

function sharedBuffers(): { read: Buffer; encode: Buffer } {
  buffers ??= { read: Buffer.allocUnsafe(STREAM_READ_CHUNK), encode: Buffer.allocUnsafe(stuffedCapacity(STREAM_READ_CHUNK)) };
  return buffers;
}

/** `lines` < 0: whole message (RETR); otherwise TOP with that many body lines. */
export async function streamMessage(session: SessionContext, tx: Transaction, index: number, lines: number): Promise<void> {
  let source: MessageSource;
  try {
    source = tx.maildrop.open(index);
  } catch (error) {
    session.log.err(`cannot read message ${index + 1} of ${tx.login.user}: ${describe(error)}`);
    session.reject(E.readMessageFailed);
    return;
  }
  try {
    session.send(R.messageFollows);
    session.flush();
    const stuffer = new DotStuffer(lines);
    const { read: readBuffer, encode: encodeBuffer } = sharedBuffers();
    for (;;) {
      let n: number;
      try {
        n = source.read(readBuffer);
      } catch (error) {
        // The status line is out; a truncated body must not look complete, or a client could
        // DELE a message it never fully received. Dropping the connection commits nothing.
        session.log.err(`read error in message ${index + 1} of ${tx.login.user}: ${describe(error)}`);
        session.finish("fatal");
        return;
      }
      if (n === 0) break;
      const encoded = stuffer.push(n === readBuffer.length ? readBuffer : readBuffer.subarray(0, n), encodeBuffer);
      if (encoded > 0 && !session.writeRaw(encodeBuffer.subarray(0, encoded))) {
        await session.outputDrained();
        if (session.isOver) return;
      }
      if (stuffer.done) break;
    }
    session.send(stuffer.finish() + ".");
    session.flush();
  } finally {
    source.close();
  }
  // the idle timer restarts once the message has gone out (pop3d.c:cmd_retr after prot_flush)
  await session.outputDrained();
}

function describe(error: unknown): string {
  const e = error as { message?: string; detail?: string };
  return [e?.message, e?.detail].filter(Boolean).join(": ") || String(error);
}
