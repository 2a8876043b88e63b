/**
 * Where a user's Maildir is: the `pop3_maildir_path` template (fs/path-template.ts), and Maildir++
 * folders for the `+folder` of popsubfolders (Cyrus's imapd.conf(5) popsubfolders).
 */
import { checkedUserPath, doesNotExist, expandPathTemplate } from "../fs/path-template.ts";

/** Maildir++ keeps a folder in `<maildir>/.<folder>`, with the hierarchy separator `/` written as `.`. */
function folderDirectory(root: string, folder: string): string {
  const segments = folder.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0"))) {
    throw doesNotExist(`refusing maildir folder ${JSON.stringify(folder)}`);
  }
  return `${root}/.${segments.join(".")}`;
}

/** The Maildir of `user` (already canonical), or of its `folder`. */
export function resolveMaildirPath(template: string, user: string, folder: string | undefined): string {
  const root = expandPathTemplate(template, user);
  return checkedUserPath(folder === undefined ? root : folderDirectory(root, folder), user);
}
