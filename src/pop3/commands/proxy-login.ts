/**
 * The Murder frontend's login (pop3d.c:openinbox for a remote mailbox, then pop3d.c:bitpipe): the
 * user authenticated here and the frontend's mailboxes.db puts the mailbox on a backend, so we log
 * in there as the proxy user on the user's behalf, answer with the backend's own +OK line, and
 * relay bytes both ways from then on (docs/murder.md).
 */
import type { SessionContext } from "../session-context.ts";
import type { Login, Relay } from "../session-state.ts";
import type { BackendLink } from "../backend-link.ts";
import { E, shutdownNotice } from "../responses.ts";
import { checkShutdownFiles } from "../shutdown-file.ts";
import { startTelemetry, withinLoginLimits } from "./login-admission.ts";

/** pop3d.c:openinbox puts a `+folder` back into the user name it proxies for (before any @domain). */
export function proxyUserid(login: Login, virtdomains: boolean): string {
  const { user, subfolder } = login;
  if (subfolder === undefined) return user;
  const at = virtdomains ? user.indexOf("@") : -1;
  return at < 0 ? `${user}+${subfolder}` : `${user.slice(0, at)}+${subfolder}${user.slice(at)}`;
}

/**
 * Client bytes to the backend, backend bytes to the client, each direction paused while the other
 * side holds unsent bytes. The shutdown file and user_deny.db are checked on every client read, as
 * bitpipe does; a backend that hangs up (after its QUIT answer, or because it died) ends the session.
 */
function relayThrough(session: SessionContext, link: BackendLink, user: string): Relay {
  link.attach({
    data(chunk) {
      if (session.isOver) return;
      if (!session.writeRaw(chunk)) {
        link.pauseInput();
        void session.outputDrained().then(() => link.resumeInput());
      }
    },
    end(reason) {
      if (session.isOver) return;
      if (reason !== undefined && reason !== "closed by the backend") session.log.err(`backend server ${link.server}: ${reason}`);
      // bitpipe returns to service_main as after a QUIT: the process may serve the next connection
      session.finish("quit");
    },
  });
  return {
    send(chunk) {
      const denied = session.settings.userDeny?.(user);
      const notice = checkShutdownFiles(session.settings.shutdownFiles) ?? (denied === undefined ? undefined : shutdownNotice(denied));
      if (notice !== undefined) {
        session.reject(notice);
        session.finish("notice");
        return;
      }
      if (!link.write(chunk)) {
        session.io.pauseInput();
        void link.drained().then(() => {
          if (!session.isOver) session.io.resumeInput();
        });
      }
    },
    close() {
      link.close();
    },
  };
}

export async function proxyToBackend(session: SessionContext, login: Login, server: string): Promise<void> {
  const authzid = proxyUserid(login, session.settings.canonical.virtdomains !== "off");
  const result = await session.backends!.login(server, authzid);
  if (!result.ok) {
    if (result.failure === "unavailable") {
      session.log.err(`couldn't connect to backend server ${server}: ${result.detail}`);
      return session.reject(E.backendUnavailable);
    }
    session.log.err(`couldn't authenticate to backend server ${server}: ${result.detail}`);
    return session.reject(E.backendAuthFailed);
  }
  const link = result.link;
  if (session.isOver || !withinLoginLimits(session, login.user)) {
    link.close();
    return;
  }
  session.log.notice(`proxying ${authzid} to backend server ${server}`);
  startTelemetry(session, login.user);
  // Cyrus's statusline: the backend's "+OK ..." after the proxy login, session id and all
  session.send("+OK" + link.status);
  // the +OK goes out before any relayed byte
  session.flush();
  const relay = relayThrough(session, link, login.user);
  // a backend that hung up right after its +OK has already ended the session
  if (!session.isOver) session.becomeProxy(login, relay);
}
