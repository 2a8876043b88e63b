/** libsasl's error strings, shared by the mechanisms, the registry and the login policy. */

/** libsasl's sasl_errstring texts that reach the client as `-ERR [AUTH] authenticating: <text>` (pop3d.c:cmd_auth).
 *  SASL_NOUSER ("user not found") is deliberately absent: Cyrus masks it as a plain failure (pop3d.c:cmd_apop, cmd_auth). */
export const SASL_ERR = {
  authFailure: "authentication failure",
  badProtocol: "bad protocol / cancel",
  noMechanism: "no mechanism available",
  encryptionNeeded: "encryption needed to use mechanism",
  /** SASL_FAIL, e.g. DIGEST-MD5's duplicate directives or a charset other than utf-8. */
  generic: "generic failure",
  /** SASL_NOAUTHZ: an EXTERNAL identity "anonymous" without allowanonymouslogin. */
  authorization: "authorization failure",
  /** SASL_TOOWEAK: sasl_minimum_layer above what TLS or -p provide. */
  tooWeak: "mechanism too weak for this user",
} as const;
