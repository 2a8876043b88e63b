/** What a login must pass after authentication, wherever its mailbox lives: the login limits and the telemetry file. */
import type { SessionContext } from "../session-context.ts";
import { tooManyConnections } from "../responses.ts";
import { TelemetryLog } from "../../log/telemetry.ts";

/**
 * maxlogins_per_host / maxlogins_per_user (pop3d.c:openinbox), counted over the other logged-in
 * sessions of this service. Cyrus counts its own process only after USER/PASS (so its limit is
 * one lower there than after AUTH/APOP); we allow exactly N sessions whatever the login method.
 */
export function withinLoginLimits(session: SessionContext, user: string): boolean {
  const s = session.settings;
  if (!session.registry || (s.maxLoginsPerHost === 0 && s.maxLoginsPerUser === 0)) return true;
  // before 3.12 Cyrus counted its own entry once USER had named the user (docs/compatibility.md)
  if (!s.loginLimitsAsCyrusBefore312) session.registry.remove(session);
  const counts = session.registry.count(s.service, session.io.clientHost, user, s.loginLimitsAsCyrusBefore312);
  const hostFull = s.maxLoginsPerHost > 0 && counts.host >= s.maxLoginsPerHost;
  const userFull = s.maxLoginsPerUser > 0 && counts.user >= s.maxLoginsPerUser;
  if (!hostFull && !userFull) return true;
  const reply = tooManyConnections(
    s.maxLoginsPerHost > 0 ? { count: counts.host, max: s.maxLoginsPerHost, client: session.io.clientHost } : undefined,
    s.maxLoginsPerUser > 0 ? { count: counts.user, max: s.maxLoginsPerUser, name: user } : undefined,
  );
  session.log.err(reply.text);
  session.reject(reply);
  return false;
}

/** The telemetry file starts with the login's +OK reply; earlier output goes out first. */
export function startTelemetry(session: SessionContext, user: string): void {
  session.updateRegistry();
  session.flush();
  const s = session.settings;
  session.telemetry = TelemetryLog.open({
    configDirectory: s.configDirectory,
    service: s.service,
    userid: user,
    sessionId: session.sessionId,
    bySessionId: s.telemetryBySessionId,
    manySessions: s.telemetryPerSession,
  });
}
