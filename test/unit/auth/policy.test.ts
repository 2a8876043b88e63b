import { describe, expect, test } from "bun:test";
import { checkLoginPolicy, loginPolicyFromConfig } from "../../../src/auth/policy.ts";
import { defaultSaslSettings, saslSettingsFromConfig } from "../../../src/auth/sasl/sasl-config.ts";
import { ConfigError } from "../../../src/config/config.ts";
import { fakeConfig } from "./config-fake.ts";

const policy = (values: Record<string, string>) => loginPolicyFromConfig(fakeConfig(values));

describe("loginrealms (pop3d.c:popd_proxy_policy)", () => {
  test("with virtdomains off, any user@realm is cross-realm unless the realm is listed", () => {
    const p = policy({ virtdomains: "off" });
    expect(checkLoginPolicy(p, "bob@example.com", "bob@example.com")).toEqual({
      ok: false,
      reason: "authentication failure",
      detail: "cross-realm login bob@example.com denied",
    });
    expect(checkLoginPolicy(p, "bob", "bob")).toEqual({ ok: true });
    const listed = policy({ virtdomains: "off", loginrealms: "other.org  EXAMPLE.com" });
    expect(checkLoginPolicy(listed, "bob@Example.COM", "bob@Example.COM")).toEqual({ ok: true });
    expect(checkLoginPolicy(listed, "bob@example", "bob@example").ok).toBe(false);
  });
  test("with virtual domains, realms are only checked when loginrealms is set", () => {
    expect(checkLoginPolicy(policy({ virtdomains: "userid" }), "bob@example.com", "bob@example.com")).toEqual({ ok: true });
    const p = policy({ virtdomains: "userid", loginrealms: "example.net" });
    expect(checkLoginPolicy(p, "bob@example.com", "bob@example.com").ok).toBe(false);
    expect(checkLoginPolicy(p, "bob@example.net", "bob@example.net")).toEqual({ ok: true });
  });
  test("the realm is what follows the first @", () => {
    const p = policy({ virtdomains: "off", loginrealms: "b@c" });
    expect(checkLoginPolicy(p, "a@b@c", "a@b@c")).toEqual({ ok: true });
  });
});

describe("proxying (pop3d.c:popd_proxy_policy)", () => {
  test("only admins and proxyservers may act for another user", () => {
    const p = policy({ admins: "root, admin", proxyservers: "murder" });
    expect(checkLoginPolicy(p, "alice", "bob")).toMatchObject({ ok: false, reason: "authentication failure", detail: "user alice is not allowed to proxy" });
    expect(checkLoginPolicy(p, "admin", "bob")).toEqual({ ok: true });
    expect(checkLoginPolicy(p, "root", "bob")).toEqual({ ok: true });
    expect(checkLoginPolicy(p, "murder", "bob")).toEqual({ ok: true });
  });
  test("a deny list refuses the requested user, but not to admins", () => {
    const p = { ...policy({ admins: "root" }), isDenied: (u: string) => u === "bob" };
    expect(checkLoginPolicy(p, "bob", "bob")).toMatchObject({ ok: false, reason: "authorization failure" });
    expect(checkLoginPolicy(p, "root", "bob")).toEqual({ ok: true });
  });
});

describe("saslSettingsFromConfig", () => {
  test("defaults", () => {
    const s = saslSettingsFromConfig(fakeConfig({}));
    expect(s.scramIterations).toBe(4096);
    expect(s.minimumLayer).toBe(0);
  });
  test("sasl_scram_iteration_counter and sasl_minimum_layer", () => {
    const s = saslSettingsFromConfig(fakeConfig({ sasl_scram_iteration_counter: "10000", sasl_minimum_layer: "56" }));
    expect(s.scramIterations).toBe(10000);
    expect(s.minimumLayer).toBe(56);
  });
  test("an unusable iteration count is a ConfigError", () => {
    for (const v of ["100", "lots", "99999999999"]) {
      expect(() => saslSettingsFromConfig(fakeConfig({ sasl_scram_iteration_counter: v }))).toThrow(ConfigError);
    }
  });
});

test("defaultSaslSettings equals what an empty imapd.conf gives", () => {
  expect(defaultSaslSettings()).toEqual(saslSettingsFromConfig(fakeConfig({})));
});
