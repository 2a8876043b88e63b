/**
 * `pop3_mailstore: maildir`: each user's mail in a Maildir found through `pop3_maildir_path`, with
 * stable UIDs kept in the Maildir's uid list (uid-list.ts).
 */
import { StoreError, type MailStore, type Maildrop } from "../maildrop.ts";
import { FileLockTimeoutError, withFileLock } from "../../sys/file-lock.ts";
import { directoryCtimes, listIsCurrent, sameCtimes, settledCtimes } from "./directory-state.ts";
import { MaildirMaildrop } from "./maildir-maildrop.ts";
import { scanMaildir, type MaildirFile } from "./maildir-scan.ts";
import { resolveMaildirPath, validateMaildirTemplate } from "./path-template.ts";
import { maildirStoreError } from "./store-errors.ts";
import { measureNewMessages, updateUidList, type MeasuredSizes } from "./uid-assignment.ts";
import { readUidList, UID_LIST_LOCK_FILE, writeUidList, type MaildirMessage, type UidList } from "./uid-list.ts";

export interface MaildirStoreOptions {
  /** `pop3_maildir_path`, e.g. `/var/mail/%u/Maildir`. */
  readonly pathTemplate: string;
  /** popuseimapflags (§5.10): RETR'd messages get the Seen flag at QUIT. */
  readonly markSeen?: boolean;
}

/** The list matches the listing message for message, so the snapshot needs no lock and no write. */
function listCovers(list: UidList, files: ReadonlyMap<string, MaildirFile>): boolean {
  if (list.messages.length !== files.size) return false;
  for (const message of list.messages) if (!files.has(message.baseName)) return false;
  return true;
}

function withLocations(messages: readonly MaildirMessage[], files: ReadonlyMap<string, MaildirFile>): MaildirMessage[] {
  return messages.map((m) => {
    const file = files.get(m.baseName);
    return file === undefined || file === m.file ? m : { ...m, file };
  });
}

/** A second listing for messages the first one missed: a rename inside cur/ while it was being read. */
function relistIfMissing(dir: string, list: UidList | undefined, files: Map<string, MaildirFile>): Map<string, MaildirFile> {
  if (list === undefined || list.messages.every((m) => files.has(m.baseName))) return files;
  const again = scanMaildir(dir);
  for (const [baseName, file] of files) if (!again.has(baseName)) again.set(baseName, file);
  return again;
}

export class MaildirStore implements MailStore {
  private readonly pathTemplate: string;
  private readonly markSeen: boolean;

  constructor(options: MaildirStoreOptions) {
    validateMaildirTemplate(options.pathTemplate);
    this.pathTemplate = options.pathTemplate;
    this.markSeen = options.markSeen ?? false;
  }

  async open(user: string, folder: string | undefined): Promise<Maildrop> {
    const dir = resolveMaildirPath(this.pathTemplate, user, folder);
    try {
      const list = await this.currentUidList(dir);
      return new MaildirMaildrop(dir, list.uidValidity, [...list.messages], this.markSeen);
    } catch (error) {
      if (error instanceof FileLockTimeoutError) throw new StoreError("temp", "Mailbox is locked", error.message);
      throw maildirStoreError(error, `cannot open maildir ${dir}`);
    }
  }

  /**
   * The uid list describing the Maildir now. When its recorded directory ctimes still hold, it is
   * used as is: a login then reads one file and two inodes, however many messages there are.
   */
  private async currentUidList(dir: string): Promise<UidList> {
    const ctimes = directoryCtimes(dir);
    const list = readUidList(dir);
    if (list !== undefined && listIsCurrent(list.ctimes, ctimes)) return list;

    const files = scanMaildir(dir);
    if (list !== undefined && listCovers(list, files) && sameCtimes(list.ctimes, settledCtimes(ctimes))) {
      return { ...list, messages: withLocations(list.messages, files) };
    }
    // Reading new messages can take long; do it before taking the lock other logins wait on.
    const sizes = measureNewMessages(dir, list, files);
    return withFileLock(`${dir}/${UID_LIST_LOCK_FILE}`, "write", () => this.updateLocked(dir, sizes));
  }

  private updateLocked(dir: string, sizes: MeasuredSizes): UidList {
    const previous = readUidList(dir);
    const ctimes = settledCtimes(directoryCtimes(dir));
    const files = relistIfMissing(dir, previous, scanMaildir(dir));
    measureNewMessages(dir, previous, files, sizes);
    const { list, changed } = updateUidList(dir, previous, files, ctimes, sizes);
    if (changed) writeUidList(dir, list);
    return list;
  }
}
