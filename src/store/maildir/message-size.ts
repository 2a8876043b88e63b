import { closeSync, readSync } from "node:fs";
import { openRegularFile } from "../fs/safe-open.ts";
import { TimeSlicer } from "../fs/time-slice.ts";
import { CrlfSizeCounter } from "../crlf-size.ts";
import { crlfSizeField } from "./maildir-name.ts";

/** readSync into one reused buffer of this size streams a file faster than Bun.file() streams do (measured). */
const SIZE_SCAN_CHUNK = 256 * 1024;
let scanBuffer: Buffer | undefined;

/** Wire size of a message file, read in chunks (crlf-size.ts); anything but a regular file throws. */
export async function fileCrlfSize(path: string, slicer = new TimeSlicer()): Promise<number> {
  // Shared by every session of the process, so each chunk is counted before yielding.
  scanBuffer ??= Buffer.allocUnsafe(SIZE_SCAN_CHUNK);
  const counter = new CrlfSizeCounter();
  const { fd } = openRegularFile(path);
  try {
    for (let n; (n = readSync(fd, scanBuffer, 0, SIZE_SCAN_CHUNK, null)) > 0; ) {
      counter.add(scanBuffer, n);
      await slicer.pause();
    }
  } finally {
    closeSync(fd);
  }
  return counter.size;
}

/**
 * `,W=` already is the CRLF size. `,S=` is only the raw size: it equals the wire size just when the
 * file is all CRLF and ends in one, which only reading it can tell.
 */
export async function maildirMessageSize(path: string, baseName: string, slicer?: TimeSlicer): Promise<number> {
  return crlfSizeField(baseName) ?? fileCrlfSize(path, slicer);
}
