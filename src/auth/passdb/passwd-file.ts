/**
 * A Dovecot-style passwd-file: `user:{SCHEME}secret[:extra fields…]` per line, `#` comments.
 * The file is re-read whenever it changes on disk, since operators edit it while the server runs.
 */
import { PassDbUnavailable, type PasswordDb } from "./passdb.ts";
import {
  isPlaintextScheme,
  isSupportedSecret,
  parseStoredSecret,
  pickDecoy,
  type StoredSecret,
  verifyStoredSecret,
} from "./schemes.ts";
import { scramCredentialsOf } from "./scram-scheme.ts";
import type { ScramCredentials, ScramHashName } from "./scram-keys.ts";

export interface PasswdFileOptions {
  /** Receives one message per unusable line (file and line number, never a secret). */
  warn?: (message: string) => void;
}

interface Table {
  /** Identity of the file version this table was built from: inode, size and mtime. */
  readonly version: string;
  readonly users: ReadonlyMap<string, StoredSecret>;
  /** What an unknown user's password is checked against, so that it costs what a wrong one does. */
  readonly decoy: StoredSecret;
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : String((e as Error)?.message ?? e);
}

export class PasswdFileDb implements PasswordDb {
  private table: Table | undefined;
  private loading: { version: string; promise: Promise<Table> } | undefined;

  constructor(
    readonly path: string,
    private readonly options: PasswdFileOptions = {},
  ) {}

  async checkPassword(user: string, password: string): Promise<boolean> {
    const table = await this.current();
    const entry = table.users.get(user);
    if (entry === undefined) {
      await verifyStoredSecret(table.decoy, password);
      return false;
    }
    return verifyStoredSecret(entry, password);
  }

  async userExists(user: string): Promise<boolean> {
    return (await this.current()).users.has(user);
  }

  async plaintextSecret(user: string): Promise<string | undefined> {
    const entry = (await this.current()).users.get(user);
    return entry !== undefined && isPlaintextScheme(entry) ? entry.secret : undefined;
  }

  async scramCredentials(user: string, hash: ScramHashName): Promise<ScramCredentials | undefined> {
    const entry = (await this.current()).users.get(user);
    return entry === undefined ? undefined : scramCredentialsOf(entry, hash);
  }

  private async current(): Promise<Table> {
    let version: string;
    try {
      const st = await Bun.file(this.path).stat();
      version = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      throw new PassDbUnavailable(`passwd-file ${this.path}: cannot stat: ${errorCode(e)}`, { cause: e });
    }
    if (this.table?.version === version) return this.table;
    if (this.loading?.version !== version) {
      const promise = this.load(version);
      this.loading = { version, promise };
      promise.then(
        (t) => {
          this.table = t;
          if (this.loading?.promise === promise) this.loading = undefined;
        },
        () => {
          if (this.loading?.promise === promise) this.loading = undefined;
        },
      );
    }
    return this.loading!.promise;
  }

  private async load(version: string): Promise<Table> {
    let text: string;
    try {
      text = await Bun.file(this.path).text();
    } catch (e) {
      throw new PassDbUnavailable(`passwd-file ${this.path}: cannot read: ${errorCode(e)}`, { cause: e });
    }
    return this.parse(text, version);
  }

  private parse(text: string, version: string): Table {
    const users = new Map<string, StoredSecret>();
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.endsWith("\r") ? lines[i]!.slice(0, -1) : lines[i]!;
      if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
      const where = `${this.path}:${i + 1}`;
      const fields = line.split(":");
      const user = fields[0]!;
      if (fields.length < 2 || user === "") {
        this.options.warn?.(`${where}: expected user:{SCHEME}secret, line ignored`);
        continue;
      }
      if (users.has(user)) {
        this.options.warn?.(`${where}: user ${user} already defined above, line ignored`);
        continue;
      }
      const secret = parseStoredSecret(fields[1]!);
      if (!isSupportedSecret(secret)) {
        this.options.warn?.(`${where}: user ${user}: unsupported or malformed {${secret.scheme}} secret`);
      }
      users.set(user, secret);
    }
    return { version, users, decoy: pickDecoy(users.values()) };
  }
}
