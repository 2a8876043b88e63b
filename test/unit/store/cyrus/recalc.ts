/**
 * The index header fields recomputed from all records, the way Cyrus's reconstruct does
 * (mailbox_index_recalc): the test's yardstick for every header we write.
 */
import { readFileSync } from "node:fs";
import type { IndexFile } from "../../../../src/store/cyrus/index-file.ts";
import {
  FLAG_ANSWERED,
  FLAG_DELETED,
  FLAG_FLAGGED,
  FLAG_INTERNAL_EXPUNGED,
  FLAG_INTERNAL_UNLINKED,
  FLAG_SEEN,
} from "../../../../src/store/cyrus/index-format.ts";
import { parseMailboxHeader } from "../../../../src/store/cyrus/mailbox-header.ts";
import { basicCrc, virtualAnnotCrc } from "../../../../src/store/cyrus/sync-crc.ts";

/** CRC_INIT_ANNOT: the annotation sync CRC starts from this, not 0. */
const ANNOT_CRC_INIT = 12345678;

export interface Recalculated {
  exists: number;
  answered: number;
  flagged: number;
  deleted: number;
  unseen: number;
  quotaMailboxUsed: number;
  syncCrcBasic: number;
  syncCrcAnnot: number;
}

export function recalculated(index: IndexFile, headerPath: string): Recalculated {
  const userFlags = parseMailboxHeader(readFileSync(headerPath)).userFlags;
  const out: Recalculated = { exists: 0, answered: 0, flagged: 0, deleted: 0, unseen: 0, quotaMailboxUsed: 0, syncCrcBasic: 0, syncCrcAnnot: ANNOT_CRC_INIT };
  for (let recno = 1; recno <= index.count; recno++) {
    const r = index.record(recno);
    if ((r.flags & (FLAG_INTERNAL_EXPUNGED | FLAG_INTERNAL_UNLINKED)) !== 0) continue;
    out.exists++;
    out.quotaMailboxUsed += r.size;
    if (r.flags & FLAG_ANSWERED) out.answered++;
    if (r.flags & FLAG_FLAGGED) out.flagged++;
    if (r.flags & FLAG_DELETED) out.deleted++;
    if (!(r.flags & FLAG_SEEN)) out.unseen++;
    out.syncCrcBasic = (out.syncCrcBasic ^ basicCrc(r, userFlags)) >>> 0;
    out.syncCrcAnnot = (out.syncCrcAnnot ^ virtualAnnotCrc(r, index.header.minorVersion)) >>> 0;
  }
  return out;
}
