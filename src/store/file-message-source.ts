import { closeSync, readSync } from "node:fs";
import { StoreError, type MessageSource } from "./maildrop.ts";

/**
 * The raw bytes of one message file on an open descriptor; the session turns them into CRLF and
 * dot-stuffs them. The descriptor keeps the file readable even if it is renamed or unlinked meanwhile.
 */
export class FileMessageSource implements MessageSource {
  constructor(
    private fd: number,
    private readonly path: string,
    private readonly onClose: (source: FileMessageSource) => void,
  ) {}

  read(into: Buffer): number {
    if (this.fd < 0) return 0;
    try {
      return readSync(this.fd, into, 0, into.length, null);
    } catch (error) {
      throw new StoreError("perm", "Could not read message file", `${this.path}: ${error instanceof Error ? error.message : String(error)}`);
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
