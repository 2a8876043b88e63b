/**
 * What the helper-process wrappers share: the JSON lines fake_master.py and syslog_receiver.py print
 * on stdout, parsed as they arrive, and the wait limits.
 */
/** Hang guard for waits in these tests; no assertion depends on it. */
export const WAIT_LIMIT_MS = 30_000;
/** For a datagram sent by a process that has already exited: it is in the socket buffer by now. */
export const ALREADY_SENT_MS = 5_000;

/** Parses JSON lines from a stream in the background. */
export function jsonLines(stream: ReadableStream<Uint8Array>, onValue: (value: any) => void, onEnd: () => void): void {
  void (async () => {
    let pending = "";
    try {
      for await (const chunk of stream) {
        pending += Buffer.from(chunk).toString("utf8");
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim() !== "") onValue(JSON.parse(line));
        }
      }
    } finally {
      onEnd();
    }
  })();
}
