/**
 * What a session needs to act as a Cyrus Murder frontend (docs/murder.md): a logged-in connection
 * to the backend that holds the user's mailbox. The session only sees this interface; the server
 * layer injects an implementation (src/proxy), so pop3 never opens sockets itself.
 */

/** Where backend bytes go once the session relays (pop3d.c:bitpipe). */
export interface RelaySink {
  data(chunk: Uint8Array): void;
  /** The backend closed the connection or it broke; `reason` is for the log. */
  end(reason: string | undefined): void;
}

export interface BackendLink {
  /** The backend as mailboxes.db names it. */
  readonly server: string;
  /** The rest of the backend's `+OK` line after a successful AUTH, without CRLF (Cyrus's statusline). */
  readonly status: string;
  /** Start relaying: bytes the backend already sent after its `+OK` come first. */
  attach(sink: RelaySink): void;
  /** Queue bytes for the backend; false means wait for `drained()` before sending more. */
  write(data: Uint8Array): boolean;
  drained(): Promise<void>;
  pauseInput(): void;
  resumeInput(): void;
  /** Flush what is queued and close the connection. */
  close(): void;
}

export type BackendLogin =
  | { ok: true; link: BackendLink }
  /**
   * "unavailable": no usable connection (refused, unreachable, timeout, no greeting);
   * "auth": the backend refused the proxy login. `detail` is for the log only.
   */
  | { ok: false; failure: "unavailable" | "auth"; detail: string };

export interface BackendConnector {
  /** Connect to `server` and log in as the proxy user on behalf of `authzid` (user or user+folder). */
  login(server: string, authzid: string): Promise<BackendLogin>;
}
