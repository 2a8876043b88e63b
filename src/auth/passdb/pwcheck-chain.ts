/**
 * libsasl's two ways to a password: sasl_checkpass tries each sasl_pwcheck_method in order until one
 * accepts (lib/server.c _sasl_checkpass), while every mechanism that needs a secret (APOP, CRAM-MD5,
 * DIGEST-MD5, SCRAM) asks the auxprop plugins for `userPassword` whatever sasl_pwcheck_method says.
 */
import { PassDbUnavailable, type PasswordDb } from "./passdb.ts";
import type { ScramCredentials, ScramHashName } from "./scram-keys.ts";

/** The auxprop plugins in sasl_auxprop_plugin order: the first one that has the user answers. */
export class AuxpropChain implements PasswordDb {
  constructor(readonly sources: readonly PasswordDb[]) {}

  async checkPassword(user: string, password: string): Promise<boolean> {
    for (const source of this.sources) {
      if (await source.checkPassword(user, password)) return true;
    }
    return false;
  }

  /** Known to any source: true; unknown to all that can tell: false; else undefined. */
  async userExists(user: string): Promise<boolean | undefined> {
    return anyKnows(this.sources, user);
  }

  async plaintextSecret(user: string): Promise<string | undefined> {
    for (const source of this.sources) {
      const secret = await source.plaintextSecret(user);
      if (secret !== undefined) return secret;
    }
    return undefined;
  }

  async scramCredentials(user: string, hash: ScramHashName): Promise<ScramCredentials | undefined> {
    for (const source of this.sources) {
      const keys = await source.scramCredentials?.(user, hash);
      if (keys) return keys;
    }
    return undefined;
  }
}

/** sasl_pwcheck_method for plain passwords, the auxprop plugins for secrets. */
export class PwcheckChain implements PasswordDb {
  constructor(
    readonly checkers: readonly PasswordDb[],
    readonly secrets: PasswordDb,
  ) {}

  /** Methods are tried in order until one accepts; the verdict of the last one tried stands, so an
   *  unavailable backend only surfaces when it was the last word. */
  async checkPassword(user: string, password: string): Promise<boolean> {
    let lastError: PassDbUnavailable | undefined;
    for (const checker of this.checkers) {
      try {
        if (await checker.checkPassword(user, password)) return true;
        lastError = undefined;
      } catch (e) {
        if (!(e instanceof PassDbUnavailable)) throw e;
        lastError = e;
      }
    }
    if (lastError) throw lastError;
    return false;
  }

  plaintextSecret(user: string): Promise<string | undefined> {
    return this.secrets.plaintextSecret(user);
  }

  async userExists(user: string): Promise<boolean | undefined> {
    return anyKnows(this.checkers, user);
  }

  async scramCredentials(user: string, hash: ScramHashName): Promise<ScramCredentials | undefined> {
    return this.secrets.scramCredentials?.(user, hash);
  }
}

async function anyKnows(dbs: readonly PasswordDb[], user: string): Promise<boolean | undefined> {
  let answer: boolean | undefined = false;
  for (const db of dbs) {
    let known: boolean | undefined;
    try {
      known = db.userExists ? await db.userExists(user) : undefined;
    } catch {
      known = undefined;
    }
    if (known === true) return true;
    if (known === undefined) answer = undefined;
  }
  return answer;
}
