/**
 * The size a message has on the wire before dot-stuffing (RFC 1939 section 5, pop3d.c:blat): every LF not already preceded
 * by CR is sent as CRLF, and a message whose last byte is not LF gets a CRLF appended. An empty
 * message has no last line, so nothing is appended and its size is 0.
 */

const LF = 10;
const CR = 13;

/** Counts the wire size of a message fed in chunks, so files can be sized without holding them whole. */
export class CrlfSizeCounter {
  private octets = 0;
  private bareLineFeeds = 0;
  private lastByte = -1;

  add(chunk: Uint8Array, length = chunk.length): void {
    if (length === 0) return;
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, length);
    let at = bytes.indexOf(LF, 0);
    while (at >= 0) {
      const before = at === 0 ? this.lastByte : bytes[at - 1];
      if (before !== CR) this.bareLineFeeds++;
      at = bytes.indexOf(LF, at + 1);
    }
    this.octets += length;
    this.lastByte = bytes[length - 1];
  }

  get size(): number {
    const unterminated = this.octets > 0 && this.lastByte !== LF ? 2 : 0;
    return this.octets + this.bareLineFeeds + unterminated;
  }
}

export function crlfSize(message: Uint8Array): number {
  const counter = new CrlfSizeCounter();
  counter.add(message);
  return counter.size;
}
