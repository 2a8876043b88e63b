/**
 * Opening a file found in a user's mail directory, which the user (or anyone who can deliver) may
 * fill with anything: a symlink must not serve a file the server can read but the user cannot, and
 * a FIFO or device must not freeze the process in open(2) or read(2). So: O_NOFOLLOW, O_NONBLOCK
 * (open of a FIFO returns at once; on a regular file the flag changes nothing), then fstat must say
 * "regular file".
 */
import { closeSync, constants, fstatSync, openSync, unlinkSync, type Stats } from "node:fs";
import { readFully } from "./read-fully.ts";

/** What a directory entry turned out to be when it is not a regular file. */
export type NotRegularKind = "symlink" | "directory" | "fifo" | "socket" | "device" | "other";

export class NotRegularFileError extends Error {
  readonly code = "ENOTREG";
  constructor(
    readonly path: string,
    readonly kind: NotRegularKind,
  ) {
    super(`${path} is a ${kind}, not a regular file`);
    this.name = "NotRegularFileError";
  }
}

function kindOf(stats: Stats): NotRegularKind {
  if (stats.isDirectory()) return "directory";
  if (stats.isFIFO()) return "fifo";
  if (stats.isSocket()) return "socket";
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return "device";
  if (stats.isSymbolicLink()) return "symlink";
  return "other";
}

export interface OpenedFile {
  readonly fd: number;
  readonly size: number;
}

/**
 * Open `path` read-only if it is a regular file (not through a symlink). Throws NotRegularFileError
 * for anything else, and the node:fs error (ENOENT, EACCES…) when it cannot be opened at all.
 * `writable` opens it read-write (an mbox about to be locked and rewritten).
 */
export function openRegularFile(path: string, writable = false): OpenedFile {
  let fd: number;
  try {
    fd = openSync(path, (writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // O_NOFOLLOW on a symlink fails with ELOOP; opening a directory for writing with EISDIR.
    if (code === "ELOOP") throw new NotRegularFileError(path, "symlink");
    if (code === "EISDIR") throw new NotRegularFileError(path, "directory");
    // A FIFO without a reader refuses O_WRONLY|O_NONBLOCK with ENXIO.
    if (code === "ENXIO") throw new NotRegularFileError(path, "fifo");
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new NotRegularFileError(path, kindOf(stats));
    return { fd, size: stats.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

export function isNotRegularFile(error: unknown): error is NotRegularFileError {
  return error instanceof NotRegularFileError;
}

/**
 * The whole of a regular file, read off the JS thread. Anything but a regular file (a FIFO planted
 * where a uid list or index belongs would otherwise hang a pool thread for ever) throws
 * NotRegularFileError; a missing file throws ENOENT as usual.
 */
export async function readRegularFile(path: string): Promise<Buffer> {
  const { fd, size } = openRegularFile(path);
  try {
    return await readFully(fd, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Create `path` afresh for writing: whatever is there (a leftover, or a symlink or FIFO someone
 * planted) is removed first, and O_EXCL|O_NOFOLLOW make sure the file opened is the one created.
 */
export function createFreshFile(path: string, mode: number): number {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
}
