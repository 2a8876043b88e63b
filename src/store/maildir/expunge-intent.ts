/**
 * QUIT is all or nothing on a Maildir (RFC 1939 section 6: the UPDATE state removes the marked
 * messages). A Maildir has no transaction, so before the first unlink the messages to remove are
 * written, durably, to `pop3d-expunge` in the Maildir:
 *
 *   pop3d-expunge 1 <uidvalidity>
 *   <uid> <base name>              (one line per message)
 *
 * The file is removed once the uid list has forgotten them. A crash in between leaves it, and the
 * next login finishes the removal under the uid list lock before it looks at the Maildir. Base
 * names are unique for ever (the Maildir naming rules), so finishing twice removes nothing else.
 */
import { closeSync } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { isNotFound } from "../fs/errors.ts";
import { fsyncAsync, fsyncDirectoryAsync, writeAllAsync } from "../fs/durable.ts";
import { createFreshFile, isNotRegularFile, readRegularFile } from "../fs/safe-open.ts";

export const EXPUNGE_INTENT_FILE = "pop3d-expunge";
const EXPUNGE_INTENT_TEMP_FILE = "pop3d-expunge.tmp";
const FORMAT_TAG = "pop3d-expunge";
const FORMAT_VERSION = "1";
const INTENT_MODE = 0o600;

export interface ExpungeEntry {
  readonly uid: number;
  readonly baseName: string;
}

export interface ExpungeIntent {
  readonly uidValidity: number;
  readonly entries: readonly ExpungeEntry[];
}

/** Record the intent and make it durable (data, then the rename) before anything is unlinked. */
export async function writeExpungeIntent(dir: string, intent: ExpungeIntent): Promise<void> {
  const text = `${FORMAT_TAG} ${FORMAT_VERSION} ${intent.uidValidity}\n${intent.entries.map((e) => `${e.uid} ${e.baseName}\n`).join("")}`;
  const data = Buffer.from(text, "utf8");
  const tempPath = `${dir}/${EXPUNGE_INTENT_TEMP_FILE}`;
  const fd = createFreshFile(tempPath, INTENT_MODE);
  try {
    await writeAllAsync(fd, data);
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
  await rename(tempPath, `${dir}/${EXPUNGE_INTENT_FILE}`);
  await fsyncDirectoryAsync(dir);
}

/**
 * The intent left by a QUIT that did not finish, or undefined. An unreadable intent (a torn write
 * cannot happen: it is renamed into place whole) is reported as having no entries.
 */
export async function readExpungeIntent(dir: string): Promise<ExpungeIntent | undefined> {
  let text: string;
  try {
    text = (await readRegularFile(`${dir}/${EXPUNGE_INTENT_FILE}`)).toString("utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    // Not a file we wrote (a planted FIFO or symlink): no intent, and clearing removes it.
    if (isNotRegularFile(error)) return { uidValidity: 0, entries: [] };
    throw error;
  }
  const lines = text.split("\n");
  const header = lines[0]!.split(" ");
  if (header[0] !== FORMAT_TAG || header[1] !== FORMAT_VERSION) return { uidValidity: 0, entries: [] };
  const entries: ExpungeEntry[] = [];
  for (const line of lines.slice(1)) {
    const space = line.indexOf(" ");
    const uid = Number(line.slice(0, space));
    const baseName = line.slice(space + 1);
    if (space > 0 && Number.isSafeInteger(uid) && uid > 0 && baseName !== "" && !baseName.includes("/")) entries.push({ uid, baseName });
  }
  return { uidValidity: Number(header[2]), entries };
}

/** The QUIT is complete: drop the intent. A lost removal only means finishing it once more. */
export async function clearExpungeIntent(dir: string): Promise<void> {
  try {
    await unlink(`${dir}/${EXPUNGE_INTENT_FILE}`);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
