/** TRANSACTION-state commands (§4.3, §4.4): STAT LIST UIDL RETR TOP DELE NOOP RSET. */
import type { Handler, Session } from "../session.ts";
import { parseMessageNumber, parseTopArguments } from "../parser.ts";
import { R, statReply } from "../responses.ts";
import { formatUidl } from "../settings.ts";
import { streamMessage } from "./retrieve.ts";

/** Lines per flush when producing LIST/UIDL listings, so a 100k-message listing streams. */
const LISTING_BATCH = 512;

/** Resolve a message-number argument to a 0-based index, answering the error itself (§4.3). */
function messageIndex(session: Session, argument: string): number | undefined {
  const parsed = parseMessageNumber(argument);
  if (!parsed.ok) {
    session.send(parsed.error === "nan" ? R.notANumber : R.extraArgument);
    return undefined;
  }
  return existingIndex(session, parsed.value);
}

function existingIndex(session: Session, number: number): number | undefined {
  const count = session.maildrop!.messages.length;
  if (number < 1 || number > count || session.deleted[number - 1]) {
    session.send(R.noSuchMessage);
    return undefined;
  }
  return number - 1;
}

function uidlOf(session: Session, index: number): string {
  const drop = session.maildrop!;
  const message = drop.messages[index]!;
  return message.uidl ?? formatUidl(session.settings.uidlFormat, drop.uidValidity, message.uid, drop.newUidl);
}

const stat: Handler = (session, { argument }) => {
  if (argument !== undefined) return session.send(R.extraArgument);
  const messages = session.maildrop!.messages;
  let count = 0;
  let octets = 0;
  for (let i = 0; i < messages.length; i++) {
    if (session.deleted[i]) continue;
    count++;
    octets += messages[i]!.size;
  }
  // §4.4: Cyrus's total is a 32-bit unsigned that wraps above 4 GiB
  session.send(statReply(count, octets % 0x100000000));
};

/** LIST and UIDL share their shape: one message with an argument, a listing without. */
function listing(header: string, render: (session: Session, index: number) => string): Handler {
  return async (session, { argument }) => {
    if (argument !== undefined) {
      const index = messageIndex(session, argument);
      if (index !== undefined) session.send(`+OK ${index + 1} ${render(session, index)}`);
      return;
    }
    session.send(header);
    const count = session.maildrop!.messages.length;
    let batch = "";
    let inBatch = 0;
    for (let i = 0; i < count; i++) {
      if (session.deleted[i]) continue;
      batch += `${i + 1} ${render(session, i)}\r\n`;
      if (++inBatch === LISTING_BATCH) {
        await session.sendBulk(batch);
        batch = "";
        inBatch = 0;
      }
    }
    await session.sendBulk(batch + ".\r\n");
  };
}

const list = listing(R.scanListing, (session, i) => String(session.maildrop!.messages[i]!.size));
const uidl = listing(R.uidListing, uidlOf);

const retr: Handler = async (session, { argument }) => {
  if (argument === undefined) return session.send(R.missingArgument);
  const index = messageIndex(session, argument);
  if (index === undefined) return;
  session.counts.retr++;
  // §4.4: marked retrieved even when the read fails
  session.retrieved[index] = 1;
  await streamMessage(session, index, -1);
};

const top: Handler = async (session, { argument }) => {
  const parsed = parseTopArguments(argument ?? "");
  if (!parsed.ok) {
    const error = { missing: R.missingArgument, lines: R.invalidLineCount, extra: R.extraArgument }[parsed.error];
    return session.send(error);
  }
  const index = existingIndex(session, parsed.message);
  if (index === undefined) return;
  session.counts.top++;
  await streamMessage(session, index, parsed.lines);
};

const dele: Handler = (session, { argument }) => {
  if (argument === undefined) return session.send(R.missingArgument);
  // §4.4: refused before the number is even parsed, the ACL first
  if (session.maildrop!.mayDelete === false) return session.send(R.permissionDenied);
  if (session.settings.readOnly) return session.send(R.readOnly);
  const index = messageIndex(session, argument);
  if (index === undefined) return;
  session.counts.dele++;
  session.deleted[index] = 1;
  session.send(R.messageDeleted);
};

const noop: Handler = (session, { argument }) => session.send(argument === undefined ? R.ok : R.extraArgument);

/** §4.4: RSET clears the retrieved marks as well, so no \Seen is set for them at QUIT. */
const rset: Handler = (session, { argument }) => {
  if (argument !== undefined) return session.send(R.extraArgument);
  session.deleted.fill(0);
  session.retrieved.fill(0);
  session.send(R.ok);
};

export const TRANSACTION_COMMANDS = new Map<string, Handler>([
  ["stat", stat],
  ["list", list],
  ["uidl", uidl],
  ["retr", retr],
  ["top", top],
  ["dele", dele],
  ["noop", noop],
  ["rset", rset],
]);

