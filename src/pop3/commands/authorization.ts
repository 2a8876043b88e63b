/** AUTHORIZATION-state commands (§4.4, §6): USER PASS APOP AUTH STLS. */
import type { Handler, Session } from "../session.ts";
import { R, authenticatingFailed } from "../responses.ts";
import { plaintextAllowed } from "./capa.ts";
import { canonicalizeUser } from "../../auth/canonical.ts";
import { apopDigest, parseApopArgument } from "../../auth/apop.ts";
import { PassDbUnavailable } from "../../auth/passdb/passdb.ts";
import { openMaildrop, loginLogLine, badLoginPause } from "./login.ts";
import { authenticate } from "./sasl-exchange.ts";
import { beautify } from "../../log/beautify.ts";
import { startTls } from "./stls.ts";
import { MAX_ANONYMOUS_PASSWORD_LOG } from "../../limits.ts";
import { checkLoginPolicy } from "../../auth/policy.ts";

const user: Handler = (session, { argument }) => {
  if (argument === undefined) return session.send(R.missingArgument);
  if (!plaintextAllowed(session)) return session.send(R.userNeedsLayer);
  if (session.pendingUser) return session.send(R.mustGivePass);
  const canonical = canonicalizeUser(argument, session.settings.canonical);
  if (!canonical.ok) {
    session.log.notice(`badlogin: ${session.io.clientHost} plaintext (${beautify(argument)}) invalid user`);
    return session.send(R.invalidUser);
  }
  session.pendingUser = { user: canonical.user, subfolder: canonical.subfolder, typed: argument };
  // §4.4: the same answer whether or not the user exists
  session.send(R.userValid);
};

const pass: Handler = async (session, { argument }) => {
  if (argument === undefined) return session.send(R.missingArgument);
  const pending = session.pendingUser;
  if (!pending) return session.send(R.mustGiveUser);
  const host = session.io.clientHost;
  if (pending.user === "anonymous") {
    // Cyrus returns before forgetting the USER here, so the client may PASS again
    if (!session.settings.allowAnonymous) {
      session.log.notice(`badlogin: ${host} anonymous login refused`);
      return session.send(R.invalidLogin);
    }
    session.pendingUser = undefined;
    session.log.notice(`login: ${host} anonymous ${beautify(argument.slice(0, MAX_ANONYMOUS_PASSWORD_LOG))}`);
    return openMaildrop(session, "anonymous", pending.subfolder);
  }
  session.pendingUser = undefined;
  let ok: boolean;
  try {
    ok = await session.passdb.checkPassword(pending.user, argument);
  } catch (error) {
    if (!(error instanceof PassDbUnavailable)) throw error;
    session.log.err(`badlogin: ${host} plaintext (${pending.user}) [password backend unavailable: ${error.message}]`);
    return session.send(R.authUnavailable);
  }
  if (session.isOver) return;
  // §6.2: sasl_checkpass runs the proxy policy with authcid = authzid (loginrealms, userdeny)
  const decision = ok ? checkLoginPolicy(session.settings.sasl.policy, pending.user, pending.user) : undefined;
  if (decision && !decision.ok) {
    session.log.notice(`badlogin: ${host} plaintext (${pending.user}) [SASL(-13): ${decision.reason}: ${decision.detail}]`);
    await badLoginPause(session);
    return session.send(R.invalidLogin);
  }
  if (!ok) {
    session.log.notice(`badlogin: ${host} plaintext (${pending.user}) [SASL(-13): authentication failure: checkpass failed]`);
    await badLoginPause(session);
    return session.send(R.invalidLogin);
  }
  session.log.notice(loginLogLine(session, pending.user, pending.subfolder, "plaintext"));
  if (!session.tlsActive && session.settings.plaintextLoginPauseMs > 0) {
    await Bun.sleep(session.settings.plaintextLoginPauseMs);
  }
  await openMaildrop(session, pending.user, pending.subfolder);
};

const apop: Handler = async (session, { argument }) => {
  const challenge = session.apopChallenge;
  // §3: without a banner challenge APOP does not exist for this session
  if (challenge === undefined) return session.send(R.unrecognized);
  if (argument === undefined) return session.send(R.missingArgument);
  if (session.settings.tlsRequired && !session.tlsActive) return session.send(R.authNeedsLayer);
  if (session.pendingUser) return session.send(R.mustGivePass);
  const host = session.io.clientHost;
  const parsed = parseApopArgument(argument);
  const canonical = parsed.ok ? canonicalizeUser(parsed.user, session.settings.canonical) : undefined;
  let reason = "bad protocol / cancel";
  if (parsed.ok && canonical?.ok) {
    let secret: string | undefined;
    try {
      secret = await session.passdb.plaintextSecret(canonical.user);
    } catch (error) {
      if (!(error instanceof PassDbUnavailable)) throw error;
      session.log.err(`badlogin: ${host} APOP (${challenge}) [password backend unavailable: ${error.message}]`);
      return session.send(R.authUnavailable);
    }
    if (session.isOver) return;
    // "user not found" is masked as "authentication failure" (§6.3)
    reason = "authentication failure";
    if (secret !== undefined && timingSafeEqualText(apopDigest(challenge, secret), parsed.digest)) {
      // the proxy policy runs for APOP too (§6.3)
      const decision = checkLoginPolicy(session.settings.sasl.policy, canonical.user, canonical.user);
      if (decision.ok) {
        session.log.notice(loginLogLine(session, canonical.user, canonical.subfolder, "APOP"));
        return openMaildrop(session, canonical.user, canonical.subfolder);
      }
      reason = decision.reason;
    }
  }
  // libsasl's errdetail, as Cyrus logs it
  const detail = reason === "authentication failure" ? "SASL(-13): authentication failure: login incorrect" : `SASL(-5): ${reason}`;
  session.log.notice(`badlogin: ${host} APOP (${challenge}) ${detail}`);
  await badLoginPause(session);
  session.send(authenticatingFailed(reason));
};

const auth: Handler = (session, command) => authenticate(session, command.argument);

function timingSafeEqualText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export const AUTHORIZATION_COMMANDS = new Map<string, Handler>([
  ["user", user],
  ["pass", pass],
  ["apop", apop],
  ["auth", auth],
  ["stls", startTls],
]);


