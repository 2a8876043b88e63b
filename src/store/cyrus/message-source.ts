import { closeSync, openSync, readSync } from "node:fs";
import { StoreError, type MessageSource } from "../maildrop.ts";
import { COULD_NOT_READ } from "./cyrus-errors.ts";

/**
 * The bytes of one `<uid>.` message file, read on demand. Cyrus stores messages with CRLF line
 * ends already; the session's own CRLF handling leaves them unchanged.
 */
export class CyrusMessageSource implements MessageSource {
  private fd = -1;

  private readonly path: string;

  /** Opens the first of `paths` that exists (a message may have been archived since login). */
  constructor(
    paths: readonly string[],
    private readonly onClose: (source: CyrusMessageSource) => void,
  ) {
    let failure: unknown;
    for (const path of paths) {
      try {
        this.fd = openSync(path, "r");
        this.path = path;
        return;
      } catch (error) {
        failure ??= error;
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") break;
      }
    }
    // §5.7: a message expunged and cleaned up by someone else since login.
    throw new StoreError("perm", COULD_NOT_READ, `${paths.join(" or ")}: ${failure instanceof Error ? failure.message : String(failure)}`);
  }

  read(into: Buffer): number {
    if (this.fd < 0) return 0;
    try {
      return readSync(this.fd, into, 0, into.length, null);
    } catch (error) {
      throw new StoreError("perm", COULD_NOT_READ, `${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.onClose(this);
    closeSync(fd);
  }
}
