/** AUTHORIZATION-state commands (RFC 1939 section 7, RFC 5034, RFC 2595): USER PASS APOP AUTH STLS. */
import type { AuthorizationHandler } from "../session-context.ts";
import { E, R, authenticatingFailed } from "../responses.ts";
import { plaintextAllowed } from "./capa.ts";
import { canonicalizeUser } from "../../auth/canonical.ts";
import { apopDigestMatches, parseApopArgument } from "../../auth/apop.ts";
import { PassDbUnavailable } from "../../auth/passdb/passdb.ts";
import { openMaildrop, loginLogLine, badLoginPause } from "./login.ts";
import { authenticate } from "./sasl-exchange.ts";
import { beautify } from "../../log/beautify.ts";
import { startTls } from "./stls.ts";
import { MAX_ANONYMOUS_PASSWORD_LOG } from "../../limits.ts";
import { checkLoginPolicy } from "../../auth/policy.ts";

const user: AuthorizationHandler = (session, state, { argument }) => {
  if (argument === undefined) return session.reject(E.missingArgument);
  if (!plaintextAllowed(session)) return session.reject(E.userNeedsLayer);
  if (state.pendingUser) return session.reject(E.mustGivePass);
  const canonical = canonicalizeUser(argument, session.settings.canonical);
  if (!canonical.ok) {
    session.log.notice(`badlogin: ${session.io.clientHost} plaintext (${beautify(argument)}) invalid user`);
    return session.reject(E.invalidUser);
  }
  session.expectPass({ user: canonical.user, subfolder: canonical.subfolder, typed: argument });
  // pop3d.c:cmd_user: the same answer whether or not the user exists
  session.send(R.userValid);
};

const pass: AuthorizationHandler = async (session, state, { argument }) => {
  if (argument === undefined) return session.reject(E.missingArgument);
  const pending = state.pendingUser;
  if (!pending) return session.reject(E.mustGiveUser);
  const host = session.io.clientHost;
  if (pending.user === "anonymous") {
    // Cyrus returns before forgetting the USER here, so the client may PASS again
    if (!session.settings.allowAnonymous) {
      session.log.notice(`badlogin: ${host} anonymous login refused`);
      return session.reject(E.invalidLogin);
    }
    session.forgetUser();
    session.log.notice(`login: ${host} anonymous ${beautify(argument.slice(0, MAX_ANONYMOUS_PASSWORD_LOG))}`);
    return openMaildrop(session, { user: "anonymous", subfolder: pending.subfolder, viaSasl: false });
  }
  session.forgetUser();
  let ok: boolean;
  try {
    ok = await session.passdb.checkPassword(pending.user, argument);
  } catch (error) {
    if (!(error instanceof PassDbUnavailable)) throw error;
    session.log.err(`badlogin: ${host} plaintext (${pending.user}) [password backend unavailable: ${error.message}]`);
    return session.reject(E.authUnavailable);
  }
  if (session.isOver) return;
  // sasl_checkpass runs the proxy policy with authcid = authzid (loginrealms, userdeny)
  const decision = ok ? checkLoginPolicy(session.settings.sasl.policy, pending.user, pending.user) : undefined;
  if (decision && !decision.ok) {
    session.log.notice(`badlogin: ${host} plaintext (${pending.user}) [SASL(-13): ${decision.reason}: ${decision.detail}]`);
    await badLoginPause(session);
    return session.reject(E.invalidLogin);
  }
  if (!ok) {
    // libsasl's text tells an unknown user from a wrong password in the log (never to the client)
    const why = (await session.passdb.userExists?.(pending.user)) === false ? "user not found" : "authentication failure";
    session.log.notice(`badlogin: ${host} plaintext (${pending.user}) [SASL(-13): ${why}: checkpass failed]`);
    await badLoginPause(session);
    return session.reject(E.invalidLogin);
  }
  session.log.notice(loginLogLine(session, pending.user, pending.subfolder, "plaintext"));
  if (!session.tlsActive && session.settings.plaintextLoginPauseMs > 0) {
    await Bun.sleep(session.settings.plaintextLoginPauseMs);
  }
  await openMaildrop(session, { user: pending.user, subfolder: pending.subfolder, viaSasl: false });
};

const apop: AuthorizationHandler = async (session, state, { argument }) => {
  const challenge = session.apopChallenge;
  // without a banner challenge APOP does not exist for this session (pop3d.c:cmd_apop)
  if (challenge === undefined) return session.reject(E.unrecognized);
  if (argument === undefined) return session.reject(E.missingArgument);
  if (session.settings.tlsRequired && !session.tlsActive) return session.reject(E.authNeedsLayer);
  if (state.pendingUser) return session.reject(E.mustGivePass);
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
      return session.reject(E.authUnavailable);
    }
    if (session.isOver) return;
    // "user not found" is masked as "authentication failure" (libsasl's checkapop)
    reason = "authentication failure";
    if (secret !== undefined && apopDigestMatches(challenge, secret, parsed.digest)) {
      // the proxy policy runs for APOP too (pop3d.c:cmd_apop through sasl_checkapop)
      const decision = checkLoginPolicy(session.settings.sasl.policy, canonical.user, canonical.user);
      if (decision.ok) {
        session.log.notice(loginLogLine(session, canonical.user, canonical.subfolder, "APOP"));
        return openMaildrop(session, { user: canonical.user, subfolder: canonical.subfolder, viaSasl: false });
      }
      reason = decision.reason;
    }
  }
  // libsasl's errdetail, as Cyrus logs it
  const detail = reason === "authentication failure" ? "SASL(-13): authentication failure: login incorrect" : `SASL(-5): ${reason}`;
  session.log.notice(`badlogin: ${host} APOP (${challenge}) ${detail}`);
  await badLoginPause(session);
  session.reject(authenticatingFailed(reason));
};

const auth: AuthorizationHandler = (session, _state, command) => authenticate(session, command.argument);

export const AUTHORIZATION_COMMANDS = new Map<string, AuthorizationHandler>([
  ["user", user],
  ["pass", pass],
  ["apop", apop],
  ["auth", auth],
  ["stls", startTls],
]);
