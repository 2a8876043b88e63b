/**
 * `pop3_mailstore: maildir`: each user's mail in a Maildir found through `pop3_maildir_path`, with
 * stable UIDs kept in the Maildir's uid list (uid-list.ts).
 */
import { StoreError, type MailStore, type Maildrop } from "../maildrop.ts";
import { FileLockTimeoutError, withFileLock } from "../../sys/file-lock.ts";
import { directoryCtimes, settledCtimes, unchangedSubdirs, type DirectoryCtimes } from "./directory-state.ts";
import { MaildirMaildrop } from "./maildir-maildrop.ts";
import { MAILDIR_SUBDIRS, scanMaildir, type MaildirFile, type MaildirSubdir, type SkipReporter } from "./maildir-scan.ts";
import { validatePathTemplate } from "../fs/path-template.ts";
import { storeErrorFrom } from "../fs/errors.ts";
import { resolveMaildirPath } from "./maildir-path.ts";
import { measureNewMessages, updateUidList, type Observation } from "./uid-assignment.ts";
import { parseUidList, readUidListBytes, UID_LIST_LOCK_FILE, writeUidList, type UidList } from "./uid-list.ts";

export interface MaildirStoreOptions {
  /** `pop3_maildir_path`, e.g. `/var/mail/%u/Maildir`. */
  readonly pathTemplate: string;
  /** popuseimapflags (§5.10): RETR'd messages get the Seen flag at QUIT. */
  readonly markSeen?: boolean;
  /** Wall clock in ms (UIDVALIDITY of a new list, ctime settling); tests move it forward. */
  readonly now?: () => number;
  /** Where to report entries skipped as not being messages (symlinks, FIFOs, directories…). */
  readonly warn?: (message: string) => void;
}

/**
 * List the directories the uid list cannot vouch for. A message of the list that is missing from
 * the listing gets a second listing, in case it was being renamed inside cur/ while it was read.
 */
function listChanged(dir: string, list: UidList | undefined, listed: readonly MaildirSubdir[], onSkip: SkipReporter): Map<string, MaildirFile> {
  const files = scanMaildir(dir, listed, onSkip);
  const missing = list?.messages.some((m) => listed.includes(m.subdir) && !files.has(m.baseName)) ?? false;
  if (!missing) return files;
  const again = scanMaildir(dir, listed);
  for (const [baseName, file] of files) if (!again.has(baseName)) again.set(baseName, file);
  return again;
}

export class MaildirStore implements MailStore {
  private readonly pathTemplate: string;
  private readonly markSeen: boolean;
  private readonly now: () => number;
  private readonly onSkip: SkipReporter;

  constructor(options: MaildirStoreOptions) {
    validatePathTemplate(options.pathTemplate);
    this.pathTemplate = options.pathTemplate;
    this.markSeen = options.markSeen ?? false;
    this.now = options.now ?? Date.now;
    const warn = options.warn ?? (() => undefined);
    this.onSkip = (path, why) => warn(`${path}: ${why}`);
  }

  async open(user: string, folder: string | undefined): Promise<Maildrop> {
    const dir = resolveMaildirPath(this.pathTemplate, user, folder);
    try {
      const list = await this.currentUidList(dir);
      return new MaildirMaildrop(dir, list.uidValidity, [...list.messages], this.markSeen);
    } catch (error) {
      if (error instanceof FileLockTimeoutError) throw new StoreError("temp", "Mailbox is locked", error.message);
      throw storeErrorFrom(error, `cannot open maildir ${dir}`);
    }
  }

  /**
   * The uid list describing the Maildir now. Only directories whose ctime changed since the list
   * was written are listed, so an ordinary login reads one file and two inodes, and one after a
   * delivery lists just new/.
   */
  private async currentUidList(dir: string): Promise<UidList> {
    const seen = this.observe(dir, readUidListBytes(dir));
    if (seen.listed.length === 0) return seen.list!;
    // Reading new messages can take long; do it before taking the lock other logins wait on.
    const sizes = measureNewMessages(dir, seen, new Map(), this.onSkip);
    if (seen.list !== undefined && sizes.size === 0) {
      const update = updateUidList(dir, seen, sizes, this.now());
      if (!update.changed) return update.list;
    }
    return withFileLock(`${dir}/${UID_LIST_LOCK_FILE}`, "write", () => {
      const latest = this.observeAgainIfUseful(dir, seen);
      measureNewMessages(dir, latest, sizes);
      const { list, changed, uidsAssigned } = updateUidList(dir, latest, sizes, this.now());
      if (changed) writeUidList(dir, list, { durableRename: uidsAssigned });
      return list;
    });
  }

  private observe(dir: string, listBytes: Buffer | undefined): Observation {
    const current = directoryCtimes(dir);
    // Settledness is judged at the stat, which precedes the listing.
    const ctimes = settledCtimes(current, this.now());
    const list = listBytes === undefined ? undefined : parseUidList(listBytes);
    const unchanged = list === undefined ? [] : unchangedSubdirs(list.ctimes, current);
    const listed = MAILDIR_SUBDIRS.filter((subdir) => !unchanged.includes(subdir));
    const files = listed.length === 0 ? new Map() : listChanged(dir, list, listed, this.onSkip);
    return { listBytes, list, ctimes, listed, files };
  }

  /**
   * Under the lock: if no other session rewrote the list since `seen`, that look is as good as a
   * new one (deliveries never take our lock, so holding it adds nothing), unless it came too soon
   * after a change to be recorded as current and a new look now would be.
   */
  private observeAgainIfUseful(dir: string, seen: Observation): Observation {
    const listBytes = readUidListBytes(dir);
    const unchanged = listBytes === undefined ? seen.listBytes === undefined : seen.listBytes !== undefined && listBytes.equals(seen.listBytes);
    if (unchanged && !hasUnknown(seen.ctimes)) return seen;
    if (unchanged && hasUnknown(settledCtimes(directoryCtimes(dir), this.now()))) return seen;
    return this.observe(dir, listBytes);
  }
}

function hasUnknown(ctimes: DirectoryCtimes): boolean {
  return ctimes.new === 0n || ctimes.cur === 0n;
}
