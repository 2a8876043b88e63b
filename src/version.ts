/**
 * Our name and version as shown in the greeting and CAPA IMPLEMENTATION (same shape as Cyrus's),
 * and the build facts `--version` prints. The Makefile injects the BUILD_* constants with
 * `bun build --define`; run from source (tests, `bun run`) they fall back to package.json and the
 * running Bun.
 */
import packageJson from "../package.json" with { type: "json" };

declare const BUILD_VERSION: string | undefined;
declare const BUILD_BUN_VERSION: string | undefined;
declare const BUILD_COMMIT: string | undefined;

export const IMPLEMENTATION_NAME = "pop3d";
export const VERSION: string = typeof BUILD_VERSION === "string" ? BUILD_VERSION : packageJson.version;
export const IMPLEMENTATION = `${IMPLEMENTATION_NAME} ${VERSION}`;
/** The Bun release the binary was compiled with (a compiled binary embeds that runtime). */
export const BUN_VERSION: string = typeof BUILD_BUN_VERSION === "string" ? BUILD_BUN_VERSION : Bun.version;
/** `git describe`-style commit of the build, or "unknown" outside a git checkout. */
export const COMMIT: string = typeof BUILD_COMMIT === "string" && BUILD_COMMIT !== "" ? BUILD_COMMIT : "unknown";

/** What `pop3d --version` prints: the IMPLEMENTATION line first, then the build facts. */
export function versionText(): string {
  return `${IMPLEMENTATION}\nbuilt with Bun ${BUN_VERSION}\ncommit ${COMMIT}\n`;
}
