/** Making renames and unlinks survive a crash: fsync the directory that holds them. */
import { closeSync, constants, fsync, fsyncSync, openSync, write, writeSync } from "node:fs";
import { open } from "node:fs/promises";

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncDirectory off the JS thread (fsync may wait for the disk). */
export async function fsyncDirectoryAsync(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write all of `data` at the descriptor's position (writeSync may write less than asked). */
export function writeAll(fd: number, data: Uint8Array): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written);
}

/** writeAll off the JS thread (a large index or list is several MB). */
export async function writeAllAsync(fd: number, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += await new Promise<number>((resolve, reject) =>
      write(fd, data, written, data.length - written, null, (error, n) => (error ? reject(error) : resolve(n))),
    );
  }
}

/** fsync off the JS thread: it may wait for the disk for a long time. */
export async function fsyncAsync(fd: number): Promise<void> {
  await new Promise<void>((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}
