/**
 * Read-only import of Dovecot's `dovecot-uidlist`, so that users moving from Dovecot keep their UIDs
 * and UIDVALIDITY (and so the UIDLs their clients already know, given a matching uidl_format).
 * Formats: version 1 `1 <uidvalidity> <nextuid>` + `<uid> <file>`, version 3
 * `3 V<uidvalidity> N<nextuid> ...` + `<uid> [<ext> ...] :<file>`.
 */
import { readRegularFile } from "../fs/safe-open.ts";
import { TimeSlicer } from "../fs/time-slice.ts";
import { maildirBaseName } from "./maildir-name.ts";

export const DOVECOT_UIDLIST_FILE = "dovecot-uidlist";

export interface DovecotUids {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly uidsByBaseName: ReadonlyMap<string, number>;
}

function positive(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function headerFields(header: string[]): { version: string; uidValidity?: number; nextUid?: number } {
  const version = header[0];
  if (version === "1") return { version, uidValidity: positive(header[1]), nextUid: positive(header[2]) };
  const tagged = (tag: string) => positive(header.find((field) => field.startsWith(tag))?.slice(1));
  return { version, uidValidity: tagged("V"), nextUid: tagged("N") };
}

/** Parsed in time slices: a migrated 100,000-message Maildir has as many lines. */
export async function parseDovecotUidList(text: string, slicer = new TimeSlicer()): Promise<DovecotUids | undefined> {
  const lines = text.split("\n");
  const { version, uidValidity, nextUid } = headerFields(lines[0]!.split(" "));
  if ((version !== "1" && version !== "3") || uidValidity === undefined || nextUid === undefined) return undefined;
  const uidsByBaseName = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    if ((i & 511) === 0 && slicer.due()) await slicer.yield();
    const line = lines[i]!;
    const space = line.indexOf(" ");
    const uid = positive(line.slice(0, space));
    if (space < 0 || uid === undefined || uid >= nextUid) continue;
    const nameAt = version === "1" ? space + 1 : line.indexOf(" :", space) + 2;
    if (nameAt < 2) continue;
    const baseName = maildirBaseName(line.slice(nameAt));
    if (baseName !== "" && !uidsByBaseName.has(baseName)) uidsByBaseName.set(baseName, uid);
  }
  return { uidValidity, nextUid, uidsByBaseName };
}

/** Dovecot's UIDs for the Maildir at `dir`, or undefined when it has no usable dovecot-uidlist. */
export async function readDovecotUidList(dir: string, slicer?: TimeSlicer): Promise<DovecotUids | undefined> {
  let text: string;
  try {
    text = (await readRegularFile(`${dir}/${DOVECOT_UIDLIST_FILE}`)).toString("utf8");
  } catch {
    return undefined;
  }
  return parseDovecotUidList(text, slicer);
}
