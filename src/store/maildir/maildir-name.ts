/**
 * Maildir file names (cr.yp.to/proto/maildir.html plus the Maildir++ `,S=`/`,W=` fields):
 * `<seconds>.<unique>.<host>[,S=<size>][,W=<size>]:2,<flags>`. Everything before the `:` stays
 * the same for the life of a message, so it is what identifies a message across renames.
 */

const INFO_SEPARATOR = ":";
const STANDARD_INFO_PREFIX = "2,";
const SEEN_FLAG = "S";

/** The part of a file name that never changes: the name without its `:info` suffix. */
export function maildirBaseName(fileName: string): string {
  const at = fileName.indexOf(INFO_SEPARATOR);
  return at < 0 ? fileName : fileName.slice(0, at);
}

/** Maildir++ `,W=<n>`: the size with CRLF line ends, as RETR sends it. */
export function crlfSizeField(baseName: string): number | undefined {
  const match = /,W=(\d+)(?:,|$)/.exec(baseName);
  return match === null ? undefined : Number(match[1]);
}

/** Where a message sorts among deliveries; names without the standard shape use their mtime. */
export interface DeliveryKey {
  readonly seconds: number;
  readonly micros: number;
  /** Per-process delivery counter (`Q<n>`, or the old `<pid>_<n>`), for same-microsecond ties. */
  readonly sequence: number;
  readonly name: string;
}

const STANDARD_NAME = /^(\d+)\.([^.]+)\./;

/** The delivery key encoded in a standard name, or undefined when the name has another shape. */
export function deliveryKeyFromName(baseName: string): DeliveryKey | undefined {
  const match = STANDARD_NAME.exec(baseName);
  if (match === null) return undefined;
  const unique = match[2];
  const micros = /M(\d+)/.exec(unique);
  const sequence = /Q(\d+)/.exec(unique) ?? /^\d+_(\d+)$/.exec(unique);
  return {
    seconds: Number(match[1]),
    micros: micros === null ? 0 : Number(micros[1]),
    sequence: sequence === null ? 0 : Number(sequence[1]),
    name: baseName,
  };
}

export function deliveryKeyFromMtime(baseName: string, mtimeMs: number): DeliveryKey {
  const seconds = Math.floor(mtimeMs / 1000);
  return { seconds, micros: Math.floor((mtimeMs - seconds * 1000) * 1000), sequence: 0, name: baseName };
}

export function compareDelivery(a: DeliveryKey, b: DeliveryKey): number {
  return a.seconds - b.seconds || a.micros - b.micros || a.sequence - b.sequence || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * The `cur/` name of a message once the Seen flag is set, or undefined if it has it already or
 * carries a non-standard info part we must not rewrite. Flags stay in ASCII order, as the
 * Maildir spec requires.
 */
export function nameWithSeenFlag(fileName: string): string | undefined {
  const at = fileName.indexOf(INFO_SEPARATOR);
  if (at < 0) return `${fileName}${INFO_SEPARATOR}${STANDARD_INFO_PREFIX}${SEEN_FLAG}`;
  const info = fileName.slice(at + 1);
  if (!info.startsWith(STANDARD_INFO_PREFIX)) return undefined;
  const flags = info.slice(STANDARD_INFO_PREFIX.length);
  if (flags.includes(SEEN_FLAG)) return undefined;
  let insertAt = 0;
  while (insertAt < flags.length && flags[insertAt] < SEEN_FLAG) insertAt++;
  const newFlags = flags.slice(0, insertAt) + SEEN_FLAG + flags.slice(insertAt);
  return `${fileName.slice(0, at + 1)}${STANDARD_INFO_PREFIX}${newFlags}`;
}
