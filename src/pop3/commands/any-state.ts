/** Commands valid in every state (RFC 2449 CAPA, RFC 1939 QUIT). */
import type { AnyStateHandler } from "../session-context.ts";
import { E, R } from "../responses.ts";
import { capabilitiesNow } from "./capa.ts";

const capa: AnyStateHandler = (session, { argument }) => {
  if (argument !== undefined) return session.reject(E.extraArgument);
  for (const line of capabilitiesNow(session)) session.send(line);
  // Cyrus flushes CAPA at once (pop3d.c:cmd_capa)
  session.flush();
};

/**
 * QUIT (RFC 1939 section 6): the UPDATE state when logged in — deleted messages go, retrieved ones
 * may get \Seen — and the reply is "+OK" whatever the commit did. `QUIT x` does not end the session.
 */
const quit: AnyStateHandler = async (session, { argument }) => {
  if (argument !== undefined) return session.reject(E.extraArgument);
  const tx = session.state;
  if (tx.kind === "transaction") {
    try {
      const result = await tx.maildrop.commit(tx.updatePlan());
      if (result.expunged > 0) session.log.notice(`Expunged ${result.expunged} messages from ${result.mailboxName}`);
    } catch (error) {
      session.log.err(`commit failed for ${tx.login.user}: ${(error as Error).message}`);
    }
  }
  session.send(R.ok);
  session.finish("quit");
};

export const ANY_STATE_COMMANDS = new Map<string, AnyStateHandler>([
  ["capa", capa],
  ["quit", quit],
]);
