import { describe, expect, test } from "bun:test";
import {
  findMechanism,
  listMechanisms,
  type MechanismFilter,
  mechanismUnavailableReason,
} from "../../../src/auth/sasl/registry.ts";

const clear: MechanismFilter = { tlsActive: false, allowPlaintext: false, externalSsf: 0, allowAnonymous: false };
const names = (f: MechanismFilter) => listMechanisms(f).map((m) => m.name);
const SECRET_MECHS = ["SCRAM-SHA-512", "SCRAM-SHA-384", "SCRAM-SHA-256", "SCRAM-SHA-224", "SCRAM-SHA-1", "DIGEST-MD5", "CRAM-MD5"];

describe("listMechanisms", () => {
  test("libsasl order, as in the Cyrus transcript (less NTLM)", () => {
    expect(names({ ...clear, tlsActive: true })).toEqual([...SECRET_MECHS, "PLAIN", "LOGIN"]);
  });
  test("with channel-binding data the -PLUS variants appear next to their base, as Cyrus lists them under TLS", () => {
    expect(names({ ...clear, tlsActive: true, channelBinding: true })).toEqual([
      "SCRAM-SHA-512-PLUS", "SCRAM-SHA-512", "SCRAM-SHA-384-PLUS", "SCRAM-SHA-384", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256",
      "SCRAM-SHA-224-PLUS", "SCRAM-SHA-224", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "DIGEST-MD5", "CRAM-MD5", "PLAIN", "LOGIN",
    ]);
  });
  test("plaintext mechanisms are hidden without protection", () => {
    expect(names(clear)).toEqual(SECRET_MECHS);
  });
  test("allowplaintext or an external ssf above 1 shows them", () => {
    expect(names({ ...clear, allowPlaintext: true })).toEqual([...SECRET_MECHS, "PLAIN", "LOGIN"]);
    expect(names({ ...clear, externalSsf: 2 })).toEqual([...SECRET_MECHS, "PLAIN", "LOGIN"]);
    expect(names({ ...clear, externalSsf: 1 })).toEqual(SECRET_MECHS);
  });
  test("EXTERNAL only with a client certificate identity, ANONYMOUS only with allowanonymouslogin", () => {
    expect(names({ ...clear, tlsActive: true, externalIdentity: "alice" })[0]).toBe("EXTERNAL");
    expect(names({ ...clear, allowAnonymous: true }).at(-1)).toBe("ANONYMOUS");
    expect(names({ ...clear, externalSsf: 256 })).not.toContain("EXTERNAL");
  });
  test("sasl_minimum_layer hides everything unless TLS or -p reach it", () => {
    expect(names({ ...clear, minimumLayer: 1 })).toEqual([]);
    expect(names({ ...clear, minimumLayer: 56, externalSsf: 56 })).toContain("CRAM-MD5");
    expect(names({ ...clear, minimumLayer: 128, tlsActive: true })).toContain("PLAIN");
    expect(names({ ...clear, minimumLayer: 200, tlsActive: true, tlsSsf: 128 })).toEqual([]);
    expect(names({ ...clear, minimumLayer: 200, tlsActive: true, tlsSsf: 256 })).toContain("PLAIN");
  });
  test("sasl_mech_list restricts and orders, case-insensitively, ignoring unknown names", () => {
    const f = { ...clear, tlsActive: true, mechList: " login  plain NTLM  digest-md5 " };
    expect(names(f)).toEqual(["LOGIN", "PLAIN", "DIGEST-MD5"]);
    expect(names({ ...f, mechList: "PLAIN" })).toEqual(["PLAIN"]);
  });
  test("sasl_mech_list does not bypass the plaintext rule", () => {
    expect(names({ ...clear, mechList: "PLAIN CRAM-MD5" })).toEqual(["CRAM-MD5"]);
  });
});

describe("findMechanism", () => {
  test("matches case-insensitively within the filter", () => {
    expect(findMechanism("plain", { ...clear, tlsActive: true })?.name).toBe("PLAIN");
    expect(findMechanism("scram-sha-256", clear)?.name).toBe("SCRAM-SHA-256");
  });
  test("nothing for hidden or unknown mechanisms", () => {
    expect(findMechanism("PLAIN", clear)).toBeUndefined();
    expect(findMechanism("NOSUCHMECH", clear)).toBeUndefined();
    expect(findMechanism("SCRAM-SHA-1-PLUS", { ...clear, tlsActive: true })).toBeUndefined();
    expect(findMechanism("LOGIN", { ...clear, tlsActive: true, mechList: "PLAIN" })).toBeUndefined();
  });
});

describe("mechanismUnavailableReason (pop3d.c:cmd_auth)", () => {
  test("plaintext mechanism without TLS", () => {
    expect(mechanismUnavailableReason("plain", clear)).toBe("encryption needed to use mechanism");
  });
  test("unknown, excluded or unavailable mechanism", () => {
    expect(mechanismUnavailableReason("NOSUCHMECH", clear)).toBe("no mechanism available");
    expect(mechanismUnavailableReason("LOGIN", { ...clear, tlsActive: true, mechList: "PLAIN" })).toBe("no mechanism available");
    expect(mechanismUnavailableReason("EXTERNAL", clear)).toBe("no mechanism available");
    expect(mechanismUnavailableReason("ANONYMOUS", clear)).toBe("no mechanism available");
  });
  test("below sasl_minimum_layer", () => {
    expect(mechanismUnavailableReason("CRAM-MD5", { ...clear, minimumLayer: 1 })).toBe("mechanism too weak for this user");
  });
});

describe("the registry is the one place that lists mechanisms", () => {
  test("when a mechanism is hidden is said by its own flags, never by its name in the registry", async () => {
    const source = await Bun.file(new URL("../../../src/auth/sasl/registry.ts", import.meta.url)).text();
    expect(source).not.toMatch(/\.name === "/);
    expect(source).not.toContain("LIBSASL_ORDER");
  });
  test("with every condition met, every mechanism is offered once, in libsasl's order", () => {
    const all = names({ tlsActive: true, allowPlaintext: true, externalSsf: 0, allowAnonymous: true, externalIdentity: "alice", channelBinding: true });
    expect(all[0]).toBe("EXTERNAL");
    expect(all.slice(-3)).toEqual(["PLAIN", "LOGIN", "ANONYMOUS"]);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(16);
  });
});
