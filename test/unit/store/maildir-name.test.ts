import { describe, expect, test } from "bun:test";
import {
  compareDelivery,
  crlfSizeField,
  deliveryKeyFromMtime,
  deliveryKeyFromName,
  maildirBaseName,
  nameWithSeenFlag,
} from "../../../src/store/maildir/maildir-name.ts";

describe("maildirBaseName", () => {
  test("drops the info part and nothing else", () => {
    expect(maildirBaseName("1700000000.M1P2.host,S=10:2,RS")).toBe("1700000000.M1P2.host,S=10");
    expect(maildirBaseName("1700000000.M1P2.host")).toBe("1700000000.M1P2.host");
  });
});

describe("crlfSizeField", () => {
  test("reads ,W= and ignores ,S=", () => {
    expect(crlfSizeField("1.M1P2.host,S=100,W=104")).toBe(104);
    expect(crlfSizeField("1.M1P2.host,W=104,S=100")).toBe(104);
    expect(crlfSizeField("1.M1P2.host,S=100")).toBeUndefined();
    expect(crlfSizeField("1.M1P2.host,W=10x")).toBeUndefined();
  });
});

describe("delivery order", () => {
  const order = (names: string[]) =>
    [...names].sort((a, b) => compareDelivery(deliveryKeyFromName(a)!, deliveryKeyFromName(b)!));

  test("seconds first, then microseconds, then the delivery counter, then the name", () => {
    const names = [
      "1700000001.M5P9.host",
      "1700000000.M900P1.host",
      "1700000000.M20P1.host",
      "1700000000.P7Q10.host",
      "1700000000.P7Q9.host",
      "999999999.M1P1.host",
    ];
    expect(order(names)).toEqual([
      "999999999.M1P1.host",
      "1700000000.P7Q9.host",
      "1700000000.P7Q10.host",
      "1700000000.M20P1.host",
      "1700000000.M900P1.host",
      "1700000001.M5P9.host",
    ]);
  });

  test("old-style <pid>_<n> names use n as the counter", () => {
    expect(order(["1700000000.123_10.host", "1700000000.123_9.host"])).toEqual(["1700000000.123_9.host", "1700000000.123_10.host"]);
  });

  test("names of another shape have no key of their own and take their mtime", () => {
    expect(deliveryKeyFromName("message-17")).toBeUndefined();
    const key = deliveryKeyFromMtime("message-17", 1_700_000_000_250.5);
    expect(key).toEqual({ seconds: 1_700_000_000, micros: 250_500, sequence: 0, name: "message-17" });
    expect(compareDelivery(key, deliveryKeyFromName("1700000000.M250000P1.host")!)).toBeGreaterThan(0);
  });
});

describe("nameWithSeenFlag", () => {
  test("adds S to the standard info in ASCII order", () => {
    expect(nameWithSeenFlag("a.b.c:2,")).toBe("a.b.c:2,S");
    expect(nameWithSeenFlag("a.b.c:2,FR")).toBe("a.b.c:2,FRS");
    expect(nameWithSeenFlag("a.b.c:2,DFT")).toBe("a.b.c:2,DFST");
    expect(nameWithSeenFlag("a.b.c:2,Fab")).toBe("a.b.c:2,FSab");
  });

  test("gives a name without info the standard one", () => {
    expect(nameWithSeenFlag("a.b.c")).toBe("a.b.c:2,S");
  });

  test("leaves seen and non-standard infos alone", () => {
    expect(nameWithSeenFlag("a.b.c:2,RS")).toBeUndefined();
    expect(nameWithSeenFlag("a.b.c:1,xyz")).toBeUndefined();
  });
});
