/**
 * Listing of the messages in a Maildir's `new/` and `cur/` (never `tmp/`, where deliveries are still
 * being written), keyed by base name so a message is recognised whatever its flags.
 */
import { readdirSync } from "node:fs";
import { maildirBaseName } from "./maildir-name.ts";
import { maildirStoreError } from "./store-errors.ts";

export type MaildirSubdir = "new" | "cur";

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

/**
 * The messages in `subdirs`, by base name. A base name found in both (a copy mid-move) counts once,
 * at its cur/ location.
 */
export function scanMaildir(dir: string, subdirs: readonly MaildirSubdir[] = MAILDIR_SUBDIRS): Map<string, MaildirFile> {
  const files = new Map<string, MaildirFile>();
  for (const subdir of MAILDIR_SUBDIRS) {
    if (!subdirs.includes(subdir)) continue;
    let names: string[];
    try {
      names = readdirSync(`${dir}/${subdir}`);
    } catch (error) {
      throw maildirStoreError(error, `cannot list maildir ${dir}/${subdir}`);
    }
    for (const name of names) {
      if (isMessageName(name)) files.set(maildirBaseName(name), { subdir, name });
    }
  }
  return files;
}
