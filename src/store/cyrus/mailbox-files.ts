/**
 * The files of one mailbox and its name lock, from its mailboxes.db entry (mbentry_metapath,
 * mbentry_datapath, mboxname_lock): by uniqueid under uuid/ unless the entry is a legacy by-name
 * mailbox, meta files possibly on a metapartition, archived messages on the archive partition.
 */
import type { CyrusStoreOptions } from "./cyrus-settings.ts";
import type { MailboxEntry } from "./mboxlist.ts";
import { archiveRoot, lockFilePath, metaFileName, metaRoot, namedPath, partitionRoot, uuidPath, type MetaFile } from "./spool-paths.ts";

export interface MailboxFiles {
  readonly header: string;
  readonly index: string;
  readonly annotations: string;
  readonly dataDir: string;
  readonly archiveDir: string;
  /** The mailbox's name lock file (by uniqueid, or by name for legacy mailboxes). */
  readonly nameLock: string;
}

export function lockPath(opts: CyrusStoreOptions, lockName: string): string {
  return lockFilePath(opts.lockRoot, lockName, opts.hash, opts.naming.defaultDomain);
}

export function mailboxFiles(opts: CyrusStoreOptions, entry: MailboxEntry, partition: string, uniqueid: string): MailboxFiles {
  const dir = (root: string): string =>
    entry.type.legacyDirs ? namedPath(root, entry.internalName, opts.hash, opts.naming.defaultDomain) : uuidPath(root, uniqueid);
  const meta = (file: MetaFile): string => `${dir(metaRoot(opts.partitions, partition, file))}/${metaFileName(file)}`;
  return {
    header: meta("header"),
    index: meta("index"),
    annotations: meta("annotations"),
    dataDir: dir(partitionRoot(opts.partitions, partition)),
    archiveDir: dir(archiveRoot(opts.partitions, partition)),
    nameLock: lockPath(opts, entry.type.legacyDirs ? entry.internalName : uniqueid),
  };
}

/** A message file: `<dir>/<uid>.`. */
export function messageFile(files: MailboxFiles, uid: number, archived: boolean): string {
  return `${archived ? files.archiveDir : files.dataDir}/${uid}.`;
}
