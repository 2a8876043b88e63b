/**
 * The proxy login to a POP3 backend, as Cyrus's backend_connect does it (backend.c:backend_login,
 * backend_authenticate; saslclient.c:saslclient): read the +OK greeting, ask CAPA for the SASL
 * mechanisms, authenticate as the proxy user with the real user as authorization identity, and when
 * no usable mechanism is offered but STLS is, start TLS and ask again.
 *
 * We speak SASL PLAIN (RFC 4616), the mechanism that carries an authzid with a password and that
 * Cyrus backends offer to proxies; a backend that offers PLAIN only under TLS gets STLS first.
 */
import { MAX_BACKEND_AUTH_LINE } from "../limits.ts";
import type { BackendSocket, ClientTlsOptions } from "./backend-socket.ts";

export interface ProxyCredentials {
  /** proxy_authname */
  readonly authcid: string;
  readonly password: string;
  /** The user (with +folder) the backend should serve. */
  readonly authzid: string;
  /** `<shorthost>_mechs` or force_sasl_client_mech, upper-cased; undefined = no restriction. */
  readonly allowedMechs: readonly string[] | undefined;
}

export type LoginResult =
  | { ok: true; status: string }
  | { ok: false; failure: "unavailable" | "auth"; detail: string };

interface Capabilities {
  sasl: string[];
  stls: boolean;
}

const MECH = "PLAIN";

/** RFC 4616: authzid NUL authcid NUL passwd. */
export function plainResponse(authzid: string, authcid: string, password: string): string {
  return Buffer.from(`${authzid}\0${authcid}\0${password}`, "utf8").toString("base64");
}

async function capabilities(sock: BackendSocket, timeoutMs: number): Promise<Capabilities | string> {
  sock.write(Buffer.from("CAPA\r\n"));
  const first = await sock.readLine(timeoutMs);
  if (first === null) return `no answer to CAPA (${sock.endReason ?? "timeout"})`;
  // a backend without CAPA simply offers nothing (RFC 2449 servers answer -ERR)
  if (!first.startsWith("+OK")) return { sasl: [], stls: false };
  const caps: Capabilities = { sasl: [], stls: false };
  for (;;) {
    const line = await sock.readLine(timeoutMs);
    if (line === null) return `CAPA list cut short (${sock.endReason ?? "timeout"})`;
    if (line === ".") return caps;
    const [name = "", ...params] = line.split(/\s+/);
    if (name.toUpperCase() === "SASL") caps.sasl = params.map((m) => m.toUpperCase());
    else if (name.toUpperCase() === "STLS") caps.stls = true;
  }
}

function usable(caps: Capabilities, allowed: readonly string[] | undefined): boolean {
  return caps.sasl.includes(MECH) && (allowed === undefined || allowed.includes(MECH));
}

export async function pop3Login(
  sock: BackendSocket,
  creds: ProxyCredentials,
  starttls: ClientTlsOptions,
  timeoutMs: number,
): Promise<LoginResult> {
  const greeting = await sock.readLine(timeoutMs);
  if (greeting === null) return { ok: false, failure: "unavailable", detail: `no greeting (${sock.endReason ?? "timeout"})` };
  if (!greeting.startsWith("+OK")) return { ok: false, failure: "unavailable", detail: `greeting: ${greeting}` };
  let caps = await capabilities(sock, timeoutMs);
  if (typeof caps === "string") return { ok: false, failure: "unavailable", detail: caps };
  if (!usable(caps, creds.allowedMechs) && caps.stls && !sock.tlsActive) {
    sock.write(Buffer.from("STLS\r\n"));
    const answer = await sock.readLine(timeoutMs);
    if (answer === null || !answer.startsWith("+OK")) return { ok: false, failure: "auth", detail: `STLS refused: ${answer ?? sock.endReason ?? "timeout"}` };
    const error = await sock.startTls(starttls, timeoutMs);
    if (error !== undefined) return { ok: false, failure: "unavailable", detail: `STLS handshake failed: ${error}` };
    caps = await capabilities(sock, timeoutMs);
    if (typeof caps === "string") return { ok: false, failure: "unavailable", detail: caps };
  }
  if (!usable(caps, creds.allowedMechs)) {
    const offered = caps.sasl.length > 0 ? caps.sasl.join(" ") : "none";
    return { ok: false, failure: "auth", detail: `no usable SASL mechanism (we speak ${MECH}; offered: ${offered}${creds.allowedMechs ? `; allowed: ${creds.allowedMechs.join(" ")}` : ""})` };
  }
  const response = plainResponse(creds.authzid, creds.authcid, creds.password);
  const command = `AUTH ${MECH}`;
  // saslclient.c: an initial response that would make the line too long waits for the challenge
  if (command.length + 1 + response.length + 2 <= MAX_BACKEND_AUTH_LINE) {
    sock.write(Buffer.from(`${command} ${response}\r\n`));
  } else {
    sock.write(Buffer.from(`${command}\r\n`));
    const challenge = await sock.readLine(timeoutMs);
    if (challenge === null) return { ok: false, failure: "unavailable", detail: `no answer to AUTH (${sock.endReason ?? "timeout"})` };
    if (!challenge.startsWith("+ ") && challenge !== "+") return { ok: false, failure: "auth", detail: `AUTH: ${challenge}` };
    sock.write(Buffer.from(`${response}\r\n`));
  }
  const answer = await sock.readLine(timeoutMs);
  if (answer === null) return { ok: false, failure: "unavailable", detail: `no answer to AUTH (${sock.endReason ?? "timeout"})` };
  if (answer.startsWith("+OK")) return { ok: true, status: answer.slice(3) };
  if (answer.startsWith("+")) {
    // PLAIN has one step: a further challenge is a protocol error, cancelled as saslclient does
    sock.write(Buffer.from("*\r\n"));
    return { ok: false, failure: "auth", detail: `unexpected challenge: ${answer}` };
  }
  return { ok: false, failure: "auth", detail: answer };
}
