/**
 * AUTH (RFC 5034 with Cyrus's framing, pop3d.c:cmd_auth): mechanism discovery, the initial response ("=" for
 * empty), "+ <base64>" continuations, "*" to cancel, and the failure/success replies.
 */
import type { SessionContext } from "../session-context.ts";
import { E, R, authReadFailed, authenticatingFailed } from "../responses.ts";
import { availableMechanisms, mechanismNamed, tlsPropertiesOf, unavailableReason } from "./mechanisms.ts";
import { badLoginPause, loginLogLine, openMaildrop } from "./login.ts";
import { lineContent, isSpace, bytesToText } from "../parser.ts";
import { PassDbUnavailable } from "../../auth/passdb/passdb.ts";
import { canonicalizeUser } from "../../auth/canonical.ts";
import type { SaslContext } from "../../auth/sasl/mechanism.ts";
import { MAX_SASL_LINE } from "../../limits.ts";

/** libsasl's error strings for undecodable client data. */
const SASL_BADPROT = "bad protocol / cancel";
/** sasl_decode64 reports a truncated last quantum as SASL_CONTINUE, which Cyrus prints as is. */
const SASL_CONTINUE = "another step is needed in authentication";

export type Base64Result = { ok: true; bytes: Uint8Array } | { ok: false; incomplete: boolean };

/** Strict base64 for continuations; `lenient` tolerates a truncated final quantum (initial response). */
export function decodeBase64(text: string, lenient: boolean): Base64Result {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return { ok: false, incomplete: false };
  const unpadded = text.replace(/=+$/, "");
  if (!lenient && text.length % 4 !== 0) return { ok: false, incomplete: true };
  if (unpadded.length % 4 === 1) return { ok: false, incomplete: false };
  return { ok: true, bytes: Buffer.from(unpadded, "base64") };
}

function saslContext(session: SessionContext): SaslContext {
  const s = session.settings;
  const tls = tlsPropertiesOf(session);
  return {
    channelBindings: tls?.channelBindings,
    externalIdentity: tls?.externalIdentity,
    passdb: session.passdb,
    canonicalize: (raw) => canonicalizeUser(raw, s.canonical),
    // pop3d.c:popd_proxy_policy: only admins and proxyservers may act for another user
    mayProxy: (authcid) => s.admins.has(authcid) || s.proxyServers.has(authcid),
    policy: s.sasl.policy,
    servername: s.servername,
    tlsActive: session.tlsActive,
    allowAnonymous: s.allowAnonymous,
    scramIterations: s.sasl.scramIterations,
    log: session.log,
  };
}

export async function authenticate(session: SessionContext, argument: string | undefined): Promise<void> {
  const s = session.settings;
  // unlike USER and APOP, Cyrus's AUTH does not care about a pending USER
  if (s.tlsRequired && !session.tlsActive) return session.reject(E.authNeedsLayer);
  const host = session.io.clientHost;
  // "AUTH" alone, or with only blanks (Outlook), lists the mechanisms
  if (argument === undefined || argument.length === 0) {
    session.send(R.mechListFollows);
    for (const mech of availableMechanisms(session)) session.send(mech.name);
    session.send(".");
    return;
  }
  let cut = 0;
  while (cut < argument.length && !isSpace(argument.charCodeAt(cut))) cut++;
  const mechName = argument.slice(0, cut);
  const initialText = cut < argument.length ? argument.slice(cut + 1) : undefined;

  const fail = async (reason: string, user?: string) => {
    session.log.notice(`badlogin: ${host} ${mechName} (${user ?? "-notset-"}) [${reason}]`);
    await badLoginPause(session);
    session.reject(authenticatingFailed(reason));
  };

  // Cyrus decodes the initial response before it asks libsasl for the mechanism
  let response: Uint8Array | null = null;
  if (initialText !== undefined) {
    const decoded: Base64Result = initialText === "=" ? { ok: true, bytes: new Uint8Array(0) } : decodeBase64(initialText, true);
    if (!decoded.ok) return fail(SASL_BADPROT);
    response = decoded.bytes;
  }
  const mech = mechanismNamed(session, mechName);
  if (!mech) return fail(unavailableReason(session, mechName));
  const exchange = mech.start(saslContext(session));
  for (;;) {
    let step;
    try {
      step = await exchange.step(response);
    } catch (error) {
      if (!(error instanceof PassDbUnavailable)) throw error;
      session.log.err(`badlogin: ${host} ${mechName} (-notset-) [password backend unavailable: ${error.message}]`);
      return session.reject(E.authUnavailable);
    }
    if (session.isOver) return;
    if (step.type === "failure") return fail(step.reason, step.user);
    if (step.type === "success") {
      session.log.notice(loginLogLine(session, step.user, step.subfolder, mechName));
      return openMaildrop(session, { user: step.user, subfolder: step.subfolder, viaSasl: true });
    }
    // "+ " with nothing after it for an empty challenge (pop3d.c:cmd_auth)
    session.send("+ " + Buffer.from(step.data).toString("base64"));
    const line = await session.nextLine(MAX_SASL_LINE);
    if (line === null) {
      if (!session.isOver) session.reject(authReadFailed(""));
      return;
    }
    const text = bytesToText(lineContent(line));
    if (text.startsWith("*")) {
      session.log.notice(`badlogin: ${host} ${mechName} (-notset-) [client canceled authentication]`);
      return session.reject(E.authCanceled);
    }
    const decoded = decodeBase64(text, false);
    if (!decoded.ok) return fail(decoded.incomplete ? SASL_CONTINUE : SASL_BADPROT);
    response = decoded.bytes;
  }
}
