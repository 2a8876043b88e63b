/**
 * Received bytes kept as a list of chunks, so that a 10 MiB response arriving in hundreds of
 * chunks is split into lines without re-copying the unread remainder on every chunk.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already taken. */
  private head = 0;
  /** Where the LF search resumes: chunk index and offset (chunks before it hold no LF). */
  private scanChunk = 0;
  private scanPos = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length > 0) this.chunks.push(Buffer.from(chunk));
  }

  get size(): number {
    let n = -this.head;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /** The next line including its LF, or null while no complete line has arrived. */
  takeLine(): Buffer | null {
    while (this.scanChunk < this.chunks.length) {
      const chunk = this.chunks[this.scanChunk]!;
      const from = this.scanChunk === 0 ? Math.max(this.scanPos, this.head) : this.scanPos;
      const lf = chunk.indexOf(10, from);
      if (lf >= 0) return this.cut(this.scanChunk, lf + 1);
      this.scanChunk++;
      this.scanPos = 0;
    }
    return null;
  }

  /** Everything received and not yet taken. */
  takeAll(): Buffer {
    const parts = this.chunks.map((c, i) => (i === 0 ? c.subarray(this.head) : c));
    this.chunks = [];
    this.head = this.scanChunk = this.scanPos = 0;
    return Buffer.concat(parts);
  }

  /** Removes and returns the bytes up to `end` of chunk `k`. */
  private cut(k: number, end: number): Buffer {
    const first = this.chunks[0]!;
    const out =
      k === 0
        ? first.subarray(this.head, end)
        : Buffer.concat([first.subarray(this.head), ...this.chunks.slice(1, k), this.chunks[k]!.subarray(0, end)]);
    this.chunks.splice(0, k);
    this.head = end;
    if (this.head === this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
    this.scanChunk = 0;
    this.scanPos = 0;
    return out;
  }
}
