/**
 * `pop3_mailstore: maildir`: each user's mail in a Maildir found through `pop3_maildir_path`, with
 * stable UIDs kept in the Maildir's uid list (uid-list.ts).
 */
import { existsSync, unlinkSync } from "node:fs";
import { StoreError, type MailStore, type Maildrop } from "../maildrop.ts";
import { FileLockTimeoutError, withFileLock } from "../../sys/file-lock.ts";
import { directoryCtimes, settledCtimes, unchangedSubdirs, type DirectoryCtimes } from "./directory-state.ts";
import { MaildirMaildrop } from "./maildir-maildrop.ts";
import { MAILDIR_SUBDIRS, messagePath, scanMaildir, type MaildirFile, type MaildirSubdir, type SkipReporter } from "./maildir-scan.ts";
import { validatePathTemplate } from "../fs/path-template.ts";
import { resolveMaildirPath } from "./maildir-path.ts";
import { measureNewMessages, updateUidList, type Observation } from "./uid-assignment.ts";
import { forgetInUidList, parseUidList, readUidListBytes, serializeUidList, UID_LIST_LOCK_FILE, writeUidList, type UidList } from "./uid-list.ts";
import { clearExpungeIntent, EXPUNGE_INTENT_FILE, readExpungeIntent } from "./expunge-intent.ts";
import { describeError, isNotFound, storeErrorFrom } from "../fs/errors.ts";
import { fsyncDirectoryAsync } from "../fs/durable.ts";
import { TimeSlicer } from "../fs/time-slice.ts";

export interface MaildirStoreOptions {
  /** `pop3_maildir_path`, e.g. `/var/mail/%u/Maildir`. */
  readonly pathTemplate: string;
  /** popuseimapflags (imapd.conf(5)): RETR'd messages get the Seen flag at QUIT. */
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
async function listChanged(
  dir: string,
  list: UidList | undefined,
  listed: readonly MaildirSubdir[],
  onSkip: SkipReporter,
  slicer: TimeSlicer,
): Promise<Map<string, MaildirFile>> {
  const files = await scanMaildir(dir, listed, onSkip, slicer);
  let missing = false;
  const table = list?.table;
  for (let i = 0; table !== undefined && i < table.count && !missing; i++) {
    if ((i & 1023) === 0 && slicer.due()) await slicer.yield();
    missing = listed.includes(table.subdir(i)) && !files.has(table.baseName(i));
  }
  if (!missing) return files;
  const again = await scanMaildir(dir, listed, undefined, slicer);
  for (const [baseName, file] of files) if (!again.has(baseName)) again.set(baseName, file);
  return again;
}

export class MaildirStore implements MailStore {
  private readonly pathTemplate: string;
  private readonly markSeen: boolean;
  private readonly now: () => number;
  private readonly onSkip: SkipReporter;
  private readonly warn: (message: string) => void;

  constructor(options: MaildirStoreOptions) {
    validatePathTemplate(options.pathTemplate);
    this.pathTemplate = options.pathTemplate;
    this.markSeen = options.markSeen ?? false;
    this.now = options.now ?? Date.now;
    const warn = options.warn ?? (() => undefined);
    this.warn = warn;
    this.onSkip = (path, why) => warn(`${path}: ${why}`);
  }

  async open(user: string, folder: string | undefined): Promise<Maildrop> {
    const dir = resolveMaildirPath(this.pathTemplate, user, folder);
    try {
      if (existsSync(`${dir}/${EXPUNGE_INTENT_FILE}`)) {
        await withFileLock(`${dir}/${UID_LIST_LOCK_FILE}`, "write", () => this.finishInterruptedQuit(dir));
      }
      const list = await this.currentUidList(dir);
      return await MaildirMaildrop.of(dir, list.uidValidity, list.table, this.markSeen);
    } catch (error) {
      if (error instanceof FileLockTimeoutError) throw new StoreError("temp", "Mailbox is locked", error.message);
      throw storeErrorFrom(error, `cannot open maildir ${dir} (pop3_maildir_path)`);
    }
  }

  /**
   * A QUIT that crashed after recording its intent (expunge-intent.ts): remove the rest of its
   * messages and forget them, so the client never sees half of its deletions come back.
   */
  private async finishInterruptedQuit(dir: string): Promise<void> {
    const intent = await readExpungeIntent(dir);
    if (intent === undefined) return;
    const names = new Set(intent.entries.map((e) => e.baseName));
    const files = await scanMaildir(dir);
    let removed = 0;
    const slicer = new TimeSlicer();
    for (const name of names) {
      await slicer.pause();
      const file = files.get(name);
      if (file === undefined) continue;
      try {
        unlinkSync(messagePath(dir, file));
        removed++;
      } catch (error) {
        if (!isNotFound(error)) this.warn(`${messagePath(dir, file)}: cannot remove after an interrupted QUIT: ${describeError(error)}`);
      }
    }
    if (removed > 0) {
      await fsyncDirectoryAsync(`${dir}/new`);
      await fsyncDirectoryAsync(`${dir}/cur`);
    }
    await forgetInUidList(dir, names);
    await clearExpungeIntent(dir);
    this.warn(`${dir}: finished an interrupted QUIT: removed ${removed} more of its ${names.size} messages`);
  }

  /**
   * The uid list describing the Maildir now. Only directories whose ctime changed since the list
   * was written are listed, so an ordinary login reads one file and two inodes, and one after a
   * delivery lists just new/.
   */
  private async currentUidList(dir: string): Promise<UidList> {
    // One slicer for the whole login: its work is spread over turns of the event loop.
    const slicer = new TimeSlicer();
    const seen = await this.observe(dir, await readUidListBytes(dir), slicer);
    if (seen.listed.length === 0) return seen.list!;
    // Reading new messages can take long; do it before taking the lock other logins wait on.
    const sizes = await measureNewMessages(dir, seen, new Map(), this.onSkip, slicer);
    if (seen.list !== undefined && sizes.size === 0) {
      const update = await updateUidList(dir, seen, sizes, this.now(), slicer);
      if (!update.changed) return seen.list;
    }
    return withFileLock(`${dir}/${UID_LIST_LOCK_FILE}`, "write", async () => {
      const latest = await this.observeAgainIfUseful(dir, seen, slicer);
      await measureNewMessages(dir, latest, sizes, this.onSkip, slicer);
      const { list, changed, uidsAssigned } = await updateUidList(dir, latest, sizes, this.now(), slicer);
      if (!changed) return latest.list!;
      const bytes = await serializeUidList(list, slicer);
      await writeUidList(dir, bytes, { durableRename: uidsAssigned });
      // The snapshot is the compact form of what was just written.
      return (await parseUidList(bytes, slicer))!;
    });
  }

  private async observe(dir: string, listBytes: Buffer | undefined, slicer: TimeSlicer): Promise<Observation> {
    const current = directoryCtimes(dir);
    // Settledness is judged at the stat, which precedes the listing.
    const ctimes = settledCtimes(current, this.now());
    const list = listBytes === undefined ? undefined : await parseUidList(listBytes, slicer);
    const unchanged = list === undefined ? [] : unchangedSubdirs(list.ctimes, current);
    const listed = MAILDIR_SUBDIRS.filter((subdir) => !unchanged.includes(subdir));
    const files = listed.length === 0 ? new Map() : await listChanged(dir, list, listed, this.onSkip, slicer);
    return { listBytes, list, ctimes, listed, files };
  }

  /**
   * Under the lock: if no other session rewrote the list since `seen`, that look is as good as a
   * new one (deliveries never take our lock, so holding it adds nothing), unless it came too soon
   * after a change to be recorded as current and a new look now would be.
   */
  private async observeAgainIfUseful(dir: string, seen: Observation, slicer: TimeSlicer): Promise<Observation> {
    const listBytes = await readUidListBytes(dir);
    const unchanged = listBytes === undefined ? seen.listBytes === undefined : seen.listBytes !== undefined && listBytes.equals(seen.listBytes);
    if (unchanged && !hasUnknown(seen.ctimes)) return seen;
    if (unchanged && hasUnknown(settledCtimes(directoryCtimes(dir), this.now()))) return seen;
    return this.observe(dir, listBytes, slicer);
  }
}

function hasUnknown(ctimes: DirectoryCtimes): boolean {
  return ctimes.new === 0n || ctimes.cur === 0n;
}
