/** What every successful authentication shares: opening the maildrop (pop3d.c:openinbox) and the log lines. */
import type { SessionContext } from "../session-context.ts";
import type { Login } from "../session-state.ts";
import { RemoteMailboxError, StoreError, type Maildrop } from "../../store/maildrop.ts";
import { proxyToBackend } from "./proxy-login.ts";
import { loginDelay, mailboxReady, maildropOpenFailed } from "../responses.ts";
import { startTelemetry, withinLoginLimits } from "./login-admission.ts";
import { MAILDROP_OPEN_FAILURE_PAUSE_MS } from "../../limits.ts";

export function loginLogLine(session: SessionContext, user: string, subfolder: string | undefined, mech: string): string {
  const sub = subfolder !== undefined ? "+" + subfolder : "";
  const tls = session.tlsActive ? "+TLS" : "";
  return `login: ${session.io.clientHost} ${user}${sub} ${mech}${tls} User logged in SESSIONID=<${session.sessionId}>`;
}

/** failedloginpause (pop3d.c:cmd_pass): an async sleep, so it stalls this session only, never the others. */
export async function badLoginPause(session: SessionContext): Promise<void> {
  const ms = session.settings.failedLoginPauseMs;
  if (ms > 0) await Bun.sleep(ms);
}

/**
 * pop3d.c:openinbox: open the user's maildrop and enter TRANSACTION, or answer the matching error.
 * Any failure leaves the session in AUTHORIZATION so the client may retry.
 */
export async function openMaildrop(session: SessionContext, login: Login): Promise<void> {
  const { user, subfolder } = login;
  let drop: Maildrop;
  try {
    drop = await session.store.open(user, subfolder);
  } catch (error) {
    if (error instanceof RemoteMailboxError && session.backends) return proxyToBackend(session, login, error.server);
    if (!(error instanceof StoreError)) throw error;
    // pop3d.c:openinbox names the mailbox as Cyrus does internally (user.bob)
    const mailbox = session.settings.procMailbox?.(user, subfolder) ?? (subfolder !== undefined ? `${user}+${subfolder}` : user);
    if (error.kind !== "login-delay") session.log.info(`Unable to open maildrop ${mailbox}: ${error.message}${error.detail ? ` (${error.detail})` : ""}`);
    if (error.kind === "login-delay") {
      session.log.err(`${mailbox}: Logins must be at least ${Math.floor(session.settings.popMinPollSeconds / 60)} minute${session.settings.popMinPollSeconds >= 120 ? "s" : ""} apart`);
      return session.reject(loginDelay(session.settings.popMinPollSeconds));
    }
    // pop3d.c:openinbox: a hard pause before every "Unable to open maildrop"
    await Bun.sleep(MAILDROP_OPEN_FAILURE_PAUSE_MS);
    session.reject(maildropOpenFailed(error.kind, error.message));
    return;
  }
  if (session.isOver) {
    drop.close();
    return;
  }
  if (!withinLoginLimits(session, user)) {
    drop.close();
    return;
  }
  session.enterTransaction(login, drop);
  startTelemetry(session, user);
  session.send(mailboxReady(session.sessionId));
}
