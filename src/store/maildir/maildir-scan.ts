/**
 * Listing of the messages in a Maildir's `new/` and `cur/` (never `tmp/`, where deliveries are still
 * being written), keyed by base name so a message is recognised whatever its flags.
 */
import { readdirSync, type Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { TimeSlicer } from "../fs/time-slice.ts";
import { maildirBaseName } from "./maildir-name.ts";
import { storeErrorFrom } from "../fs/errors.ts";

export type MaildirSubdir = "new" | "cur";

/** Entries handled between two checks of the time slice. */
const SCAN_BATCH = 512;

/** new/ before cur/: a message renamed from new/ to cur/ meanwhile is then seen at least once. */
export const MAILDIR_SUBDIRS: readonly MaildirSubdir[] = ["new", "cur"];

export interface MaildirFile {
  readonly subdir: MaildirSubdir;
  readonly name: string;
}

export function sameFile(a: MaildirFile, b: MaildirFile): boolean {
  return a.subdir === b.subdir && a.name === b.name;
}

export function messagePath(dir: string, file: MaildirFile): string {
  return `${dir}/${file.subdir}/${file.name}`;
}

/** Dot files are not messages (NFS silly-renames, editors); a newline cannot go in the uid list. */
function isMessageName(name: string): boolean {
  return name.charCodeAt(0) !== 46 && !name.includes("\n");
}

/** Told about each entry that is skipped because it cannot be a message (one log line each). */
export type SkipReporter = (path: string, why: string) => void;

/**
 * What a directory entry is, if it is certainly not a message: anything but a regular file (a
 * symlink could serve a file the user may not read; a FIFO would freeze the process). Entries of
 * unknown type (some network filesystems) pass here and are checked when opened (fs/safe-open.ts).
 */
function notAMessage(entry: Dirent): string | undefined {
  if (entry.isFile()) return undefined;
  if (entry.isSymbolicLink()) return "a symlink";
  if (entry.isDirectory()) return "a directory";
  if (entry.isFIFO()) return "a FIFO";
  if (entry.isSocket()) return "a socket";
  if (entry.isBlockDevice() || entry.isCharacterDevice()) return "a device";
  return undefined;
}

function addEntries(files: Map<string, MaildirFile>, dir: string, subdir: MaildirSubdir, entries: readonly Dirent[], from: number, to: number, onSkip?: SkipReporter): void {
  for (let i = from; i < to; i++) {
    const entry = entries[i]!;
    const name = entry.name;
    if (!isMessageName(name)) continue;
    const why = notAMessage(entry);
    if (why === undefined) files.set(maildirBaseName(name), { subdir, name });
    else onSkip?.(`${dir}/${subdir}/${name}`, `skipped: ${why}, not a message file`);
  }
}

/**
 * The messages in `subdirs`, by base name. A base name found in both (a copy mid-move) counts once,
 * at its cur/ location. Entries that are not regular files are left out and reported to `onSkip`.
 * The directories are read off the JS thread, and the entries taken in slices.
 */
export async function scanMaildir(
  dir: string,
  subdirs: readonly MaildirSubdir[] = MAILDIR_SUBDIRS,
  onSkip?: SkipReporter,
  slicer = new TimeSlicer(),
): Promise<Map<string, MaildirFile>> {
  const files = new Map<string, MaildirFile>();
  for (const subdir of MAILDIR_SUBDIRS) {
    if (!subdirs.includes(subdir)) continue;
    let entries: Dirent[];
    try {
      entries = await readdir(`${dir}/${subdir}`, { withFileTypes: true });
    } catch (error) {
      throw storeErrorFrom(error, `cannot list maildir ${dir}/${subdir}`);
    }
    for (let at = 0; at < entries.length; at += SCAN_BATCH) {
      if (slicer.due()) await slicer.yield();
      addEntries(files, dir, subdir, entries, at, Math.min(at + SCAN_BATCH, entries.length), onSkip);
    }
  }
  return files;
}

/** scanMaildir in one go, for the rare relocation of a message that moved after login. */
export function scanMaildirNow(dir: string, subdirs: readonly MaildirSubdir[] = MAILDIR_SUBDIRS): Map<string, MaildirFile> {
  const files = new Map<string, MaildirFile>();
  for (const subdir of MAILDIR_SUBDIRS) {
    if (!subdirs.includes(subdir)) continue;
    let entries: Dirent[];
    try {
      entries = readdirSync(`${dir}/${subdir}`, { withFileTypes: true });
    } catch (error) {
      throw storeErrorFrom(error, `cannot list maildir ${dir}/${subdir}`);
    }
    addEntries(files, dir, subdir, entries, 0, entries.length);
  }
  return files;
}
