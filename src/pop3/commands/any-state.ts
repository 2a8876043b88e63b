/** Commands valid in every state (§4.2): CAPA and QUIT. */
import type { Handler } from "../session.ts";
import { R } from "../responses.ts";
import { capabilityLines } from "./capa.ts";

const capa: Handler = (session, { argument }) => {
  if (argument !== undefined) return session.send(R.extraArgument);
  for (const line of capabilityLines(session)) session.send(line);
  // Cyrus flushes CAPA at once (§4.5)
  session.flush();
};

/**
 * QUIT (§5.5): the UPDATE state when logged in — deleted messages go, retrieved ones may get
 * \Seen — and the reply is "+OK" whatever the commit did. `QUIT x` does not end the session.
 */
const quit: Handler = async (session, { argument }) => {
  if (argument !== undefined) return session.send(R.extraArgument);
  const drop = session.maildrop;
  if (drop && session.state === "transaction") {
    const deleted: number[] = [];
    const retrieved: number[] = [];
    for (let i = 0; i < session.deleted.length; i++) {
      if (session.deleted[i]) deleted.push(i);
      else if (session.retrieved[i]) retrieved.push(i);
    }
    try {
      const result = await drop.commit({ deleted, retrieved });
      if (result.expunged > 0) session.log.notice(`Expunged ${result.expunged} messages from ${result.mailboxName}`);
    } catch (error) {
      session.log.err(`commit failed for ${session.userid}: ${(error as Error).message}`);
    }
  }
  session.send(R.ok);
  session.finish("quit");
};

export const ANY_STATE_COMMANDS = new Map<string, Handler>([
  ["capa", capa],
  ["quit", quit],
]);
