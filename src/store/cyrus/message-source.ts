import { StoreError } from "../maildrop.ts";
import { FileMessageSource } from "../file-message-source.ts";
import { openRegularFile } from "../fs/safe-open.ts";
import { COULD_NOT_READ } from "./cyrus-errors.ts";

/**
 * The `<uid>.` message file, from the first of `paths` that exists (a message may have been
 * archived since login). Cyrus stores messages with CRLF line ends already; the session's own CRLF
 * handling leaves them unchanged.
 */
export function openCyrusMessage(paths: readonly string[], onClose: (source: FileMessageSource) => void): FileMessageSource {
  let failure: unknown;
  for (const path of paths) {
    try {
      return new FileMessageSource(openRegularFile(path).fd, path, onClose);
    } catch (error) {
      failure ??= error;
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") break;
    }
  }
  // pop3d.c:openinbox: a message expunged and cleaned up by someone else since login.
  throw new StoreError("perm", COULD_NOT_READ, `${paths.join(" or ")}: ${failure instanceof Error ? failure.message : String(failure)}`);
}
