/** Temp-dir imapd.conf files for config tests; each test file cleans up its own directory. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadConfig } from "../../../src/config/index.ts";
import { ConfigError } from "../../../src/config/config.ts";

export class ConfigFixture {
  readonly dir = mkdtempSync(join(tmpdir(), "pop3d-config-"));

  /** Writes `relative` under the temp dir and returns its absolute path. */
  write(relative: string, text: string): string {
    const path = join(this.dir, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  /** A config file that already has the mandatory configdirectory line. */
  conf(body: string, name = "imapd.conf"): string {
    return this.write(name, `configdirectory: /var/lib/imap\n${body}`);
  }

  load(body: string, service = "pop3") {
    return loadConfig(this.conf(body), service, {});
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `fn`, expecting a ConfigError, and returns it for closer checks. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, but loading succeeded");
}
