/**
 * Every string pop3d sends on the wire, once. Texts are Cyrus 3.12's (imap/pop3d.c) so that
 * clients and operators' scripts that match on them keep working.
 *
 * Positive replies are the strings in `R`. Every `-ERR` is a PopError value from `E` (or one of
 * the few builders below, whose variable parts are numbers, names the client gave, or fixed texts
 * of libsasl and of the stores): internal exceptions never become wire text. Their detail goes to
 * the log instead.
 */
export const CRLF = "\r\n";

export const R = {
  ok: "+OK",
  userValid: "+OK Name is a valid mailbox",
  mechListFollows: "+OK List of supported mechanisms follows",
  scanListing: "+OK scan listing follows",
  uidListing: "+OK unique-id listing follows",
  messageFollows: "+OK Message follows",
  messageDeleted: "+OK message deleted",
  capaFollows: "+OK List of capabilities follows",
  beginTls: "+OK Begin TLS negotiation now",
  /** pop3d.c:fatal's text for a bad PROXY header; the transports send it before any session exists. */
  haproxyFailed: "-ERR [SYS/PERM] Fatal error: unable to read HAProxy protocol header",
} as const;

/** RFC 2449 / RFC 3206 response codes Cyrus uses. */
export type ResponseCode = "AUTH" | "SYS/TEMP" | "SYS/PERM" | "LOGIN-DELAY" | "IN-USE";

/** A client-visible error: a response code and a fixed text. Handlers send it or throw it. */
export class PopError extends Error {
  /** The whole reply line, without CRLF. */
  readonly line: string;

  constructor(
    readonly code: ResponseCode | undefined,
    readonly text: string,
  ) {
    super(text);
    this.name = "PopError";
    this.line = code ? `-ERR [${code}] ${text}` : `-ERR ${text}`;
  }
}

const err = (code: ResponseCode | undefined, text: string) => new PopError(code, text);

export const E = {
  // AUTHORIZATION (pop3d.c:cmd_user, cmd_pass, cmd_apop, cmd_auth)
  userNeedsLayer: err("AUTH", "USER command only available under a layer"),
  authNeedsLayer: err("AUTH", "AUTH command only available under a layer"),
  mustGivePass: err("AUTH", "Must give PASS command"),
  mustGiveUser: err("AUTH", "Must give USER command"),
  invalidUser: err("AUTH", "Invalid user"),
  invalidLogin: err("AUTH", "Invalid login"),
  /** Our addition: the password backend could not answer; [SYS/TEMP] tells clients to retry later
   *  instead of asking the user for a new password. */
  authUnavailable: err("SYS/TEMP", "Authentication service unavailable"),
  authCanceled: err("AUTH", "Client canceled authentication"),
  // generic parsing (pop3d.c:cmdloop, parse_msgno)
  unrecognized: err(undefined, "Unrecognized command"),
  syntaxError: err(undefined, "Syntax error"),
  extraArgument: err(undefined, "Unexpected extra argument"),
  missingArgument: err(undefined, "Missing argument"),
  notANumber: err(undefined, "Not a number"),
  noSuchMessage: err(undefined, "No such message"),
  invalidLineCount: err(undefined, "Invalid number of lines"),
  // TRANSACTION
  readIndexFailed: err("SYS/PERM", "Could not read index record"),
  readMessageFailed: err("SYS/PERM", "Could not read message file"),
  permissionDenied: err("SYS/PERM", "Permission denied"),
  readOnly: err("SYS/PERM", "This connection is configured for read-only access"),
  // TLS (pop3d.c:cmd_starttls)
  alreadyTls: err(undefined, "Already successfully executed STLS"),
  tlsInitFailed: err("SYS/PERM", "Error initializing TLS"),
  // Murder frontend (pop3d.c:openinbox, remote mailbox)
  backendAuthFailed: err(undefined, "Authentication to backend server failed"),
  /** Our addition: Cyrus answers "Authentication ... failed" here too; [SYS/TEMP] tells the client
   *  the backend is only unreachable for now, so it retries instead of asking for a password. */
  backendUnavailable: err("SYS/TEMP", "Backend server unavailable, try again later"),
  // fatal() texts: "-ERR [SYS/PERM] Fatal error: <msg>" (pop3d.c:fatal)
  /** Any internal failure: IMAP_IOERROR's error_message, the text Cyrus gives for an unexpected r != 0. */
  internal: err("SYS/PERM", "Fatal error: System I/O error"),
} as const;

/** Printable ASCII only, one line, bounded: for texts that come from another component. */
function safeText(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.split(/[\r\n]/, 1)[0]!.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > max ? clean.slice(0, max) : clean;
}

/** `-ERR [AUTH] authenticating: <libsasl error string>` (pop3d.c:cmd_auth, cmd_apop). */
export const authenticatingFailed = (saslReason: string) => err("AUTH", `authenticating: ${safeText(saslReason)}`);

/** The client's SASL line could not be read (pop3d.c:cmd_auth); the reason is libsasl's or empty. */
export const authReadFailed = (reason: "" | "line too long") => err("AUTH", `Error reading client response: ${reason}`);

/**
 * pop3d.c:openinbox: `kind` decides [SYS/TEMP] (lookup failures) or [SYS/PERM] (open failures);
 * `message` is the store's fixed Cyrus error_message text (StoreError.message, never its detail).
 */
export const maildropOpenFailed = (kind: "temp" | "perm", message: string) =>
  err(kind === "temp" ? "SYS/TEMP" : "SYS/PERM", `Unable to open maildrop: ${safeText(message)}`);

export const mailboxReady = (sessionId: string) => `+OK Mailbox locked and ready SESSIONID=<${sessionId}>`;

/** pop3d.c:openinbox: integer minutes, "minute" singular unless the quotient is above 1 (so "0 minute"). */
export const loginDelay = (minPollSeconds: number) => {
  const minutes = Math.floor(minPollSeconds / 60);
  return err("LOGIN-DELAY", `Logins must be at least ${minutes} minute${minutes > 1 ? "s" : ""} apart`);
};

/** pop3d.c:openinbox: each part only when its limit is set; no comma when the user part stands alone. */
export const tooManyConnections = (host?: { count: number; max: number; client: string }, user?: { count: number; max: number; name: string }) => {
  const parts: string[] = [];
  if (host) parts.push(`${host.count} of ${host.max} from ${host.client}`);
  if (user) parts.push(`${user.count} of ${user.max} for ${user.name}`);
  return err(undefined, `Too many open connections (${parts.join(", ")})`);
};

/** pop3d.c:cmdloop: the shutdown file's first line, leading '[' removed — the operator's own text. */
export const shutdownNotice = (firstLine: string) => err("SYS/TEMP", firstLine.replace(/^\[+/, ""));

export const statReply = (count: number, octets: number) => `+OK ${count} ${octets >>> 0}`;
