/**
 * The session every mode is measured with: 20 messages from 2 KiB to 200 KiB in a geometric
 * series (each 1.27× the one before), 944,030 bytes a mailbox, so one session moves ~944 KB of
 * bodies the way a real inbox mixes short notes and attachments. 64 users, each with their own
 * messages (distinct bytes, so nothing is served from one cached file).
 */
export const SESSION_MESSAGES = 20;
export const SESSION_USERS = 64;
const SMALLEST = 2 * 1024;
const LARGEST = 200 * 1024;

/** The 20 message sizes, smallest first; they sum to 944,030 bytes. */
export const SESSION_SIZES: readonly number[] = Array.from({ length: SESSION_MESSAGES }, (_, k) =>
  Math.round(SMALLEST * Math.pow(LARGEST / SMALLEST, k / (SESSION_MESSAGES - 1))),
);

export const SESSION_BYTES = SESSION_SIZES.reduce((a, b) => a + b, 0);

/**
 * User u's sizes in delivery order: the same 20 sizes rotated by u, so clients that start
 * together do not all RETR the large messages at the same moment.
 */
export function sizesFor(user: number): number[] {
  const shift = user % SESSION_MESSAGES;
  return [...SESSION_SIZES.slice(shift), ...SESSION_SIZES.slice(0, shift)];
}
