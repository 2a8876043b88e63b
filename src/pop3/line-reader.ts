/**
 * Resumable framing of the client's byte stream into lines, the way Cyrus's prot_fgets does it
 * (prot.c:prot_fgets): a "line" is everything up to and including LF, but never more than `maxLength` bytes —
 * a longer line is cut and its rest comes back as the next line. At end of input a final line
 * without LF is still returned. Pure: the same bytes in any chunking give the same lines, and a
 * client trickling a long line byte by byte costs linear, not quadratic, time.
 */
const INITIAL_CAPACITY = 1024;
/** What an empty reader holds: nothing of its own. */
const NO_BYTES = Buffer.alloc(0);
/** An emptied buffer larger than this is given back (a command line fits in it). */
const KEEP_CAPACITY = 16 * 1024;
/** At most this much room beyond what is needed when the buffer grows (amortises byte-wise trickles). */
const GROWTH_SLACK = 16 * 1024;

export class LineReader {
  private buf = NO_BYTES;
  private head = 0;
  private tail = 0;
  /** Bytes after `head` already searched for LF without finding one. */
  private searched = 0;
  private ended = false;

  /** Bytes received but not yet returned as lines. */
  get pendingBytes(): number {
    return this.tail - this.head;
  }

  get atEnd(): boolean {
    return this.ended && this.head === this.tail;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.tail + chunk.length > this.buf.length) this.makeRoom(chunk.length);
    this.buf.set(chunk, this.tail);
    this.tail += chunk.length;
  }

  /** No more input will come: a trailing partial line becomes returnable. */
  end(): void {
    this.ended = true;
  }

  /** Drop everything buffered (STLS discards pipelined input, RFC 2595 section 4). */
  discard(): void {
    this.head = this.tail = this.searched = 0;
  }

  /** Everything buffered, as a copy, and forget it (a session turning into a byte relay). */
  takeRest(): Buffer {
    const rest = Buffer.from(this.buf.subarray(this.head, this.tail));
    this.discard();
    return rest;
  }

  /**
   * The next line including its LF (if any), at most `maxLength` bytes, as a fresh copy; null when
   * no complete line is buffered yet (or, after end(), when nothing is left).
   */
  next(maxLength: number): Buffer | null {
    const available = this.tail - this.head;
    if (available === 0) return null;
    const limit = this.head + Math.min(available, maxLength);
    const from = this.head + Math.min(this.searched, limit - this.head);
    const lf = this.buf.indexOf(10, from);
    let cut: number;
    if (lf >= 0 && lf < limit) cut = lf + 1 - this.head;
    else if (available >= maxLength) cut = maxLength;
    else if (this.ended) cut = available;
    else {
      this.searched = available;
      return null;
    }
    // one copy, no view object in between: a pipelined command's line is its only garbage here
    const line = Buffer.allocUnsafe(cut);
    this.buf.copy(line, 0, this.head, this.head + cut);
    this.head += cut;
    this.searched = 0;
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      // a burst of pipelined input does not keep its buffer for the rest of the session
      if (this.buf.length > KEEP_CAPACITY) this.buf = NO_BYTES;
    }
    return line;
  }

  /**
   * Give the buffer back when nothing is pending: an idle session (most of them, most of the time)
   * then holds no input buffer while it waits for its client; the next command allocates one again.
   */
  release(): void {
    if (this.head === this.tail) {
      this.buf = NO_BYTES;
      this.head = this.tail = this.searched = 0;
    }
  }

  /**
   * Keep only what is pending, in a buffer of exactly that size: a client whose input is paused
   * (it does not read its answers) then holds its unread commands, not the slack and the consumed
   * head of the buffer they arrived in.
   */
  trim(): void {
    const pending = this.tail - this.head;
    if (this.buf.length - pending < INITIAL_CAPACITY) return;
    const next = Buffer.allocUnsafeSlow(pending);
    this.buf.copy(next, 0, this.head, this.tail);
    this.buf = next;
    this.head = 0;
    this.tail = pending;
  }

  private makeRoom(incoming: number): void {
    const pending = this.tail - this.head;
    const needed = pending + incoming;
    if (needed <= this.buf.length && this.head > 0) {
      this.buf.copy(this.buf, 0, this.head, this.tail);
    } else {
      // a little slack, not a factor: one read from the socket can bring 512 KiB at once, and a
      // client that does not read its answers keeps that much here while its input is paused
      const next = Buffer.allocUnsafe(Math.max(INITIAL_CAPACITY, needed + Math.min(needed >> 1, GROWTH_SLACK)));
      this.buf.copy(next, 0, this.head, this.tail);
      this.buf = next;
    }
    this.head = 0;
    this.tail = pending;
  }
}
