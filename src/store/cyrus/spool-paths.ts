/**
 * Where Cyrus keeps a mailbox's files (imap/mboxname.c: mboxname_hash, mboxname_id_hash,
 * mboxname_datapath, mboxname_metapath, mboxname_lockpath; lib/util.c: dir_hash_c).
 */

export interface HashOptions {
  /** hashimapspool: one extra directory level named after the user. */
  readonly hashImapSpool: boolean;
  /** fulldirhash: that directory is a hash letter A..W instead of the first letter. */
  readonly fullDirHash: boolean;
}

const DOMAIN_DIR = "/domain/";
const FULL_HASH_PRIME = 23;

/** dir_hash_c: the directory letter for `name` (only the part before the first '.' counts). */
export function dirHashChar(name: string, full: boolean): string {
  const bytes = Buffer.from(name, "utf8");
  if (full) {
    let n = 0;
    for (const b of bytes) {
      if (b === 0x2e) break;
      n = (((n << 3) ^ (n >>> 5)) ^ b) >>> 0;
    }
    return String.fromCharCode(0x41 + (n % FULL_HASH_PRIME));
  }
  const first = bytes[0] ?? 0;
  const lower = first >= 0x41 && first <= 0x5a ? first | 0x20 : first;
  return lower >= 0x61 && lower <= 0x7a ? String.fromCharCode(lower) : "q";
}

/**
 * mboxname_hash: the legacy by-name directory of internal name `intname` under `root`, e.g.
 * `<root>/domain/e/example.com/a/user/alice^smith` with hashimapspool.
 */
export function namedPath(root: string, intname: string, hash: HashOptions, defaultDomain: string | undefined): string {
  let rest = intname;
  let domain: string | undefined;
  const bang = intname.indexOf("!");
  if (bang >= 0) {
    domain = intname.slice(0, bang);
    if (domain === defaultDomain) domain = undefined;
    rest = intname.slice(bang + 1);
  }
  let path = root;
  if (domain !== undefined) {
    path += hash.hashImapSpool ? `${DOMAIN_DIR}${dirHashChar(domain, hash.fullDirHash)}/${domain}` : `${DOMAIN_DIR}${domain}`;
  }
  // Components in their unescaped form, as mbname keeps them; '.' is written back as '^' below.
  const boxes = rest === "" ? [] : rest.split(".").map((b) => b.replaceAll("^", "."));
  if (hash.hashImapSpool && boxes.length > 0) {
    const index = boxes.length > 1 ? boxes[1]! : boxes[0]!;
    path += `/${dirHashChar(index, hash.fullDirHash)}`;
  }
  for (const box of boxes) path += `/${box.replaceAll(".", "^")}`;
  return path;
}

/** mboxname_id_hash: the by-uniqueid directory `<root>/uuid/<c1>/<c2>/<uniqueid>`. */
export function uuidPath(root: string, uniqueid: string): string {
  if (uniqueid.length < 2 || uniqueid.includes("/")) throw new RangeError(`unusable mailbox uniqueid ${JSON.stringify(uniqueid)}`);
  return `${root}/uuid/${uniqueid[0]}/${uniqueid[1]}/${uniqueid}`;
}

/** mboxname_lockpath: `<lockroot>/<hashed name>.lock`; lock names are hashed like mailbox names. */
export function lockFilePath(lockRoot: string, lockName: string, hash: HashOptions, defaultDomain: string | undefined): string {
  return `${namedPath(lockRoot, lockName, hash, defaultDomain)}.lock`;
}

export type MetaFile = "header" | "index" | "annotations";

const META_FILE_NAMES: Readonly<Record<MetaFile, string>> = {
  header: "cyrus.header",
  index: "cyrus.index",
  annotations: "cyrus.annotations",
};

/** The metadir-<x>-<partition> override key: annotations follow the index's (mboxname_metapath). */
const META_DIR_KEYS: Readonly<Record<MetaFile, string>> = { header: "header", index: "index", annotations: "index" };

export interface PartitionConfig {
  /** Overflow lookup of imapd.conf: partition-*, metapartition-*, archivepartition-*, metadir-*. */
  readonly lookup: (key: string) => string | undefined;
  /** metapartition_files: which meta files live on the metapartition. */
  readonly metaFiles: ReadonlySet<string>;
}

export class UnknownPartitionError extends Error {
  constructor(readonly partition: string) {
    super(`partition-${partition} is not configured`);
    this.name = "UnknownPartitionError";
  }
}

export function partitionRoot(config: PartitionConfig, partition: string): string {
  const root = config.lookup(`partition-${partition}`);
  if (root === undefined || root === "") throw new UnknownPartitionError(partition);
  return root;
}

/** archivepartition-<name>, falling back to the partition itself (mboxname_archivepath). */
export function archiveRoot(config: PartitionConfig, partition: string): string {
  return config.lookup(`archivepartition-${partition}`) || partitionRoot(config, partition);
}

/** The root a meta file lives under: metadir override, else metapartition if listed, else the partition. */
export function metaRoot(config: PartitionConfig, partition: string, file: MetaFile): string {
  const override = config.lookup(`metadir-${META_DIR_KEYS[file]}-${partition}`);
  if (override) return override;
  if (config.metaFiles.has(file)) {
    const meta = config.lookup(`metapartition-${partition}`);
    if (meta) return meta;
  }
  return partitionRoot(config, partition);
}

export function metaFileName(file: MetaFile): string {
  return META_FILE_NAMES[file];
}
