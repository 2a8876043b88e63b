/**
 * Builds twoskip files for the reader's tests (the layout is described in
 * src/store/cyrus/twoskip.ts): records in key order with chosen skip levels, optional delete
 * records standing in for removed keys, and an optional uncommitted tail after a crash.
 */

export interface TwoskipSpec {
  entries: Array<[string | Buffer, string | Buffer]>;
  /** Keys present in the file but removed: reachable only through a delete record at level 0. */
  deleted?: Array<[string | Buffer, string | Buffer]>;
  /** Records appended by a transaction that never committed (the header stays DIRTY). */
  uncommitted?: Array<[string | Buffer, string | Buffer]>;
  /** Skip level (1..31) of the i-th entry; defaults to a fixed pseudo-random pattern. */
  level?: (i: number) => number;
}

const MAGIC = Buffer.from([0xa1, 0x02, 0x8b, 0x0d, ...Buffer.from("twoskip file"), 0, 0, 0, 0]);
const MAX_LEVEL = 31;

const buf = (v: string | Buffer): Buffer => (typeof v === "string" ? Buffer.from(v, "utf8") : v);
const pad8 = (n: number): number => (n + 7) & ~7;

interface Rec {
  type: string;
  level: number;
  key: Buffer;
  value: Buffer;
  next: number[];
  offset: number;
}

function size(r: Rec): number {
  return 8 + 8 * (r.level + 1) + 8 + pad8(r.key.length + r.value.length);
}

function encode(r: Rec): Buffer {
  const out = Buffer.alloc(size(r));
  out[0] = r.type.charCodeAt(0);
  out[1] = r.level;
  out.writeUInt16BE(r.key.length, 2);
  out.writeUInt32BE(r.value.length, 4);
  r.next.forEach((p, i) => out.writeBigUInt64BE(BigInt(p), 8 + 8 * i));
  const headLength = 8 + 8 * (r.level + 1);
  r.key.copy(out, headLength + 8);
  r.value.copy(out, headLength + 8 + r.key.length);
  out.writeUInt32BE(Bun.hash.crc32(out.subarray(0, headLength)), headLength);
  out.writeUInt32BE(Bun.hash.crc32(out.subarray(headLength + 8)), headLength + 4);
  return out;
}

function defaultLevel(i: number): number {
  let level = 1;
  let x = (i * 2654435761) >>> 0;
  while (level < MAX_LEVEL && (x & 1) === 1) {
    level++;
    x >>>= 1;
  }
  return level;
}

export function buildTwoskip(spec: TwoskipSpec): Buffer {
  const levelOf = spec.level ?? defaultLevel;
  const live: Rec[] = spec.entries
    .map(([k, v]) => ({ key: buf(k), value: buf(v) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((e, i) => ({ type: "+", level: levelOf(i), ...e, next: [], offset: 0 }));
  const dummy: Rec = { type: "=", level: MAX_LEVEL, key: Buffer.alloc(0), value: Buffer.alloc(0), next: [], offset: 64 };

  // Removed keys: the old record stays in the file, and a delete record takes its place at level 0.
  const ghosts = (spec.deleted ?? []).map(([k, v]) => ({ type: "+", level: 1, key: buf(k), value: buf(v), next: [0, 0], offset: 0 }));
  const deletes = ghosts.map((g) => ({ ghost: g, rec: { type: "-", level: 0, key: Buffer.alloc(0), value: Buffer.alloc(0), next: [0], offset: 0 } as Rec }));

  let at = 64 + size(dummy);
  for (const r of [...live, ...ghosts, ...deletes.map((d) => d.rec)]) {
    r.offset = at;
    at += size(r);
  }
  const committedSize = at;

  // Level 0 chain, with delete records spliced in where the removed keys sorted.
  const chain: Rec[] = [dummy];
  const pending = [...deletes].sort((a, b) => Buffer.compare(a.ghost.key, b.ghost.key));
  for (const r of live) {
    while (pending.length > 0 && Buffer.compare(pending[0]!.ghost.key, r.key) < 0) chain.push(pending.shift()!.rec);
    chain.push(r);
  }
  for (const d of pending) chain.push(d.rec);
  const slots = (r: Rec): number[] => (r.next = new Array(r.level + 1).fill(0));
  for (const r of [dummy, ...live]) slots(r);
  for (let i = 0; i < chain.length; i++) {
    const next = chain[i + 1]?.offset ?? 0;
    chain[i]!.next[0] = next;
  }
  // Higher levels link only live records.
  for (let level = 1; level < MAX_LEVEL; level++) {
    let prev = dummy;
    for (const r of live) {
      if (r.level > level) {
        prev.next[level + 1] = r.offset;
        prev = r;
      }
    }
  }

  const uncommitted: Rec[] = [];
  if (spec.uncommitted && spec.uncommitted.length > 0) {
    for (const [k, v] of spec.uncommitted) {
      const r: Rec = { type: "+", level: 1, key: buf(k), value: buf(v), next: [0, 0], offset: at };
      at += size(r);
      uncommitted.push(r);
    }
    // The transaction had linked them through the spare level-0 slot of the dummy.
    dummy.next[1] = uncommitted[0]!.offset;
  }

  const header = Buffer.alloc(64);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(1, 20);
  header.writeBigUInt64BE(1n, 24);
  header.writeBigUInt64BE(BigInt(live.length), 32);
  header.writeBigUInt64BE(BigInt(committedSize), 40);
  header.writeBigUInt64BE(BigInt(committedSize), 48);
  header.writeUInt32BE(uncommitted.length > 0 ? 1 : 0, 56);
  header.writeUInt32BE(Bun.hash.crc32(header.subarray(0, 60)), 60);

  const records = [dummy, ...live, ...ghosts, ...deletes.map((d) => d.rec), ...uncommitted];
  return Buffer.concat([header, ...records.map(encode)]);
}
