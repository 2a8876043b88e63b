/**
 * Quota usage updates in Cyrus's default quota database, "quotalegacy" (lib/cyrusdb_quotalegacy.c,
 * imap/quota_db.c): one file per quota root, `<dir>/quota/<c>/<root>` (with virtual domains
 * `<dir>/domain/<c>/<domain>/quota/<c>/<root>`), holding one dlist line
 * `%(S (<bytes> [<limit KB>]) M (<messages> [<limit>]) AS (...) NF (...) MODSEQ <n>)`.
 * A writer locks the file, writes `<file>.NEW` (locked too), fsyncs and renames it over the file.
 */
import { constants, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { fsyncAsync } from "../fs/durable.ts";
import { lockFile } from "../../sys/file-lock.ts";
import { lockDataFile } from "./cyrus-lock.ts";
import { DlistKvList, parseDlistKv, type DlistValue } from "./dlist.ts";
import { dirHashChar } from "./spool-paths.ts";

/** Usage changes, in the order of the file's resources. */
export interface QuotaDelta {
  readonly storage: number;
  readonly messages: number;
  readonly annotStorage: number;
}

const RESOURCES = ["S", "M", "AS", "NF"] as const;
type Resource = (typeof RESOURCES)[number];

export class QuotaFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuotaFileError";
  }
}

export function quotaFilePath(quotaDir: string, root: string, virtDomains: boolean, fullDirHash: boolean): string {
  let base = quotaDir;
  let name = root;
  const bang = virtDomains ? root.indexOf("!") : -1;
  if (bang >= 0) {
    const domain = root.slice(0, bang);
    base += `/domain/${dirHashChar(domain, fullDirHash)}/${domain}`;
    name = root.slice(bang + 1);
    if (name === "") return `${base}/quota/root`;
  }
  const dot = name.indexOf(".");
  return `${base}/quota/${dirHashChar(dot >= 0 ? name.slice(dot + 1) : name, fullDirHash)}/${name}`;
}

interface QuotaEntry {
  used: Map<Resource, number>;
  limits: Map<Resource, number>;
  scan?: { mbox: string; used: Map<Resource, number> };
  modseq: number;
}

function num(value: DlistValue | undefined): number | undefined {
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) return undefined;
  return Number(value);
}

function parseEntry(text: string): QuotaEntry {
  const entry: QuotaEntry = { used: new Map(), limits: new Map(), modseq: 0 };
  if (text.startsWith("%")) {
    const kv = parseDlistKv(Buffer.from(text, "utf8"));
    for (const res of RESOURCES) {
      const item = kv.get(res);
      if (!Array.isArray(item)) continue;
      entry.used.set(res, num(item[0]) ?? 0);
      const limit = num(item[1]);
      if (limit !== undefined) entry.limits.set(res, limit);
    }
    const scan = kv.get("SCAN");
    if (scan instanceof DlistKvList && scan.string("MBOX") !== undefined) {
      entry.scan = { mbox: scan.string("MBOX")!, used: new Map(RESOURCES.map((r) => [r, num(scan.get(r)) ?? 0])) };
    }
    entry.modseq = num(kv.get("MODSEQ")) ?? 0;
    return entry;
  }
  // The pre-dlist layout: "used limit [scratch] [RES used limit [scratch]]...".
  const fields = text.split(/\s+/).filter(Boolean);
  let res: Resource = "S";
  for (let i = 0; ; ) {
    const used = Number(fields[i]);
    const limit = Number(fields[i + 1]);
    if (!Number.isFinite(used) || !Number.isFinite(limit)) throw new QuotaFileError(`unreadable quota entry ${JSON.stringify(text)}`);
    entry.used.set(res, used);
    if (limit !== -1) entry.limits.set(res, limit);
    i += 2;
    if (i < fields.length && /^-?\d+$/.test(fields[i]!)) i++;
    if (i >= fields.length) return entry;
    const next = RESOURCES.find((r) => r === fields[i]!.toUpperCase());
    if (next === undefined) throw new QuotaFileError(`unknown quota resource ${fields[i]}`);
    res = next;
    i++;
  }
}

function atom(text: string): string {
  return /^[A-Za-z0-9._!^@+-]+$/.test(text) ? text : `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function formatEntry(entry: QuotaEntry): string {
  const parts: string[] = [];
  for (const res of RESOURCES) {
    const limit = entry.limits.get(res);
    parts.push(`${res} (${entry.used.get(res) ?? 0}${limit !== undefined ? ` ${limit}` : ""})`);
  }
  if (entry.scan) {
    const used = RESOURCES.map((r) => `${r} ${entry.scan!.used.get(r) ?? 0}`).join(" ");
    parts.push(`SCAN %(MBOX ${atom(entry.scan.mbox)} ${used})`);
  }
  parts.push(`MODSEQ ${entry.modseq}`);
  return `%(${parts.join(" ")})`;
}

/** quota_use: usage never goes below zero. */
function use(map: Map<Resource, number>, res: Resource, delta: number): void {
  const used = map.get(res) ?? 0;
  map.set(res, delta < 0 && -delta > used ? 0 : used + delta);
}

/**
 * quota_update_useds: add `delta` to the root's usage, bump its MODSEQ, and (during a `quota -f`
 * scan that has passed this mailbox) the scan totals. Returns false when the root has no file.
 */
export async function updateQuotaUsage(path: string, mailbox: string, delta: QuotaDelta): Promise<boolean> {
  let lock;
  try {
    lock = await lockDataFile(path, "exclusive", true);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  try {
    const text = readFileSync(lock.fd, "utf8");
    if (text !== "" && !text.endsWith("\n")) throw new QuotaFileError(`${path} does not end in a newline`);
    const entry = parseEntry(text.trimEnd());
    const changes: Array<[Resource, number]> = [["S", delta.storage], ["M", delta.messages], ["AS", delta.annotStorage]];
    for (const [res, d] of changes) {
      use(entry.used, res, d);
      if (entry.scan && Buffer.compare(Buffer.from(mailbox), Buffer.from(entry.scan.mbox)) <= 0) {
        entry.scan.used.set(res, (entry.scan.used.get(res) ?? 0) + d);
      }
    }
    entry.modseq += 1;
    await writeReplacement(path, `${formatEntry(entry)}\n`);
    return true;
  } finally {
    lock.release();
  }
}

async function writeReplacement(path: string, text: string): Promise<void> {
  const newPath = `${path}.NEW`;
  try {
    unlinkSync(newPath);
  } catch {
    // usually absent
  }
  // Locked like Cyrus's own .NEW file, so a reader that reopens after the rename waits for us; taken
  // through the one lock path, so another session of this process cannot drop it by closing the file.
  const lock = await lockFile(newPath, "write", {
    create: { mode: 0o666, dirMode: 0o755 },
    extraFlags: constants.O_TRUNC,
    followSymlink: true,
  });
  try {
    const bytes = Buffer.from(text, "utf8");
    let written = 0;
    while (written < bytes.length) written += writeSync(lock.fd, bytes, written, bytes.length - written);
    await fsyncAsync(lock.fd);
    renameSync(newPath, path);
  } catch (error) {
    try {
      unlinkSync(newPath);
    } catch {
      // already renamed or never created
    }
    throw error;
  } finally {
    lock.release();
  }
}
