/**
 * PROXY protocol header parsing (v1 text, v2 binary; imap/haproxy.c:haproxy_read_hdr): the verdict for whole headers, for
 * every prefix of a valid header (fed incrementally, as segments arrive), and for malformed input.
 */
import { describe, expect, test } from "bun:test";
import { MAX_V1_LENGTH, MAX_V2_PAYLOAD, parseProxyHeader } from "../../../src/server/haproxy.ts";

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const PROXY = 0x21;
const LOCAL = 0x20;

function v2(command: number, family: number, block: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(block.length);
  return Buffer.concat([SIG, Buffer.from([command, family]), len, block]);
}

function ipv4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function ipv6Block(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(src.replace(/:/g, ""), "hex").copy(b, 0);
  Buffer.from(dst.replace(/:/g, ""), "hex").copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

const ascii = (s: string) => Buffer.from(s, "latin1");

describe("v1", () => {
  test("TCP4: source and destination, length up to and including CRLF", () => {
    const line = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n";
    expect(parseProxyHeader(ascii(line + "CAPA\r\n"))).toEqual({
      status: "ok",
      length: line.length,
      source: { address: "192.0.2.7", port: 56324 },
      destination: { address: "198.51.100.1", port: 110 },
    });
  });

  test("TCP6", () => {
    const line = "PROXY TCP6 2001:db8::7 2001:db8::1 40000 995\r\n";
    const r = parseProxyHeader(ascii(line));
    expect(r).toEqual({
      status: "ok",
      length: line.length,
      source: { address: "2001:db8::7", port: 40000 },
      destination: { address: "2001:db8::1", port: 995 },
    });
  });

  test("UNKNOWN (with or without addresses): ok, no source, the socket's address stays", () => {
    for (const line of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"]) {
      const r = parseProxyHeader(ascii(line));
      expect(r).toEqual({ status: "ok", length: line.length });
    }
  });

  test("the longest valid line (107 bytes) is accepted", () => {
    const addr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const line = `PROXY TCP6 ${addr} ${addr} 65535 65535\r\n`;
    expect(line.length).toBe(104);
    expect(parseProxyHeader(ascii(line)).status).toBe("ok");
    const unknown = `PROXY UNKNOWN ${addr} ${addr} 65535 65535\r\n`;
    expect(unknown.length).toBe(MAX_V1_LENGTH);
    expect(parseProxyHeader(ascii(unknown)).status).toBe("ok");
  });

  test("every proper prefix of a valid line is incomplete", () => {
    const line = ascii("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n");
    for (let n = 1; n < line.length; n++) expect(parseProxyHeader(line.subarray(0, n)).status, `prefix ${n}`).toBe("incomplete");
    expect(parseProxyHeader(line).status).toBe("ok");
  });

  test("malformed lines are invalid", () => {
    const bad = [
      "PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n", // missing port
      "PROXY TCP4 192.0.2.7 198.51.100.1 56324 110 extra\r\n",
      "PROXY TCP4 999.0.2.7 198.51.100.1 56324 110\r\n",
      "PROXY TCP4 192.0.2 198.51.100.1 56324 110\r\n",
      "PROXY TCP4 192.0.2.7 198.51.100.1 65536 110\r\n",
      "PROXY TCP4 192.0.2.7 198.51.100.1 -1 110\r\n",
      "PROXY TCP4 2001:db8::7 198.51.100.1 1 110\r\n", // v6 address under TCP4
      "PROXY TCP6 192.0.2.7 2001:db8::1 1 110\r\n", // v4 address under TCP6
      "PROXY UDP4 192.0.2.7 198.51.100.1 56324 110\r\n",
      "PROXY  TCP4 192.0.2.7 198.51.100.1 56324 110\r\n", // two spaces
      "PROXY\r\n",
    ];
    for (const line of bad) expect(parseProxyHeader(ascii(line)).status, JSON.stringify(line)).toBe("invalid");
  });

  test("no CRLF within 107 bytes: invalid, not incomplete forever", () => {
    const long = ascii("PROXY TCP4 " + "1".repeat(200));
    expect(parseProxyHeader(long).status).toBe("invalid");
    expect(parseProxyHeader(long.subarray(0, MAX_V1_LENGTH)).status).toBe("invalid");
    // a CRLF beyond the limit does not rescue it
    expect(parseProxyHeader(ascii("PROXY UNKNOWN " + "x".repeat(100) + "\r\n")).status).toBe("invalid");
  });

  test("anything that is not a PROXY header is invalid at once", () => {
    for (const text of ["CAPA\r\n", "USER alice\r\n", "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", "\x16\x03\x01\x02\x00\x01"]) {
      expect(parseProxyHeader(ascii(text)).status, JSON.stringify(text)).toBe("invalid");
    }
    // already the first byte tells
    expect(parseProxyHeader(ascii("C")).status).toBe("invalid");
  });

  test("empty input is incomplete", () => {
    expect(parseProxyHeader(new Uint8Array(0)).status).toBe("incomplete");
  });
});

describe("v2", () => {
  test("PROXY TCP4 (0x11): addresses and ports; the length covers the address block only", () => {
    const header = v2(PROXY, 0x11, ipv4Block([192, 0, 2, 7], [198, 51, 100, 1], 56324, 110));
    const r = parseProxyHeader(Buffer.concat([header, ascii("\x16\x03\x01")]));
    expect(r).toEqual({
      status: "ok",
      length: 28,
      source: { address: "192.0.2.7", port: 56324 },
      destination: { address: "198.51.100.1", port: 110 },
    });
  });

  test("PROXY TCP6 (0x21)", () => {
    const header = v2(PROXY, 0x21, ipv6Block("2001:0db8:0000:0000:0000:0000:0000:0007", "2001:0db8:0000:0000:0000:0000:0000:0001", 40000, 995));
    const r = parseProxyHeader(header);
    expect(r.status).toBe("ok");
    if (r.status !== "ok") return;
    expect(r.length).toBe(52);
    expect(r.source).toEqual({ address: "2001:db8::7", port: 40000 });
    expect(r.destination).toEqual({ address: "2001:db8::1", port: 995 });
  });

  test("IPv6 addresses are printed in their usual compressed form", () => {
    const cases: [string, string][] = [
      ["0000:0000:0000:0000:0000:0000:0000:0001", "::1"],
      ["fe80:0000:0000:0000:0000:0000:0000:0000", "fe80::"],
      ["2001:0db8:0001:0000:0000:0000:0000:0001", "2001:db8:1::1"],
      ["2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1"],
      ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
      ["2001:0db8:0001:0002:0003:0004:0005:0006", "2001:db8:1:2:3:4:5:6"],
      // RFC 5952 section 4.2.3 (and inet_ntop, which Cyrus's log shows): the longest run of zeros is the one shortened
      ["2001:0000:0000:0001:0000:0000:0000:0001", "2001:0:0:1::1"],
    ];
    for (const [full, short] of cases) {
      const r = parseProxyHeader(v2(PROXY, 0x21, ipv6Block(full, full, 1, 2)));
      expect(r.status === "ok" && r.source?.address, full).toBe(short);
    }
  });

  test("TLVs after the addresses are skipped (haproxy's unique-id, ssl, crc32c)", () => {
    const tlv = Buffer.from([0x05, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64]);
    const header = v2(PROXY, 0x11, Buffer.concat([ipv4Block([10, 1, 2, 3], [10, 0, 0, 1], 1234, 110), tlv]));
    const r = parseProxyHeader(Buffer.concat([header, ascii("CAPA\r\n")]));
    expect(r.status === "ok" && r.length).toBe(16 + 12 + tlv.length);
    expect(r.status === "ok" && r.source).toEqual({ address: "10.1.2.3", port: 1234 });
  });

  test("LOCAL (health checks): ok, no source, the whole announced block is skipped", () => {
    const r = parseProxyHeader(v2(LOCAL, 0x00, Buffer.alloc(0)));
    expect(r).toEqual({ status: "ok", length: 16 });
    const withBlock = parseProxyHeader(v2(LOCAL, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)));
    expect(withBlock).toEqual({ status: "ok", length: 28 });
  });

  test("UNSPEC and unix families: ok without a source", () => {
    expect(parseProxyHeader(v2(PROXY, 0x00, Buffer.alloc(0)))).toEqual({ status: "ok", length: 16 });
    expect(parseProxyHeader(v2(PROXY, 0x31, Buffer.alloc(216)))).toEqual({ status: "ok", length: 16 + 216 });
  });

  test("every proper prefix of a valid header is incomplete (split across segments)", () => {
    const header = v2(PROXY, 0x11, ipv4Block([192, 0, 2, 7], [198, 51, 100, 1], 56324, 110));
    for (let n = 1; n < header.length; n++) expect(parseProxyHeader(header.subarray(0, n)).status, `prefix ${n}`).toBe("incomplete");
    // fed chunk by chunk, as a reader accumulating segments would
    let acc = Buffer.alloc(0);
    const verdicts: string[] = [];
    for (const chunk of [header.subarray(0, 5), header.subarray(5, 13), header.subarray(13, 20), header.subarray(20)]) {
      acc = Buffer.concat([acc, chunk]);
      verdicts.push(parseProxyHeader(acc).status);
    }
    expect(verdicts).toEqual(["incomplete", "incomplete", "incomplete", "ok"]);
  });

  test("a wrong signature is invalid", () => {
    const header = v2(PROXY, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    for (const at of [0, 4, 11]) {
      const bad = Buffer.from(header);
      bad[at] = bad[at]! ^ 0xff;
      expect(parseProxyHeader(bad).status, `byte ${at}`).toBe("invalid");
    }
  });

  test("a wrong version or command is invalid", () => {
    const block = ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    expect(parseProxyHeader(v2(0x11, 0x11, block)).status).toBe("invalid"); // version 1 in a v2 header
    expect(parseProxyHeader(v2(0x31, 0x11, block)).status).toBe("invalid"); // version 3
    expect(parseProxyHeader(v2(0x22, 0x11, block)).status).toBe("invalid"); // command 2
    expect(parseProxyHeader(v2(0x2f, 0x11, block)).status).toBe("invalid");
  });

  test("an address block too short for its family is invalid", () => {
    expect(parseProxyHeader(v2(PROXY, 0x11, Buffer.alloc(8))).status).toBe("invalid");
    expect(parseProxyHeader(v2(PROXY, 0x21, Buffer.alloc(12))).status).toBe("invalid");
  });

  test("an oversized announced length is refused before the bytes arrive", () => {
    const header = Buffer.concat([SIG, Buffer.from([PROXY, 0x11, 0xff, 0xff])]);
    expect(parseProxyHeader(header).status).toBe("invalid");
    const justOver = Buffer.concat([SIG, Buffer.from([PROXY, 0x11]), Buffer.from([(MAX_V2_PAYLOAD + 1) >> 8, (MAX_V2_PAYLOAD + 1) & 0xff])]);
    expect(parseProxyHeader(justOver).status).toBe("invalid");
    const atLimit = Buffer.concat([SIG, Buffer.from([PROXY, 0x11]), Buffer.from([MAX_V2_PAYLOAD >> 8, MAX_V2_PAYLOAD & 0xff])]);
    expect(parseProxyHeader(atLimit).status).toBe("incomplete");
  });

  test("truncated: a header cut short is incomplete, never ok", () => {
    const header = v2(PROXY, 0x21, ipv6Block("2001:0db8:0000:0000:0000:0000:0000:0007", "2001:0db8:0000:0000:0000:0000:0000:0001", 1, 2));
    expect(parseProxyHeader(header.subarray(0, header.length - 1)).status).toBe("incomplete");
  });

  test("input in a larger buffer at an offset parses the same", () => {
    const header = v2(PROXY, 0x11, ipv4Block([192, 0, 2, 7], [198, 51, 100, 1], 56324, 110));
    const big = Buffer.concat([Buffer.alloc(7, 0xee), header]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 7, header.length);
    expect(parseProxyHeader(view)).toEqual(parseProxyHeader(header));
  });
});
