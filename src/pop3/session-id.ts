/**
 * Session ids of Cyrus's shape (lib/sessionid.c:session_new_id): `<servername, ≤128 chars>-<unix time>-<pid>-<n>-<random u64>`,
 * where n counts the sessions this process started within the same second, from 1.
 */
let lastSecond = 0;
let inSecond = 0;
const random = new BigUint64Array(1);

export function newSessionId(prefix: string): string {
  const now = Math.floor(Date.now() / 1000);
  if (now !== lastSecond) {
    lastSecond = now;
    inSecond = 0;
  }
  inSecond++;
  crypto.getRandomValues(random);
  // joined, not a template: a template literal leaves a tree of six string pieces (~190 heap
  // bytes) that the session keeps for its whole life; join makes one flat string (~80)
  return [prefix.slice(0, 128), now, process.pid, inSecond, random[0]].join("-");
}
