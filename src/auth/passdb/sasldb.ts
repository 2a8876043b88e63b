/**
 * The sasldb auxprop plugin, read-only: the `userPassword` secrets that Cyrus SASL's saslpasswd2 stores
 * in a Berkeley DB hash file (Debian's /etc/sasldb2) under the key `user NUL realm NUL userPassword`.
 * The secrets are plaintext, so every mechanism works from them. The file is re-read when it changes,
 * since operators run saslpasswd2 while the server runs.
 *
 * A missing file holds no users, as for libsasl (whose lookups then find nobody), so logins fail as
 * "authentication failure" and a warning names the path; a file that cannot be read or parsed makes
 * the backend unavailable ([SYS/TEMP]) with the reason.
 */
import { BerkeleyDbFormatError, readBerkeleyHash } from "./berkeley-db-hash.ts";
import { constantTimeEqual } from "./constant-time.ts";
import { PassDbUnavailable, type PasswordDb } from "./passdb.ts";
import { noble } from "../noble.ts";

/** libsasl's default sasldb_path. */
export const DEFAULT_SASLDB_PATH = "/etc/sasldb2";
const PASSWORD_PROPERTY = "userPassword";

export interface SasldbOptions {
  /**
   * The realm of users named without `@realm`. libsasl uses the connection's user_realm, which Cyrus
   * leaves unset, so the server's FQDN (servername) — the host name that saslpasswd2 uses without -u.
   */
  defaultRealm: string;
  /** Told once each time the file is found missing. */
  warn?: (message: string) => void;
}

interface Table {
  readonly version: string;
  readonly entries: ReadonlyMap<string, Uint8Array>;
}

const EMPTY: ReadonlyMap<string, Uint8Array> = new Map();
const MISSING_VERSION = "missing";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : String((e as Error)?.message ?? e);
}

/** The byte-string key of a user's property; libsasl (_plug_parseuser) splits user@realm at the first "@". */
export function sasldbKey(user: string, defaultRealm: string, property = PASSWORD_PROPERTY): string {
  const at = user.indexOf("@");
  const name = at < 0 ? user : user.slice(0, at);
  const realm = at < 0 ? defaultRealm : user.slice(at + 1);
  return Buffer.from(utf8.encode(`${name}\0${realm}\0${property}`)).toString("latin1");
}

export class SasldbDb implements PasswordDb {
  private table: Table | undefined;

  constructor(
    readonly path: string,
    private readonly options: SasldbOptions,
  ) {}

  async checkPassword(user: string, password: string): Promise<boolean> {
    const secret = await this.secretBytes(user);
    // Digests of both sides: the comparison hides the stored length, and a missing user costs the same.
    const stored = noble.sha2.sha256(secret ?? crypto.getRandomValues(new Uint8Array(16)));
    const matches = constantTimeEqual(noble.sha2.sha256(utf8.encode(password)), stored);
    return secret !== undefined && matches;
  }

  async userExists(user: string): Promise<boolean> {
    return (await this.secretBytes(user)) !== undefined;
  }

  async plaintextSecret(user: string): Promise<string | undefined> {
    const secret = await this.secretBytes(user);
    if (secret === undefined) return undefined;
    try {
      return strictUtf8.decode(secret);
    } catch {
      // libsasl compares bytes; a secret that is not UTF-8 keeps its bytes as one char each.
      return Buffer.from(secret).toString("latin1");
    }
  }

  private async secretBytes(user: string): Promise<Uint8Array | undefined> {
    const table = await this.current();
    return table.entries.get(sasldbKey(user, this.options.defaultRealm));
  }

  private async current(): Promise<Table> {
    const file = Bun.file(this.path);
    let version: string;
    try {
      const st = await file.stat();
      version = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      if (errorCode(e) !== "ENOENT") {
        throw new PassDbUnavailable(`sasldb ${this.path}: cannot open: ${errorCode(e)}`, { cause: e });
      }
      if (this.table?.version !== MISSING_VERSION) {
        this.options.warn?.(`sasldb ${this.path} does not exist: no user can log in through it`);
        this.table = { version: MISSING_VERSION, entries: EMPTY };
      }
      return this.table;
    }
    if (this.table?.version === version) return this.table;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await file.arrayBuffer());
    } catch (e) {
      throw new PassDbUnavailable(`sasldb ${this.path}: cannot read: ${errorCode(e)}`, { cause: e });
    }
    try {
      this.table = { version, entries: readBerkeleyHash(bytes) };
    } catch (e) {
      if (!(e instanceof BerkeleyDbFormatError)) throw e;
      throw new PassDbUnavailable(`sasldb ${this.path}: unreadable: ${e.message}`, { cause: e });
    }
    return this.table;
  }
}
