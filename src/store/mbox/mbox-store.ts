/**
 * `pop3_mailstore: mbox`: each user's mail in one mbox file found through `pop3_mbox_path`
 * (`/var/mail/%u`), shared with the MDA that appends to it. Stable UIDs and UIDLs and the message
 * offsets live in an index beside the file (mbox-index.ts).
 */
import { fstatSync, statSync, unlinkSync } from "node:fs";
import { openRegularFile } from "../fs/safe-open.ts";
import { dirname } from "node:path";
import { StoreError, type MailStore, type Maildrop } from "../maildrop.ts";
import { DEFAULT_LOCK_TIMEOUT_MS, FileLockTimeoutError } from "../../sys/file-lock.ts";
import { resolveUserPath, validatePathTemplate } from "../fs/path-template.ts";
import { isNotFound, storeErrorFrom } from "../fs/errors.ts";
import type { FromQuoting } from "./mbox-format.ts";
import { readIndex, writeIndex, UNKNOWN_FILE, type MboxIndex } from "./mbox-index.ts";
import { closeMboxDescriptor, withMboxLock, type MboxLock } from "./mbox-lock.ts";
import { MboxMaildrop, type MboxSessionOptions } from "./mbox-maildrop.ts";
import { refreshIndex } from "./index-refresh.ts";
import { rewriteTempPath } from "./mbox-rewrite.ts";

/**
 * Where UIDLs come from: `xuidl` — a message's own X-UIDL header if it has a valid one, else the
 * identity digest; `digest` — always the digest; `uid` — uidl_format over the index's UID and
 * UIDVALIDITY, like the other stores.
 */
export type MboxUidlSource = "xuidl" | "digest" | "uid";
export const MBOX_UIDL_SOURCES: readonly MboxUidlSource[] = ["xuidl", "digest", "uid"];

export interface MboxStoreOptions {
  /** `pop3_mbox_path`, e.g. `/var/mail/%u`. */
  readonly pathTemplate: string;
  /** How quoted From_ lines are read (default mboxrd, see mbox-format.ts). */
  readonly quoting?: FromQuoting;
  /** Trust valid Content-Length headers (mboxcl2); default false. */
  readonly contentLength?: boolean;
  readonly uidls?: MboxUidlSource;
  readonly lockTimeoutMs?: number;
}

export class MboxStore implements MailStore {
  private readonly pathTemplate: string;
  private readonly session: MboxSessionOptions;

  constructor(options: MboxStoreOptions) {
    validatePathTemplate(options.pathTemplate);
    if (options.pathTemplate.endsWith("/")) throw new Error(`mbox path template must name a file: ${JSON.stringify(options.pathTemplate)}`);
    this.pathTemplate = options.pathTemplate;
    const uidls = options.uidls ?? "xuidl";
    this.session = {
      refresh: { parse: { quoting: options.quoting ?? "mboxrd", contentLength: options.contentLength ?? false }, reuseXUidl: uidls === "xuidl" },
      storeUidls: uidls !== "uid",
      lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    };
  }

  async open(user: string, folder: string | undefined): Promise<Maildrop> {
    if (folder !== undefined) throw new StoreError("temp", "Mailbox does not exist", `the mbox store has no folders (${user}+${folder})`);
    const path = resolveUserPath(this.pathTemplate, user);
    try {
      return await withMboxLock(path, (lock) => this.snapshot(path, lock), this.session.lockTimeoutMs);
    } catch (error) {
      if (error instanceof FileLockTimeoutError) throw new StoreError("temp", "Mailbox is locked", error.message);
      throw storeErrorFrom(error, `cannot open mbox ${path} (pop3_mbox_path)`);
    }
  }

  private async snapshot(path: string, lock: MboxLock): Promise<Maildrop> {
    if (lock.fd === undefined) return this.noMbox(path);
    removeLeftover(rewriteTempPath(path));
    const { index, changed } = await refreshIndex(path, lock.fd, await readIndex(path), this.session.refresh);
    if (changed) await writeIndex(path, index);
    const { fd } = openRegularFile(path);
    const [held, opened] = [fstatSync(lock.fd), fstatSync(fd)];
    if (held.ino !== opened.ino || held.dev !== opened.dev) {
      closeMboxDescriptor(path, fd);
      throw new StoreError("temp", "Mailbox is locked", `${path} was replaced while locked`);
    }
    return MboxMaildrop.of(path, index, fd, this.session);
  }

  /** No mbox file is an empty maildrop (MDAs create it at the first delivery); no directory is an error. */
  private async noMbox(path: string): Promise<Maildrop> {
    statSync(dirname(path));
    const recorded = await readIndex(path);
    const empty: MboxIndex = {
      uidValidity: recorded?.uidValidity ?? Math.max(1, Math.floor(Date.now() / 1000)),
      nextUid: recorded?.nextUid ?? 1,
      epoch: recorded?.epoch ?? 0,
      settings: "",
      file: UNKNOWN_FILE,
      entries: [],
    };
    return MboxMaildrop.of(path, empty, undefined, this.session);
  }
}

/** A rewrite cut short by a crash leaves its temp file; the mbox itself is intact. */
function removeLeftover(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
