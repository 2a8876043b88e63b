/**
 * The password database contract shared by every backend (passwd-file, saslauthd, sasldb).
 */
export interface PasswordDb {
  /** Resolves true/false. Throws PassDbUnavailable when the backend cannot answer (maps to [SYS/TEMP]). */
  checkPassword(user: string, password: string): Promise<boolean>;
  /** A plaintext-equivalent secret (for APOP, CRAM-MD5, DIGEST-MD5), or undefined if not stored that way. */
  plaintextSecret(user: string): Promise<string | undefined>;
}

/** The backend could not give an answer at all (file missing, daemon down). Never carries a password. */
export class PassDbUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PassDbUnavailable";
  }
}
