/**
 * `pop3_maildir_path` templates: `%u` the canonical user (with any @domain), `%d` its domain (empty
 * without one), `%n` its local part, `%%` a literal `%`.
 */
import { StoreError } from "../maildrop.ts";

const ESCAPES = new Set(["u", "d", "n", "%"]);

/** Checks a template at configuration time, so a typo is a startup error rather than a failed login. */
export function validateMaildirTemplate(template: string): void {
  if (!template.startsWith("/")) throw new Error(`maildir path template must be absolute: ${JSON.stringify(template)}`);
  if (template.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new Error(`maildir path template must not contain "." or ".." segments: ${JSON.stringify(template)}`);
  }
  for (let at = template.indexOf("%"); at >= 0; at = template.indexOf("%", at + 2)) {
    const escape = template[at + 1];
    if (escape === undefined || !ESCAPES.has(escape)) {
      throw new Error(`maildir path template ${JSON.stringify(template)} has unknown escape "%${escape ?? ""}" (known: %u %d %n %%)`);
    }
  }
}

export function expandMaildirTemplate(template: string, user: string): string {
  const at = user.lastIndexOf("@");
  const local = at < 0 ? user : user.slice(0, at);
  const domain = at < 0 ? "" : user.slice(at + 1);
  return template.replace(/%([udn%])/g, (_, escape: string) =>
    escape === "u" ? user : escape === "d" ? domain : escape === "n" ? local : "%",
  );
}

function doesNotExist(detail: string): StoreError {
  return new StoreError("temp", "Mailbox does not exist", detail);
}

/**
 * Maildir++ keeps the `+folder` of popsubfolders (§5.10) in `<maildir>/.<folder>`, with the
 * hierarchy separator `/` written as `.`.
 */
function folderDirectory(root: string, folder: string): string {
  const segments = folder.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0"))) {
    throw doesNotExist(`refusing maildir folder ${JSON.stringify(folder)}`);
  }
  return `${root}/.${segments.join(".")}`;
}

/**
 * The Maildir of `user` (already canonical, §6.1). A user name alone cannot contain `/`, but it can
 * be `..`, so the expanded path is checked for segments that would climb out of the template.
 */
export function resolveMaildirPath(template: string, user: string, folder: string | undefined): string {
  const root = expandMaildirTemplate(template, user);
  const path = folder === undefined ? root : folderDirectory(root, folder);
  if (path.split("/").some((segment) => segment === ".." || segment === ".") || path.includes("\0")) {
    throw doesNotExist(`refusing maildir path ${JSON.stringify(path)} for user ${JSON.stringify(user)}`);
  }
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}
