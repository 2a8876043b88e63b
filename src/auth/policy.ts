/**
 * Cyrus's proxy-policy callback (global.c:mysasl_proxy_policy). libsasl runs it after every successful
 * credential check — SASL exchanges, sasl_checkpass (USER/PASS) and APOP alike — with the canonical
 * authentication identity and the requested (authorization) identity, equal when none was asked for.
 */
import type { Config } from "../config/config.ts";
import { SASL_ERR } from "./sasl/errors.ts";

export interface LoginPolicy {
  readonly virtdomains: "off" | "userid" | "on";
  /** loginrealms, lower-cased: realms whose user@realm identities may log in. */
  readonly loginRealms: readonly string[];
  readonly admins: ReadonlySet<string>;
  readonly proxyServers: ReadonlySet<string>;
  /** The per-service deny list (user_deny.db, auth/deny-db.ts), when one is loaded; admins are exempt. */
  readonly isDenied?: (user: string) => boolean;
  /** The cyrus.conf service name, for the deny detail. */
  readonly service?: string;
}

export type PolicyDecision =
  | { ok: true }
  /** `reason` is the libsasl error string the client sees; `detail` is Cyrus's seterror text, for the log. */
  | { ok: false; reason: string; detail: string };

const words = (value: string | undefined): string[] => (value ?? "").split(/\s+/).filter((w) => w !== "");

export function loginPolicyFromConfig(cfg: Config): LoginPolicy {
  return {
    virtdomains: cfg.enumValue("virtdomains") as LoginPolicy["virtdomains"],
    loginRealms: words(cfg.str("loginrealms")).map((r) => r.toLowerCase()),
    // Cyrus splits admins/proxyservers at spaces and commas (global_authisa).
    admins: new Set(words(cfg.str("admins")?.replace(/,/g, " "))),
    proxyServers: new Set(words(cfg.str("proxyservers")?.replace(/,/g, " "))),
  };
}

/**
 * The realm of an identity is what follows its first `@`. It is checked when virtual domains are off
 * (such a name is then a foreign Kerberos-style realm) or when loginrealms is set at all.
 */
function crossRealm(policy: LoginPolicy, authcid: string): boolean {
  const at = authcid.indexOf("@");
  if (at < 0) return false;
  if (policy.virtdomains !== "off" && policy.loginRealms.length === 0) return false;
  return !policy.loginRealms.includes(authcid.slice(at + 1).toLowerCase());
}

export function checkLoginPolicy(policy: LoginPolicy, authcid: string, authzid: string): PolicyDecision {
  if (crossRealm(policy, authcid)) {
    return { ok: false, reason: SASL_ERR.authFailure, detail: `cross-realm login ${authcid} denied` };
  }
  const isAdmin = policy.admins.has(authcid);
  if (!isAdmin && policy.isDenied?.(authzid)) {
    return { ok: false, reason: SASL_ERR.authorization, detail: `user '${authzid}' is denied access to service '${policy.service ?? ""}'` };
  }
  if (authcid !== authzid && !isAdmin && !policy.proxyServers.has(authcid)) {
    return { ok: false, reason: SASL_ERR.authFailure, detail: `user ${authcid} is not allowed to proxy` };
  }
  return { ok: true };
}
