/** CIDR lists for pop3_haproxy_trusted_networks: parsing and membership, IPv4, IPv6 and v4-mapped. */
import { describe, expect, test } from "bun:test";
import { inNetworks, parseNetworks } from "../../../src/server/networks.ts";

describe("parseNetworks", () => {
  test("the default list parses", () => {
    expect(parseNetworks("127.0.0.0/8 ::1")).toHaveLength(2);
  });

  test("spaces and commas separate; empty list is empty", () => {
    expect(parseNetworks("10.0.0.0/8, 192.168.0.0/16\t::1")).toHaveLength(3);
    expect(parseNetworks("")).toEqual([]);
    expect(parseNetworks("   ")).toEqual([]);
  });

  test("bad entries throw naming the entry", () => {
    for (const bad of ["10.0.0.0/33", "10.0.0/8", "256.0.0.0/8", "::1/129", "10.0.0.0/x", "example.org", "1:2:3:4:5:6:7:8:9", "2001:db8::1::2", "10.0.0.0/-1"]) {
      expect(() => parseNetworks(bad), bad).toThrow(bad);
    }
  });
});

describe("inNetworks", () => {
  const nets = parseNetworks("127.0.0.0/8 ::1 10.20.0.0/16 192.0.2.7 2001:db8:100::/40");

  test("IPv4 prefixes and single addresses", () => {
    expect(inNetworks("127.0.0.1", nets)).toBe(true);
    expect(inNetworks("127.255.255.254", nets)).toBe(true);
    expect(inNetworks("128.0.0.1", nets)).toBe(false);
    expect(inNetworks("10.20.99.1", nets)).toBe(true);
    expect(inNetworks("10.21.0.1", nets)).toBe(false);
    expect(inNetworks("192.0.2.7", nets)).toBe(true);
    expect(inNetworks("192.0.2.8", nets)).toBe(false);
  });

  test("IPv6, including :: forms and a prefix that does not fall on a group boundary", () => {
    expect(inNetworks("::1", nets)).toBe(true);
    expect(inNetworks("0:0:0:0:0:0:0:1", nets)).toBe(true);
    expect(inNetworks("::2", nets)).toBe(false);
    expect(inNetworks("2001:db8:1ff:ffff::1", nets)).toBe(true);
    expect(inNetworks("2001:db8:200::1", nets)).toBe(false);
  });

  test("IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) match IPv4 networks", () => {
    expect(inNetworks("::ffff:127.0.0.1", nets)).toBe(true);
    expect(inNetworks("::ffff:10.20.1.1", nets)).toBe(true);
    expect(inNetworks("::ffff:8.8.8.8", nets)).toBe(false);
  });

  test("families do not mix, garbage never matches", () => {
    expect(inNetworks("::ffff:7f00:1", parseNetworks("::1"))).toBe(false);
    expect(inNetworks("127.0.0.1", parseNetworks("::/0"))).toBe(false);
    expect(inNetworks("", nets)).toBe(false);
    expect(inNetworks("not an address", nets)).toBe(false);
    expect(inNetworks("127.0.0.1.5", nets)).toBe(false);
  });

  test("/0 matches every address of its family; an empty list matches nothing", () => {
    expect(inNetworks("203.0.113.9", parseNetworks("0.0.0.0/0"))).toBe(true);
    expect(inNetworks("2001:db8::9", parseNetworks("::/0"))).toBe(true);
    expect(inNetworks("127.0.0.1", parseNetworks(""))).toBe(false);
  });

  test("host bits set in the network address do not matter (10.1.2.3/8 is 10.0.0.0/8)", () => {
    expect(inNetworks("10.200.0.1", parseNetworks("10.1.2.3/8"))).toBe(true);
  });
});
