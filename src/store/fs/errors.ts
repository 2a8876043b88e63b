/**
 * Filesystem failures of the file stores in the words clients get (Cyrus's, imap/pop3d.c
 * openinbox): the errno and path go to the log only, in StoreError.detail.
 */
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

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A mailbox-level failure: a missing mailbox is "Mailbox does not exist" (temporary: it may yet be
 * created), anything else is permanent. `context` says what was being done, for the log.
 */
export function storeErrorFrom(error: unknown, context: string): StoreError {
  if (error instanceof StoreError) return error;
  const detail = `${context}: ${describeError(error)}`;
  const code = errorCode(error);
  if (code === "ENOENT" || code === "ENOTDIR") return new StoreError("temp", "Mailbox does not exist", detail);
  if (code === "EACCES" || code === "EPERM") return new StoreError("perm", "Permission denied", detail);
  return new StoreError("perm", "System I/O error", detail);
}
