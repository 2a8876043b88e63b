/**
 * Path templates shared by the file stores (`pop3_maildir_path`, `pop3_mbox_path`): `%u` the
 * canonical user (with any @domain), `%d` its domain (empty without one), `%n` its local part,
 * `%%` a literal `%`.
 */
import { StoreError } from "../maildrop.ts";

const ESCAPES = new Set(["u", "d", "n", "%"]);

/** Checks a template at configuration time, so a typo is a startup error rather than a failed login. */
export function validatePathTemplate(template: string): void {
  if (!template.startsWith("/")) throw new Error(`mail path template must be absolute: ${JSON.stringify(template)}`);
  if (template.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new Error(`mail path template must not contain "." or ".." segments: ${JSON.stringify(template)}`);
  }
  for (let at = template.indexOf("%"); at >= 0; at = template.indexOf("%", at + 2)) {
    const escape = template[at + 1];
    if (escape === undefined || !ESCAPES.has(escape)) {
      throw new Error(`mail path template ${JSON.stringify(template)} has unknown escape "%${escape ?? ""}" (known: %u %d %n %%)`);
    }
  }
}

export function expandPathTemplate(template: string, user: string): string {
  const at = user.lastIndexOf("@");
  const local = at < 0 ? user : user.slice(0, at);
  const domain = at < 0 ? "" : user.slice(at + 1);
  return template.replace(/%([udn%])/g, (_, escape: string) =>
    escape === "u" ? user : escape === "d" ? domain : escape === "n" ? local : "%",
  );
}

export function doesNotExist(detail: string): StoreError {
  return new StoreError("temp", "Mailbox does not exist", detail);
}

/**
 * A path built for `user` that cannot climb out of its template: a user name alone cannot contain
 * `/`, but it can be `..`. A trailing `/` is dropped.
 */
export function checkedUserPath(path: string, user: string): string {
  if (path.split("/").some((segment) => segment === ".." || segment === ".") || path.includes("\0")) {
    throw doesNotExist(`refusing mail path ${JSON.stringify(path)} for user ${JSON.stringify(user)}`);
  }
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** The expanded template for `user` (already canonical), checked. */
export function resolveUserPath(template: string, user: string): string {
  return checkedUserPath(expandPathTemplate(template, user), user);
}
