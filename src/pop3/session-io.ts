/**
 * What a session needs from its transport. Transports (server/) implement it; the session never
 * sees a socket, so the same engine runs standalone, under inetd and under Cyrus master.
 */
export interface SessionIO {
  /**
   * Queue bytes for the client. Returns false when the transport is holding unsent bytes: the caller
   * should `await drained()` before producing more. Bytes are copied if they cannot be sent now.
   */
  write(data: Uint8Array): boolean;
  /** Resolves when everything queued has been handed to the kernel, or the connection is gone. */
  drained(): Promise<void>;
  /**
   * Close the connection. "drain" (the default) still sends what is queued, but gives a client
   * that does not read only CLOSE_DRAIN_DEADLINE_MS; "now" drops it (process shutdown).
   */
  close(mode?: "drain" | "now"): void;
  /** Stop / restart reading from the client (bounded buffering of pipelined input). */
  pauseInput(): void;
  resumeInput(): void;
  /** Client host string as Cyrus logs it (pop3d.c:service_main, get_clienthost): "[192.0.2.7]" or "[unix socket]". */
  readonly clientHost: string;
  /** Settles once clientHost has its reverse-DNS name, or the bounded lookup gave up. */
  readonly clientHostReady?: Promise<void>;
  /** Whether TLS is active on this connection (pop3s, or after STLS). */
  readonly tlsActive: boolean;
  /** STLS (RFC 2595): upgrade the connection; resolves false when the handshake failed. */
  startTls?(): Promise<boolean>;
  /** The connected TLS socket, once TLS is active (for EXTERNAL, channel binding, the log line). */
  readonly tlsSocket?: unknown;
}

/** Why a session ended; launch modes map it to exit codes and master status messages. */
export type SessionEnd =
  | "quit"
  | "eof"
  | "idle"
  /** the shutdown file told the client to go away (pop3d.c:cmdloop) */
  | "notice"
  /** SIGTERM/SIGINT/SIGQUIT (pop3d.c:shut_down) */
  | "shutdown"
  | "tls-failed"
  | "fatal";

/** Exit status of a one-session process (stdio/-X mode) for each way a session ends (Cyrus's exit codes: EX_TEMPFAIL, EX_PROTOCOL, EX_IOERR). */
export function exitCodeFor(end: SessionEnd): number {
  switch (end) {
    case "shutdown":
      return 75;
    case "tls-failed":
      return 76;
    case "fatal":
      return 74;
    default:
      return 0;
  }
}
