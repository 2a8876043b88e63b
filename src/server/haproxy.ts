/**
 * HAProxy PROXY protocol header parsing (v1 text and v2 binary), pure: bytes in, verdict out.
 * Cyrus wants the header whole in the first segment (imap/haproxy.c:haproxy_read_hdr); we accept it split across segments
 * (callers keep feeding until the verdict is no longer "incomplete"), which haproxy never needs
 * but a slow path might, and still refuse anything malformed or oversized.
 */

export interface ProxiedAddress {
  address: string;
  port: number;
}

export type ProxyHeader =
  | { status: "incomplete" }
  | { status: "invalid"; reason: string }
  /** `source` is undefined for LOCAL, UNKNOWN and non-TCP families: keep the socket's addresses. */
  | { status: "ok"; length: number; source?: ProxiedAddress; destination?: ProxiedAddress };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** The v1 spec's longest line: "PROXY UNKNOWN ffff:...:ffff ffff:...:ffff 65535 65535\r\n". */
export const MAX_V1_LENGTH = 107;
/** v2 address block limit: addresses (at most 216 bytes for unix) plus room for haproxy's TLVs
 *  (unique-id, ssl, crc32c); larger announced lengths are refused before reading them. */
export const MAX_V2_PAYLOAD = 1024;

export function parseProxyHeader(data: Uint8Array): ProxyHeader {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  const sigBytes = Math.min(buf.length, V2_SIGNATURE.length);
  if (sigBytes > 0 && buf.subarray(0, sigBytes).equals(V2_SIGNATURE.subarray(0, sigBytes))) {
    return buf.length < 16 ? { status: "incomplete" } : parseV2(buf);
  }
  const prefix = Buffer.from("PROXY ");
  const n = Math.min(buf.length, prefix.length);
  if (!buf.subarray(0, n).equals(prefix.subarray(0, n))) return { status: "invalid", reason: "no PROXY signature" };
  return parseV1(buf);
}

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf("\r\n");
  if (end < 0) {
    return buf.length >= MAX_V1_LENGTH ? { status: "invalid", reason: "v1 line too long" } : { status: "incomplete" };
  }
  if (end + 2 > MAX_V1_LENGTH) return { status: "invalid", reason: "v1 line too long" };
  const fields = buf.subarray(0, end).toString("latin1").split(" ");
  const length = end + 2;
  if (fields[1] === "UNKNOWN") return { status: "ok", length };
  if (fields.length !== 6 || (fields[1] !== "TCP4" && fields[1] !== "TCP6")) {
    return { status: "invalid", reason: "malformed v1 line" };
  }
  const [, family, src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  const v4 = family === "TCP4";
  if (!validAddress(src, v4) || !validAddress(dst, v4) || !validPort(sport) || !validPort(dport)) {
    return { status: "invalid", reason: "bad v1 address or port" };
  }
  return { status: "ok", length, source: { address: src, port: Number(sport) }, destination: { address: dst, port: Number(dport) } };
}

function parseV2(buf: Buffer): ProxyHeader {
  const versionCommand = buf[12]!;
  if (versionCommand >> 4 !== 2) return { status: "invalid", reason: "unsupported v2 version" };
  const command = versionCommand & 0x0f;
  if (command > 1) return { status: "invalid", reason: "unknown v2 command" };
  const family = buf[13]!;
  const payload = buf.readUInt16BE(14);
  if (payload > MAX_V2_PAYLOAD) return { status: "invalid", reason: `v2 header of ${payload} bytes is too large` };
  const length = 16 + payload;
  if (buf.length < length) return { status: "incomplete" };
  // LOCAL (health checks) and non-TCP families keep the real socket addresses
  if (command === 0) return { status: "ok", length };
  if (family === 0x11) {
    if (payload < 12) return { status: "invalid", reason: "short v2 IPv4 block" };
    return {
      status: "ok",
      length,
      source: { address: ipv4(buf, 16), port: buf.readUInt16BE(24) },
      destination: { address: ipv4(buf, 20), port: buf.readUInt16BE(26) },
    };
  }
  if (family === 0x21) {
    if (payload < 36) return { status: "invalid", reason: "short v2 IPv6 block" };
    return {
      status: "ok",
      length,
      source: { address: ipv6(buf, 16), port: buf.readUInt16BE(48) },
      destination: { address: ipv6(buf, 32), port: buf.readUInt16BE(50) },
    };
  }
  return { status: "ok", length };
}

function ipv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** RFC 5952 text: the longest run of two or more zero groups (the first of equals) becomes "::". */
function ipv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(at + i));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

function validPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535;
}

function validAddress(text: string, v4: boolean): boolean {
  if (v4) return /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(text) && text.split(".").every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(text) && text.includes(":") && text.length <= 45;
}
