/** TRANSACTION-state commands (RFC 1939 section 5, pop3d.c): STAT LIST UIDL RETR TOP DELE NOOP RSET. */
import type { SessionContext, TransactionHandler } from "../session-context.ts";
import type { Transaction } from "../session-state.ts";
import { parseMessageNumber, parseTopArguments } from "../parser.ts";
import { E, R, statReply } from "../responses.ts";
import { formatUidl } from "../settings.ts";
import { streamMessage } from "./retrieve.ts";

/** Lines per flush when producing LIST/UIDL listings, so a 100k-message listing streams. */
const LISTING_BATCH = 512;

/** Resolve a message-number argument to a 0-based index (pop3d.c:parse_msgno); throws the client's error. */
function messageIndex(tx: Transaction, argument: string): number {
  const parsed = parseMessageNumber(argument);
  if (!parsed.ok) throw parsed.error === "nan" ? E.notANumber : E.extraArgument;
  return existingIndex(tx, parsed.value);
}

function existingIndex(tx: Transaction, number: number): number {
  const index = tx.existingIndex(number);
  if (index === undefined) throw E.noSuchMessage;
  return index;
}

function uidlOf(session: SessionContext, tx: Transaction, index: number): string {
  const drop = tx.maildrop;
  const message = drop.messages[index]!;
  return message.uidl ?? formatUidl(session.settings.uidlFormat, drop.uidValidity, message.uid, drop.newUidl);
}

const stat: TransactionHandler = (session, tx, { argument }) => {
  if (argument !== undefined) return session.reject(E.extraArgument);
  const messages = tx.maildrop.messages;
  let count = 0;
  let octets = 0;
  for (let i = 0; i < messages.length; i++) {
    if (tx.isDeleted(i)) continue;
    count++;
    octets += messages[i]!.size;
  }
  // pop3d.c:cmd_stat: Cyrus's total is a 32-bit unsigned that wraps above 4 GiB
  session.send(sameStatReply(count, octets % 0x100000000));
};

/** The last STAT answer, reused while it is the same: a pipelined STAT then builds no string. */
let lastStat = { count: -1, octets: -1, reply: "" };
function sameStatReply(count: number, octets: number): string {
  if (lastStat.count !== count || lastStat.octets !== octets) lastStat = { count, octets, reply: statReply(count, octets) };
  return lastStat.reply;
}

/** LIST and UIDL share their shape: one message with an argument, a listing without. */
function listing(header: string, render: (session: SessionContext, tx: Transaction, index: number) => string): TransactionHandler {
  return async (session, tx, { argument }) => {
    if (argument !== undefined) {
      const index = messageIndex(tx, argument);
      session.send(`+OK ${index + 1} ${render(session, tx, index)}`);
      return;
    }
    session.send(header);
    const count = tx.messageCount;
    let batch = "";
    let inBatch = 0;
    for (let i = 0; i < count; i++) {
      if (tx.isDeleted(i)) continue;
      batch += `${i + 1} ${render(session, tx, i)}\r\n`;
      if (++inBatch === LISTING_BATCH) {
        await session.sendBulk(batch);
        if (session.isOver) return;
        batch = "";
        inBatch = 0;
      }
    }
    await session.sendBulk(batch + ".\r\n");
  };
}

const list = listing(R.scanListing, (_session, tx, i) => String(tx.maildrop.messages[i]!.size));
const uidl = listing(R.uidListing, uidlOf);

const retr: TransactionHandler = async (session, tx, { argument }) => {
  if (argument === undefined) return session.reject(E.missingArgument);
  const index = messageIndex(tx, argument);
  session.counts.retr++;
  // pop3d.c:cmd_retr: marked retrieved even when the read fails
  tx.markRetrieved(index);
  await streamMessage(session, tx, index, -1);
};

const top: TransactionHandler = async (session, tx, { argument }) => {
  const parsed = parseTopArguments(argument ?? "");
  if (!parsed.ok) {
    const error = { missing: E.missingArgument, lines: E.invalidLineCount, extra: E.extraArgument }[parsed.error];
    return session.reject(error);
  }
  const index = existingIndex(tx, parsed.message);
  session.counts.top++;
  await streamMessage(session, tx, index, parsed.lines);
};

const dele: TransactionHandler = (session, tx, { argument }) => {
  if (argument === undefined) return session.reject(E.missingArgument);
  // pop3d.c:cmd_dele: refused before the number is even parsed, the ACL first
  if (tx.maildrop.mayDelete === false) return session.reject(E.permissionDenied);
  if (session.settings.readOnly) return session.reject(E.readOnly);
  const index = messageIndex(tx, argument);
  session.counts.dele++;
  tx.markDeleted(index);
  session.send(R.messageDeleted);
};

const noop: TransactionHandler = (session, _tx, { argument }) => {
  if (argument !== undefined) return session.reject(E.extraArgument);
  session.send(R.ok);
};

/** RSET clears the retrieved marks as well, so no \Seen is set for them at QUIT (pop3d.c:cmd_rset). */
const rset: TransactionHandler = (session, tx, { argument }) => {
  if (argument !== undefined) return session.reject(E.extraArgument);
  tx.reset();
  session.send(R.ok);
};

export const TRANSACTION_COMMANDS = new Map<string, TransactionHandler>([
  ["stat", stat],
  ["list", list],
  ["uidl", uidl],
  ["retr", retr],
  ["top", top],
  ["dele", dele],
  ["noop", noop],
  ["rset", rset],
]);
