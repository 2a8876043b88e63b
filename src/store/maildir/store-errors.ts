import { StoreError } from "../maildrop.ts";

/** The errno code of a node:fs error, if it is one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}

export function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A maildir-level failure in Cyrus's words (§5.1): a missing mailbox is "Mailbox does not exist"
 * (temporary: it may yet be created), anything else is permanent. `context` names what was being
 * done for the log; the client only ever sees the message.
 */
export function maildirStoreError(error: unknown, context: string): StoreError {
  if (error instanceof StoreError) return error;
  const detail = `${context}: ${describe(error)}`;
  const code = errorCode(error);
  if (code === "ENOENT" || code === "ENOTDIR") return new StoreError("temp", "Mailbox does not exist", detail);
  if (code === "EACCES" || code === "EPERM") return new StoreError("perm", "Permission denied", detail);
  return new StoreError("perm", "System I/O error", detail);
}
