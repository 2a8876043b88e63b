/**
 * The password database contract shared by every backend (passwd-file, saslauthd, sasldb).
 */
import type { ScramCredentials, ScramHashName } from "./scram-keys.ts";

export interface PasswordDb {
  /** Resolves true/false. Throws PassDbUnavailable when the backend cannot answer (maps to [SYS/TEMP]). */
  checkPassword(user: string, password: string): Promise<boolean>;
  /** A plaintext-equivalent secret (for APOP, CRAM-MD5, DIGEST-MD5), or undefined if not stored that way. */
  plaintextSecret(user: string): Promise<string | undefined>;
  /**
   * Stored SCRAM keys for users whose secret is kept only in that form (e.g. `{SCRAM-SHA-256}` in a
   * passwd-file). SCRAM asks for plaintextSecret first and derives the keys itself, as libsasl does.
   */
  scramCredentials?(user: string, hash: ScramHashName): Promise<ScramCredentials | undefined>;
  /**
   * Whether the database has the user at all, for the log line only (libsasl logs "user not found",
   * which is how admins spot a realm mismatch); the client never learns it. Undefined when the
   * backend cannot tell (saslauthd).
   */
  userExists?(user: string): Promise<boolean | undefined>;
}

/** The backend could not give an answer at all (file missing, daemon down). Never carries a password. */
export class PassDbUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PassDbUnavailable";
  }
}
