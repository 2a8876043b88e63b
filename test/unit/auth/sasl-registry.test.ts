import { describe, expect, test } from "bun:test";
import {
  findMechanism,
  listMechanisms,
  type MechanismFilter,
  mechanismUnavailableReason,
} from "../../../src/auth/sasl/registry.ts";

const clear: MechanismFilter = { tlsActive: false, allowPlaintext: false, externalSsf: 0, allowAnonymous: false };
const names = (f: MechanismFilter) => listMechanisms(f).map((m) => m.name);

describe("listMechanisms", () => {
  test("libsasl order, as in the Cyrus transcript", () => {
    expect(names({ ...clear, tlsActive: true })).toEqual(["CRAM-MD5", "PLAIN", "LOGIN"]);
  });
  test("plaintext mechanisms are hidden without protection", () => {
    expect(names(clear)).toEqual(["CRAM-MD5"]);
  });
  test("allowplaintext or an external ssf above 1 shows them", () => {
    expect(names({ ...clear, allowPlaintext: true })).toEqual(["CRAM-MD5", "PLAIN", "LOGIN"]);
    expect(names({ ...clear, externalSsf: 2 })).toEqual(["CRAM-MD5", "PLAIN", "LOGIN"]);
    expect(names({ ...clear, externalSsf: 1 })).toEqual(["CRAM-MD5"]);
  });
  test("sasl_mech_list restricts and orders, case-insensitively, ignoring unknown names", () => {
    const f = { ...clear, tlsActive: true, mechList: " login  plain NTLM  " };
    expect(names(f)).toEqual(["LOGIN", "PLAIN"]);
    expect(names({ ...f, mechList: "PLAIN" })).toEqual(["PLAIN"]);
  });
  test("sasl_mech_list does not bypass the plaintext rule", () => {
    expect(names({ ...clear, mechList: "PLAIN CRAM-MD5" })).toEqual(["CRAM-MD5"]);
  });
});

describe("findMechanism", () => {
  test("matches case-insensitively within the filter", () => {
    expect(findMechanism("plain", { ...clear, tlsActive: true })?.name).toBe("PLAIN");
    expect(findMechanism("cram-md5", clear)?.name).toBe("CRAM-MD5");
  });
  test("nothing for hidden or unknown mechanisms", () => {
    expect(findMechanism("PLAIN", clear)).toBeUndefined();
    expect(findMechanism("NOSUCHMECH", clear)).toBeUndefined();
    expect(findMechanism("LOGIN", { ...clear, tlsActive: true, mechList: "PLAIN" })).toBeUndefined();
  });
});

describe("mechanismUnavailableReason (§6.4)", () => {
  test("plaintext mechanism without TLS", () => {
    expect(mechanismUnavailableReason("plain", clear)).toBe("encryption needed to use mechanism");
  });
  test("unknown or excluded mechanism", () => {
    expect(mechanismUnavailableReason("NOSUCHMECH", clear)).toBe("no mechanism available");
    expect(mechanismUnavailableReason("LOGIN", { ...clear, tlsActive: true, mechList: "PLAIN" })).toBe(
      "no mechanism available",
    );
  });
});
