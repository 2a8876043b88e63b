/**
 * Every string pop3d sends on the wire, once. Texts are Cyrus 3.12's (spec §3–§6) so that
 * clients and operators' scripts that match on them keep working.
 */
export const CRLF = "\r\n";

export const R = {
  ok: "+OK",
  // AUTHORIZATION
  userValid: "+OK Name is a valid mailbox",
  userNeedsLayer: "-ERR [AUTH] USER command only available under a layer",
  authNeedsLayer: "-ERR [AUTH] AUTH command only available under a layer",
  mustGivePass: "-ERR [AUTH] Must give PASS command",
  mustGiveUser: "-ERR [AUTH] Must give USER command",
  invalidUser: "-ERR [AUTH] Invalid user",
  invalidLogin: "-ERR [AUTH] Invalid login",
  /** Our addition: the password backend could not answer; [SYS/TEMP] tells clients to retry later
   *  instead of asking the user for a new password. */
  authUnavailable: "-ERR [SYS/TEMP] Authentication service unavailable",
  authCanceled: "-ERR [AUTH] Client canceled authentication",
  mechListFollows: "+OK List of supported mechanisms follows",
  // generic parsing (§4.1, §4.3)
  unrecognized: "-ERR Unrecognized command",
  syntaxError: "-ERR Syntax error",
  extraArgument: "-ERR Unexpected extra argument",
  missingArgument: "-ERR Missing argument",
  notANumber: "-ERR Not a number",
  noSuchMessage: "-ERR No such message",
  invalidLineCount: "-ERR Invalid number of lines",
  // TRANSACTION
  scanListing: "+OK scan listing follows",
  uidListing: "+OK unique-id listing follows",
  messageFollows: "+OK Message follows",
  messageDeleted: "+OK message deleted",
  capaFollows: "+OK List of capabilities follows",
  readIndexFailed: "-ERR [SYS/PERM] Could not read index record",
  readMessageFailed: "-ERR [SYS/PERM] Could not read message file",
  permissionDenied: "-ERR [SYS/PERM] Permission denied",
  readOnly: "-ERR [SYS/PERM] This connection is configured for read-only access",
  // TLS (§7)
  beginTls: "+OK Begin TLS negotiation now",
  alreadyTls: "-ERR Already successfully executed STLS",
  tlsInitFailed: "-ERR [SYS/PERM] Error initializing TLS",
  haproxyFailed: "-ERR [SYS/PERM] Fatal error: unable to read HAProxy protocol header",
} as const;

/** `-ERR [AUTH] authenticating: <libsasl error string>` (§6.3, §6.4). */
export const authenticatingFailed = (reason: string) => `-ERR [AUTH] authenticating: ${reason}`;

export const authReadFailed = (error: string) => `-ERR [AUTH] Error reading client response: ${error}`;

/** §5.1 step 3/6: kind decides [SYS/TEMP] (lookup failures) or [SYS/PERM] (open failures). */
export const maildropOpenFailed = (kind: "temp" | "perm", message: string) =>
  `-ERR [SYS/${kind === "temp" ? "TEMP" : "PERM"}] Unable to open maildrop: ${message}`;

export const mailboxReady = (sessionId: string) => `+OK Mailbox locked and ready SESSIONID=<${sessionId}>`;

/** §5.8: integer minutes, "minute" singular unless the quotient is above 1 (so "0 minute"). */
export const loginDelay = (minPollSeconds: number) => {
  const minutes = Math.floor(minPollSeconds / 60);
  return `-ERR [LOGIN-DELAY] Logins must be at least ${minutes} minute${minutes > 1 ? "s" : ""} apart`;
};

/** §4.6: each part only when its limit is set; no comma when the user part stands alone. */
export const tooManyConnections = (host?: { count: number; max: number; client: string }, user?: { count: number; max: number; name: string }) => {
  const parts: string[] = [];
  if (host) parts.push(`${host.count} of ${host.max} from ${host.client}`);
  if (user) parts.push(`${user.count} of ${user.max} for ${user.name}`);
  return `-ERR Too many open connections (${parts.join(", ")})`;
};

/** §4.1 step 3: shutdown file text, leading '[' removed. */
export const shutdownNotice = (firstLine: string) => `-ERR [SYS/TEMP] ${firstLine.replace(/^\[+/, "")}`;

export const fatalError = (message: string) => `-ERR [SYS/PERM] Fatal error: ${message}`;

export const statReply = (count: number, octets: number) => `+OK ${count} ${octets >>> 0}`;
