/**
 * Cyrus's own error texts (imap/imap_err.et), which pop3d sends after "Unable to open maildrop: "
 * (RFC 2449 section 8, pop3d.c:openinbox), and the mapping of our internal failures onto them.
 */
import { StoreError } from "../maildrop.ts";
import { CyrusLockTimeoutError } from "./cyrus-lock.ts";
import { DlistSyntaxError } from "./dlist.ts";
import { IndexFormatError } from "./index-format.ts";
import { MailboxEntryError } from "./mboxlist.ts";
import { MailboxHeaderError } from "./mailbox-header.ts";
import { TwoskipError } from "./twoskip.ts";
import { UnknownPartitionError } from "./spool-paths.ts";

export const IMAP_IOERROR = "System I/O error";
export const IMAP_PERMISSION_DENIED = "Permission denied";
export const IMAP_MAILBOX_BADFORMAT = "Mailbox has an invalid format";
export const IMAP_MAILBOX_CHECKSUM = "Mailbox format corruption detected";
export const IMAP_MAILBOX_NONEXISTENT = "Mailbox does not exist";
export const IMAP_MAILBOX_MOVED = "Mailbox has been moved to another server";
export const IMAP_MAILBOX_RESERVED = "Mailbox is currently reserved";
export const IMAP_MAILBOX_LOCKED = "Mailbox is locked";
export const IMAP_PARTITION_UNKNOWN = "Unknown/invalid partition";
export const COULD_NOT_READ = "Could not read message file";

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * A failure while looking the mailbox up (mailboxes.db): Cyrus answers these with [SYS/TEMP],
 * a broken database being a DBERROR that becomes "System I/O error".
 */
export function lookupError(error: unknown, context: string): StoreError {
  if (error instanceof StoreError) return error;
  const detail = `${context}: ${describe(error)}`;
  if (error instanceof CyrusLockTimeoutError) return new StoreError("temp", IMAP_MAILBOX_LOCKED, detail);
  return new StoreError("temp", IMAP_IOERROR, detail);
}

/** A failure opening the mailbox itself (header, index): [SYS/PERM], never a write. */
export function openError(error: unknown, context: string): StoreError {
  if (error instanceof StoreError) return error;
  const detail = `${context}: ${describe(error)}`;
  if (error instanceof CyrusLockTimeoutError) return new StoreError("temp", IMAP_MAILBOX_LOCKED, detail);
  if (error instanceof IndexFormatError) return new StoreError("perm", error.checksum ? IMAP_MAILBOX_CHECKSUM : IMAP_MAILBOX_BADFORMAT, detail);
  if (error instanceof MailboxHeaderError || error instanceof DlistSyntaxError || error instanceof MailboxEntryError) {
    return new StoreError("perm", IMAP_MAILBOX_BADFORMAT, detail);
  }
  if (error instanceof TwoskipError) return new StoreError("perm", IMAP_IOERROR, detail);
  if (error instanceof UnknownPartitionError) return new StoreError("perm", IMAP_PARTITION_UNKNOWN, detail);
  const code = errnoCode(error);
  if (code === "EACCES" || code === "EPERM") return new StoreError("perm", IMAP_PERMISSION_DENIED, detail);
  return new StoreError("perm", IMAP_IOERROR, detail);
}
