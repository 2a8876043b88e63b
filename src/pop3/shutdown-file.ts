/**
 * The shutdown file (pop3d.c:cmdloop, before every command): `<configdirectory>/msg/shutdown.<service>` or
 * `<configdirectory>/msg/shutdown` makes every session say `-ERR [SYS/TEMP] <first line>` and close.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { shutdownNotice, type PopError } from "./responses.ts";

export function shutdownFilePaths(configDirectory: string, service: string): string[] {
  return [join(configDirectory, "msg", `shutdown.${service}`), join(configDirectory, "msg", "shutdown")];
}

/** The notice to send, or undefined when no shutdown file exists. */
export function checkShutdownFiles(paths: readonly string[]): PopError | undefined {
  for (const path of paths) {
    // checked before every command: a cheap stat, not a failing open that throws
    if (!existsSync(path)) continue;
    let text: string;
    try {
      text = readFileSync(path, "latin1");
    } catch {
      continue;
    }
    return shutdownNotice(text.split(/\r?\n/, 1)[0] ?? "");
  }
  return undefined;
}
