/**
 * Reading a PROXY header straight from a connected fd: before Bun adopts it (stdio and master
 * modes with -H), or while Bun's socket is paused (standalone, before a TLS handshake). Like Cyrus we peek first and then
 * consume exactly the header, so with TLS the ClientHello behind it stays in the kernel for the
 * handshake. Unlike Cyrus we wait for a header split across segments (bounded by
 * PROXY_HEADER_TIMEOUT_MS) instead of failing on the first one.
 */
import { parseProxyHeader, MAX_V2_PAYLOAD, type ProxyHeader } from "./haproxy.ts";
import { peerHungUp, pollReadable, receiveBytes, EAGAIN, EINTR } from "../sys/libc.ts";

/** haproxy sends the header as soon as it connects; a peer that doesn't within this is not haproxy. */
export const PROXY_HEADER_TIMEOUT_MS = 10_000;
/** Wait between peeks while a header is incomplete (poll would report the same bytes as new); it
 *  doubles up to the maximum, so a peer that stalls costs a few wake-ups a second, not a hundred. */
const INCOMPLETE_RETRY_MS = 10;
const MAX_RETRY_MS = 640;
const POLL_SLICE_MS = 200;

/**
 * `shared`: other sessions run in this process (standalone), so never block in poll(2); one-session
 * processes may block for short slices.
 */
export async function readProxyHeaderFromFd(fd: number, shared = false, timeoutMs = PROXY_HEADER_TIMEOUT_MS): Promise<ProxyHeader> {
  const buffer = new Uint8Array(16 + MAX_V2_PAYLOAD);
  const deadline = Date.now() + timeoutMs;
  let retryMs = INCOMPLETE_RETRY_MS;
  const backOff = () => {
    const wait = retryMs;
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    return Bun.sleep(Math.max(1, Math.min(wait, deadline - Date.now())));
  };
  for (;;) {
    if (Date.now() >= deadline) return { status: "invalid", reason: "timed out waiting for the PROXY header" };
    if (!pollReadable(fd, shared ? 0 : Math.min(POLL_SLICE_MS, Math.max(0, deadline - Date.now())))) {
      if (shared) await backOff();
      else await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    const n = receiveBytes(fd, buffer, buffer.length, true);
    if (n === 0) return { status: "invalid", reason: "connection closed before the PROXY header" };
    if (n < 0) {
      if (-n === EAGAIN || -n === EINTR) continue;
      return { status: "invalid", reason: `recv failed: errno ${-n}` };
    }
    const header = parseProxyHeader(buffer.subarray(0, n));
    if (header.status === "incomplete") {
      if (n === buffer.length) return { status: "invalid", reason: "PROXY header too long" };
      // the peer closed after part of a header: more will never come
      if (peerHungUp(fd)) return { status: "invalid", reason: "connection closed inside the PROXY header" };
      await backOff();
      continue;
    }
    if (header.status === "ok") {
      const consumed = receiveBytes(fd, buffer, header.length, false);
      if (consumed !== header.length) return { status: "invalid", reason: "could not consume the PROXY header" };
    }
    return header;
  }
}
