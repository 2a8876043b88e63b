/**
 * What an mbox session keeps of its login's index: per message the UID, where it sits, its wire
 * size, its From_ line's crc, how to unquote it, and (when UIDLs come from the index) its UIDL —
 * in typed arrays and one string of all UIDLs, about 60 bytes a message plus the UIDL, where the
 * index entries are objects of several hundred. The entries themselves are dropped after login.
 */
import type { IndexEntry } from "./mbox-index.ts";
import type { TimeSlicer } from "../fs/time-slice.ts";
import type { MessageInfo } from "../maildrop.ts";
import { buildMessageList, LISTED_MESSAGE_BYTES } from "../message-list.ts";

export interface SnapshotEntry {
  readonly uid: number;
  readonly offset: number;
  readonly contentStart: number;
  readonly contentEnd: number;
  readonly fromCrc: number;
  readonly unquote: boolean;
}

/**
 * A listed message whose UIDL is read from its snapshot when asked for (UIDL), not stored in it.
 * The snapshot is reached through a class made per snapshot, so the object holds three numbers:
 * 56 bytes with its array slot (measured like ListedMessage, message-list.ts).
 */
interface ListedMboxMessage extends MessageInfo {
  readonly index: number;
}

/** Heap bytes one listed mbox message costs in its array. */
const LISTED_MBOX_MESSAGE_BYTES = 56;

export class MboxSnapshot {
  private constructor(
    readonly count: number,
    private readonly uids: Float64Array,
    private readonly offsets: Float64Array,
    private readonly contentStarts: Float64Array,
    private readonly contentEnds: Float64Array,
    private readonly wireSizes: Float64Array,
    private readonly fromCrcs: Uint32Array,
    private readonly unquotes: Uint8Array,
    /** Every UIDL, concatenated; message i's is uidlText[uidlEnds[i-1] .. uidlEnds[i]). Empty without UIDLs. */
    private readonly uidlText: string,
    private readonly uidlEnds: Uint32Array | undefined,
  ) {}

  static async of(entries: readonly IndexEntry[], keepUidls: boolean, slicer: TimeSlicer): Promise<MboxSnapshot> {
    const n = entries.length;
    const uids = new Float64Array(n);
    const offsets = new Float64Array(n);
    const contentStarts = new Float64Array(n);
    const contentEnds = new Float64Array(n);
    const wireSizes = new Float64Array(n);
    const fromCrcs = new Uint32Array(n);
    const unquotes = new Uint8Array(n);
    const uidlEnds = keepUidls ? new Uint32Array(n) : undefined;
    const uidls: string[] = [];
    let uidlLength = 0;
    for (let i = 0; i < n; i++) {
      if ((i & 1023) === 0 && slicer.due()) await slicer.yield();
      const e = entries[i]!;
      uids[i] = e.uid;
      offsets[i] = e.offset;
      contentStarts[i] = e.contentStart;
      contentEnds[i] = e.contentEnd;
      wireSizes[i] = e.wireSize;
      fromCrcs[i] = e.fromCrc >>> 0;
      unquotes[i] = e.unquote ? 1 : 0;
      if (uidlEnds !== undefined) {
        uidls.push(e.uidl);
        uidlLength += e.uidl.length;
        uidlEnds[i] = uidlLength;
      }
    }
    return new MboxSnapshot(n, uids, offsets, contentStarts, contentEnds, wireSizes, fromCrcs, unquotes, uidls.join(""), uidlEnds);
  }

  uid(i: number): number {
    return this.uids[i]!;
  }

  /** The session's message list, built in time slices; UIDLs come from the snapshot when it has them. */
  async messageList(slicer: TimeSlicer): Promise<MessageInfo[]> {
    if (this.uidlEnds === undefined) return buildMessageList(this.count, (i) => this.uids[i]!, (i) => this.wireSizes[i]!, slicer);
    const snapshot = this;
    class Listed implements ListedMboxMessage {
      constructor(
        readonly uid: number,
        readonly size: number,
        readonly index: number,
      ) {}

      get uidl(): string | undefined {
        return snapshot.uidl(this.index);
      }
    }
    const list = new Array<MessageInfo>(this.count);
    for (let i = 0; i < this.count; i++) {
      if ((i & 1023) === 0 && slicer.due()) await slicer.yield();
      list[i] = new Listed(this.uids[i]!, this.wireSizes[i]!, i);
    }
    return list;
  }

  wireSize(i: number): number {
    return this.wireSizes[i]!;
  }

  uidl(i: number): string | undefined {
    const ends = this.uidlEnds;
    if (ends === undefined) return undefined;
    return this.uidlText.slice(i === 0 ? 0 : ends[i - 1]!, ends[i]!);
  }

  entry(i: number): SnapshotEntry {
    return {
      uid: this.uids[i]!,
      offset: this.offsets[i]!,
      contentStart: this.contentStarts[i]!,
      contentEnd: this.contentEnds[i]!,
      fromCrc: this.fromCrcs[i]!,
      unquote: this.unquotes[i] === 1,
    };
  }

  /**
   * Every byte the snapshot and its message list keep (UIDL text counted at one byte a character:
   * UIDLs are ASCII).
   */
  get byteLength(): number {
    const arrays = [this.uids, this.offsets, this.contentStarts, this.contentEnds, this.wireSizes, this.fromCrcs, this.unquotes, this.uidlEnds];
    const listed = this.count * (this.uidlEnds === undefined ? LISTED_MESSAGE_BYTES : LISTED_MBOX_MESSAGE_BYTES);
    return this.uidlText.length + arrays.reduce((sum, a) => sum + (a?.buffer.byteLength ?? 0), 0) + listed;
  }
}
