/**
 * The default of `pop3_mailstore`: an imapd.conf that describes a Cyrus installation gets the
 * Cyrus store, so that dropping our binary in place of Cyrus's pop3d needs no new key. Anything
 * else keeps Maildir, which needs no Cyrus databases. An explicit `pop3_mailstore` always wins.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DefaultContext } from "./default-context.ts";

export const MAILSTORE_DEFAULT_RULE =
  "cyrus when imapd.conf describes a Cyrus installation (defaultpartition, a partition-* key, or an existing mailboxes.db), else maildir";

/** Why the file looks like a Cyrus installation ("partition-default", "/var/lib/cyrus/mailboxes.db exists"), or undefined. */
export function cyrusInstallationEvidence(ctx: DefaultContext): string | undefined {
  if (ctx.isSet("defaultpartition")) return "defaultpartition";
  for (const key of ctx.overflowKeys()) if (key.startsWith("partition-")) return key;
  const mailboxesDb = ctx.raw("mboxlist_db_path") ?? join(ctx.configDirectory, "mailboxes.db");
  if (existsSync(mailboxesDb)) return `${mailboxesDb} exists`;
  return undefined;
}

export function mailstoreDefault(ctx: DefaultContext): string {
  return cyrusInstallationEvidence(ctx) !== undefined ? "cyrus" : "maildir";
}

/** How the mail store was chosen, for the start-up log. */
export function describeStoreChoice(kind: string, origin: string | undefined, ctx: DefaultContext | undefined): string {
  if (origin) return `mail store ${kind} (pop3_mailstore at ${origin})`;
  const evidence = ctx ? cyrusInstallationEvidence(ctx) : undefined;
  return evidence
    ? `mail store ${kind} (default: imapd.conf describes a Cyrus installation: ${evidence})`
    : `mail store ${kind} (default: imapd.conf describes no Cyrus installation)`;
}
