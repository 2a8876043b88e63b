/**
 * The client host string of the log lines, with the reverse-DNS name Cyrus adds
 * (global.c:get_clienthost: getnameinfo with NI_NAMEREQD, then " [ip]"). Cyrus has no option to
 * turn the lookup off. The lookup runs beside the greeting and is bounded in time: a resolver
 * that does not answer leaves the host as "[ip]".
 */
import { promises as dns } from "node:dns";
import { CLIENT_NAME_CACHE_ENTRIES, CLIENT_NAME_CACHE_MS, CLIENT_NAME_LOOKUP_MS } from "../limits.ts";

/** "[192.0.2.7]" → "192.0.2.7"; undefined for "[unix socket]" and anything not an address. */
function addressOf(clientHost: string): string | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]$/.exec(clientHost);
  return m ? m[1] : undefined;
}

/** The name getnameinfo(NI_NAMEREQD) gives `address`, or undefined within `timeoutMs`. */
export async function reverseName(address: string, timeoutMs = CLIENT_NAME_LOOKUP_MS): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const found = dns.lookupService(address, 0).then(
      ({ hostname }) => (hostname && hostname !== address ? hostname : undefined),
      () => undefined,
    );
    return await Promise.race([found, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Recent answers by address, oldest first: one lookup serves every connection from that address for a while. */
const recent = new Map<string, { at: number; name: Promise<string | undefined> }>();

/** reverseName, shared by the connections from one address within CLIENT_NAME_CACHE_MS (in flight or answered). */
function recentReverseName(address: string, timeoutMs: number): Promise<string | undefined> {
  const now = Date.now();
  const known = recent.get(address);
  if (known && now - known.at < CLIENT_NAME_CACHE_MS) return known.name;
  recent.delete(address);
  if (recent.size >= CLIENT_NAME_CACHE_ENTRIES) recent.delete(recent.keys().next().value!);
  const name = reverseName(address, timeoutMs);
  recent.set(address, { at: now, name });
  return name;
}

/**
 * Starts the lookup for `target` ("[ip]") and prefixes the name once it is known. The returned
 * promise always resolves, within the time bound; sessions wait for it before their first command.
 */
export function nameClientHost(target: { clientHost: string }, timeoutMs = CLIENT_NAME_LOOKUP_MS): Promise<void> {
  const before = target.clientHost;
  const address = addressOf(before);
  if (address === undefined) return Promise.resolve();
  return recentReverseName(address, timeoutMs).then((name) => {
    // a PROXY header may have replaced the host meanwhile; then this answer is stale
    if (name !== undefined && target.clientHost === before) target.clientHost = `${name} ${before}`;
  });
}
