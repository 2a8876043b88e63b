import { type CanonicalOptions, canonicalizeUser } from "../../../src/auth/canonical.ts";
import { PassDbUnavailable, type PasswordDb } from "../../../src/auth/passdb/passdb.ts";
import type { SaslContext, SaslMechanism, SaslStep } from "../../../src/auth/sasl/mechanism.ts";

/** An in-memory password database holding plaintext secrets. */
export class MemoryPassDb implements PasswordDb {
  readonly checked: { user: string; password: string }[] = [];
  down = false;
  constructor(private readonly users: Record<string, string>) {}
  async checkPassword(user: string, password: string): Promise<boolean> {
    if (this.down) throw new PassDbUnavailable("memory passdb down");
    this.checked.push({ user, password });
    return Object.hasOwn(this.users, user) && this.users[user] === password;
  }
  async plaintextSecret(user: string): Promise<string | undefined> {
    if (this.down) throw new PassDbUnavailable("memory passdb down");
    return Object.hasOwn(this.users, user) ? this.users[user] : undefined;
  }
}

export const CANON: CanonicalOptions = {
  virtdomains: "userid",
  defaultDomain: "example.com",
  toLower: true,
  popSubfolders: true,
};

export function makeContext(
  passdb: PasswordDb,
  admins: string[] = [],
): SaslContext & { proxyQueries: [string, string][] } {
  const proxyQueries: [string, string][] = [];
  return {
    passdb,
    canonicalize: (raw) => canonicalizeUser(raw, CANON),
    mayProxy: (authcid, authzid) => {
      proxyQueries.push([authcid, authzid]);
      return admins.includes(authcid);
    },
    servername: "pop.example.com",
    tlsActive: true,
    proxyQueries,
  };
}

const utf8 = new TextEncoder();
export const bytes = (s: string): Uint8Array => utf8.encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Runs an exchange: the initial response, then each further client message in turn. */
export async function run(
  mech: SaslMechanism,
  ctx: SaslContext,
  initial: string | null,
  ...lines: string[]
): Promise<SaslStep[]> {
  const ex = mech.start(ctx);
  const steps = [await ex.step(initial === null ? null : bytes(initial))];
  for (const line of lines) steps.push(await ex.step(bytes(line)));
  return steps;
}
