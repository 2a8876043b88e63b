/** What every successful authentication shares: opening the maildrop (§5.1) and the log lines (§10). */
import type { Session } from "../session.ts";
import { StoreError } from "../../store/maildrop.ts";
import { loginDelay, mailboxReady, maildropOpenFailed, tooManyConnections } from "../responses.ts";
import { MAILDROP_OPEN_FAILURE_PAUSE_MS } from "../../limits.ts";
import { TelemetryLog } from "../../log/telemetry.ts";

/**
 * maxlogins_per_host / maxlogins_per_user (§5.1 step 9), counted over the other logged-in
 * sessions of this service. Cyrus counts its own process only after USER/PASS (so its limit is
 * one lower there than after AUTH/APOP); we allow exactly N sessions whatever the login method.
 */
function withinLoginLimits(session: Session, user: string): boolean {
  const s = session.settings;
  if (!session.registry || (s.maxLoginsPerHost === 0 && s.maxLoginsPerUser === 0)) return true;
  session.registry.remove(session);
  const counts = session.registry.count(s.service, session.io.clientHost, user);
  const hostFull = s.maxLoginsPerHost > 0 && counts.host >= s.maxLoginsPerHost;
  const userFull = s.maxLoginsPerUser > 0 && counts.user >= s.maxLoginsPerUser;
  if (!hostFull && !userFull) return true;
  const reply = tooManyConnections(
    s.maxLoginsPerHost > 0 ? { count: counts.host, max: s.maxLoginsPerHost, client: session.io.clientHost } : undefined,
    s.maxLoginsPerUser > 0 ? { count: counts.user, max: s.maxLoginsPerUser, name: user } : undefined,
  );
  session.log.err(reply.slice("-ERR ".length));
  session.resetLogin();
  session.send(reply);
  return false;
}

export function loginLogLine(session: Session, user: string, subfolder: string | undefined, mech: string): string {
  const sub = subfolder !== undefined ? "+" + subfolder : "";
  const tls = session.tlsActive ? "+TLS" : "";
  return `login: ${session.io.clientHost} ${user}${sub} ${mech}${tls} User logged in SESSIONID=<${session.sessionId}>`;
}

/** failedloginpause (§6.5): an async sleep, so it stalls this session only, never the others. */
export async function badLoginPause(session: Session): Promise<void> {
  const ms = session.settings.failedLoginPauseMs;
  if (ms > 0) await Bun.sleep(ms);
}

/**
 * §5.1: open the user's maildrop and enter TRANSACTION, or log the user out again with the
 * matching error. Any failure leaves the session in AUTHORIZATION so the client may retry.
 */
export async function openMaildrop(session: Session, user: string, subfolder: string | undefined): Promise<void> {
  session.userid = user;
  session.subfolder = subfolder;
  try {
    const drop = await session.store.open(user, subfolder);
    if (session.isOver) {
      drop.close();
      return;
    }
    session.enterTransaction(drop);
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    const mailbox = subfolder !== undefined ? `${user}+${subfolder}` : user;
    session.log.info(`Unable to open maildrop ${mailbox}: ${error.message}${error.detail ? ` (${error.detail})` : ""}`);
    session.resetLogin();
    if (error.kind === "login-delay") {
      session.log.err(`${mailbox}: Logins must be at least ${Math.floor(session.settings.popMinPollSeconds / 60)} minute${session.settings.popMinPollSeconds >= 120 ? "s" : ""} apart`);
      return session.send(loginDelay(session.settings.popMinPollSeconds));
    }
    // §6.5: a hard pause before every "Unable to open maildrop"
    await Bun.sleep(MAILDROP_OPEN_FAILURE_PAUSE_MS);
    session.send(maildropOpenFailed(error.kind, error.message));
    return;
  }
  if (!withinLoginLimits(session, user)) return;
  session.updateRegistry();
  // §8: the telemetry file starts with the "+OK Mailbox locked" reply; earlier output goes out first
  session.flush();
  const s = session.settings;
  session.telemetry = TelemetryLog.open({
    configDirectory: s.configDirectory,
    service: s.service,
    userid: user,
    sessionId: session.sessionId,
    bySessionId: s.telemetryBySessionId,
  });
  session.send(mailboxReady(session.sessionId));
}

