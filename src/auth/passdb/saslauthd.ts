/**
 * sasl_pwcheck_method saslauthd: libsasl's client side of the saslauthd unix-socket protocol
 * (lib/checkpw.c). One connection per check: four counted strings — login, password, service, realm —
 * each a 16-bit big-endian byte count and the bytes; the reply is one counted string that starts with
 * "OK" or "NO". saslauthd only says yes or no, so it can serve USER/PASS, PLAIN and LOGIN, never
 * APOP, CRAM-MD5, DIGEST-MD5 or SCRAM.
 */
import { PassDbUnavailable, type PasswordDb } from "./passdb.ts";

/** libsasl's default socket (PATH_SASLAUTHD_RUNDIR "/mux" on Debian). */
export const DEFAULT_SASLAUTHD_PATH = "/var/run/saslauthd/mux";
/** The SASL service name of pop3d (pop3d.c:service_main, sasl_server_new): saslauthd and PAM see "pop". */
export const SASLAUTHD_SERVICE = "pop";
/**
 * libsasl waits for saslauthd without limit, so one stuck PAM or LDAP lookup hangs the session.
 * Ten seconds covers a slow directory server and the usual LDAP/Kerberos timeouts, yet answers the
 * client with [SYS/TEMP] long before it or the idle timer gives up.
 */
export const SASLAUTHD_TIMEOUT_MS = 10_000;
/** libsasl builds the request in an 8192-byte buffer and keeps 30 bytes of it in reserve. */
const MAX_REQUEST_BYTES = 8192 - 30;
/** libsasl reads at most 1023 bytes of the reply. */
const MAX_REPLY_BYTES = 1023;
/** The reply must hold at least "OK" or "NO". */
const MIN_REPLY_BYTES = 2;
const COUNT_BYTES = 2;

export interface SaslauthdOptions {
  service?: string;
  /** The realm sent for a user without `@realm`; libsasl sends Cyrus's (empty) user_realm. */
  realm?: string;
  timeoutMs?: number;
}

const utf8 = new TextEncoder();

function errorText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : String((e as Error)?.message ?? e);
}

/** login, password, service, realm as counted strings; undefined when a part or the whole is too long. */
export function saslauthdRequest(login: string, password: string, service: string, realm: string): Uint8Array | undefined {
  const parts = [login, password, service, realm].map((s) => utf8.encode(s));
  const size = parts.reduce((n, p) => n + COUNT_BYTES + p.length, 0);
  if (size > MAX_REQUEST_BYTES) return undefined;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint16(at, p.length);
    out.set(p, at + COUNT_BYTES);
    at += COUNT_BYTES + p.length;
  }
  return out;
}

export class SaslauthdDb implements PasswordDb {
  constructor(
    readonly path: string,
    private readonly options: SaslauthdOptions = {},
  ) {}

  async checkPassword(user: string, password: string): Promise<boolean> {
    // libsasl splits user@realm at the last "@" and sends the realm separately.
    const at = user.lastIndexOf("@");
    const login = at < 0 ? user : user.slice(0, at);
    const realm = at < 0 ? (this.options.realm ?? "") : user.slice(at + 1);
    const request = saslauthdRequest(login, password, this.options.service ?? SASLAUTHD_SERVICE, realm);
    // An oversized request is the client's doing (a huge password), not an outage: it just fails.
    if (!request) return false;
    const reply = await this.exchange(request);
    return reply.startsWith("OK");
  }

  async plaintextSecret(): Promise<string | undefined> {
    return undefined;
  }

  private exchange(request: Uint8Array): Promise<string> {
    const where = `saslauthd ${this.path}`;
    const timeoutMs = this.options.timeoutMs ?? SASLAUTHD_TIMEOUT_MS;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      let socket: { end(): void } | undefined;
      let received = Buffer.alloc(0);
      let unsent = request;
      const settle = (outcome: string | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket?.end();
        if (typeof outcome === "string") resolve(outcome);
        else reject(outcome);
      };
      const unavailable = (what: string, cause?: unknown) =>
        settle(new PassDbUnavailable(`${where}: ${what}`, cause === undefined ? undefined : { cause }));
      const timer = setTimeout(() => unavailable(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
      const send = (s: { write(data: Uint8Array): number }) => {
        const n = s.write(unsent);
        if (n > 0) unsent = unsent.subarray(n);
      };

      Bun.connect({
        unix: this.path,
        socket: {
          open(s) {
            socket = s;
            if (settled) s.end();
            else send(s);
          },
          drain(s) {
            if (unsent.length > 0) send(s);
          },
          data(_s, chunk) {
            received = Buffer.concat([received, chunk]);
            if (received.length < COUNT_BYTES) return;
            const count = received.readUInt16BE(0);
            if (count < MIN_REPLY_BYTES) return unavailable(`bad response (count ${count})`);
            const want = Math.min(count, MAX_REPLY_BYTES);
            if (received.length - COUNT_BYTES >= want) {
              settle(received.subarray(COUNT_BYTES, COUNT_BYTES + want).toString("latin1"));
            }
          },
          close() {
            unavailable("connection closed before a complete answer");
          },
          error(_s, e) {
            unavailable(`socket error: ${errorText(e)}`, e);
          },
          connectError(_s, e) {
            unavailable(`cannot connect: ${errorText(e)}`, e);
          },
        },
      }).catch((e: unknown) => unavailable(`cannot connect: ${errorText(e)}`, e));
    });
  }
}
