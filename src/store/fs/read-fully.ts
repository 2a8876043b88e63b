/** Reading a whole file from an open descriptor off the JS thread (libuv's pool), then returning. */
import { read } from "node:fs";

function readAt(fd: number, into: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, into, offset, length, position, (error, n) => (error ? reject(error) : resolve(n))));
}

/** Up to `size` bytes from position 0 of `fd`; fewer if the file is shorter. */
export async function readFully(fd: number, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size);
  let done = 0;
  while (done < size) {
    const n = await readAt(fd, bytes, done, size - done, done);
    if (n === 0) break;
    done += n;
  }
  return bytes.subarray(0, done);
}
