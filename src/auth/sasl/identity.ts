/**
 * The identity steps every mechanism shares, in libsasl's order: canonicalise the authentication and
 * authorization identities, verify the credential, then apply the proxy policy (lib/auth_unix.c canonicalisation, pop3d.c:popd_proxy_policy).
 */
import type { SaslContext, SaslStep } from "./mechanism.ts";
import { SASL_ERR } from "./errors.ts";
import { checkLoginPolicy } from "../policy.ts";

export type Failure = Extract<SaslStep, { type: "failure" }>;
export type Success = Extract<SaslStep, { type: "success" }>;

export interface Identities {
  readonly authcid: string;
  readonly user: string;
  readonly subfolder?: string;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Mechanism strings are UTF-8 (RFC 4422 section 4); anything else is a protocol error, not a failed login. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function badProtocol(detail: string): Failure {
  return { type: "failure", reason: SASL_ERR.badProtocol, detail };
}

export function authFailure(detail: string, user?: string): Failure {
  return user === undefined
    ? { type: "failure", reason: SASL_ERR.authFailure, detail }
    : { type: "failure", reason: SASL_ERR.authFailure, detail, user };
}

/**
 * Canonicalises authcid and (optional, empty = none) authzid. The `+subfolder` comes from the
 * authorization identity, or from the authcid when no authzid was given (pop3d.c:popd_canon_user).
 */
export function resolveIdentities(ctx: SaslContext, authcidRaw: string, authzidRaw: string): Identities | Failure {
  const cid = ctx.canonicalize(authcidRaw);
  if (!cid.ok) return authFailure(`bad userid authenticated: ${cid.reason}`);
  if (authzidRaw === "") {
    return cid.subfolder === undefined
      ? { authcid: cid.user, user: cid.user }
      : { authcid: cid.user, user: cid.user, subfolder: cid.subfolder };
  }
  const zid = ctx.canonicalize(authzidRaw);
  if (!zid.ok) return authFailure(`bad userid requested: ${zid.reason}`, cid.user);
  return zid.subfolder === undefined
    ? { authcid: cid.user, user: zid.user }
    : { authcid: cid.user, user: zid.user, subfolder: zid.subfolder };
}

/** The proxy policy, run after the credential was verified (pop3d.c:popd_proxy_policy). */
export function authorize(ctx: SaslContext, ids: Identities): Success | Failure {
  if (ctx.policy) {
    const decision = checkLoginPolicy(ctx.policy, ids.authcid, ids.user);
    if (!decision.ok) return { type: "failure", reason: decision.reason, detail: decision.detail, user: ids.user };
  } else if (ids.user !== ids.authcid && !ctx.mayProxy(ids.authcid, ids.user)) {
    return authFailure(`user ${ids.authcid} is not allowed to proxy`, ids.user);
  }
  return ids.subfolder === undefined
    ? { type: "success", user: ids.user, authcid: ids.authcid }
    : { type: "success", user: ids.user, subfolder: ids.subfolder, authcid: ids.authcid };
}

/** Password mechanisms (PLAIN, LOGIN): identities, then the password, then authorization. */
export async function verifyPasswordLogin(
  ctx: SaslContext,
  authcidRaw: string,
  authzidRaw: string,
  password: string,
): Promise<SaslStep> {
  const ids = resolveIdentities(ctx, authcidRaw, authzidRaw);
  if ("type" in ids) return ids;
  // PassDbUnavailable propagates: the session answers [SYS/TEMP] instead of a failed login.
  if (!(await ctx.passdb.checkPassword(ids.authcid, password))) {
    return authFailure("Password verification failed", ids.user);
  }
  return authorize(ctx, ids);
}

/** A step after the exchange has ended is a client error. */
export const EXCHANGE_OVER: Failure = badProtocol("exchange already finished");
